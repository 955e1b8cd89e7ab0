"""Software updates at the fleet: rollouts of releases to stations, phase by phase."""

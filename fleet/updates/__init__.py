"""Software updates on the fleet side: signing keys, the TUF repository, releases and deltas;
rollouts of releases to stations, phase by phase (docs/rollouts.md).

See docs/updates.md. The repository lives in files (``metadata/`` and ``targets/``), the signing
keys in another directory, never in the database.
"""

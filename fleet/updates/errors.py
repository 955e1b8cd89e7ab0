"""Errors of the update side of the fleet, each for a person to act on."""

from __future__ import annotations

from fleet.errors import FleetError


class UpdateError(FleetError):
    """A release, key or repository operation that cannot be done, and why."""

"""Errors of the fleet service; each message says what the admin can do."""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error the fleet service raises for a person to act on."""


class StationExistsError(FleetError):
    pass


class UnknownStationError(FleetError):
    pass


class ClaimRefusedError(FleetError):
    """A provisioning claim that cannot be honoured (bad, used or expired token, bad proof)."""


class BrokerAdminError(FleetError):
    """The broker's dynamic-security plugin refused or did not answer a change."""


class BrokerNotFoundError(FleetError):
    pass

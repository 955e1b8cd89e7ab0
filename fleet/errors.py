"""Errors of the fleet service; each message says what the admin can do."""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error the fleet service raises for a person to act on."""


class StationExistsError(FleetError):
    pass


class UnknownStationError(FleetError):
    pass


class StationOfflineError(FleetError):
    """What needs the station online now (personal data is not left queued at the broker)."""


class ClaimRefusedError(FleetError):
    """A provisioning claim that cannot be honoured (bad, used or expired token, bad proof)."""


class BrokerAdminError(FleetError):
    """The broker's dynamic-security plugin refused or did not answer a change."""


class BrokerNotFoundError(FleetError):
    pass


class AccessError(FleetError):
    """A user, session or token request that cannot be honoured."""


class UserExistsError(AccessError):
    pass


class UnknownUserError(AccessError):
    pass


class LastAdminError(AccessError):
    """The change would leave the fleet without an enabled admin."""


class RoleTooHighError(AccessError):
    """A token or user may not get more than its creator has."""


class TokenMintingError(AccessError):
    """An API token asked to create another token."""


class LoginRefusedError(AccessError):
    """Wrong username or password (the message never says which)."""


class LockedOutError(AccessError):
    """Too many failed logins: try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RegistryError(FleetError):
    """A station registry change that is not valid (unknown province, bad tag, ...)."""


class RotationError(FleetError):
    """A key or credential rotation that cannot start or finish."""

"""Errors of the fleet service; each message says what the admin can do.

Every error a person can act on is one of a few kinds, and the kind decides what the API
answers and which page the dashboard shows, in one place (``fleet/api/error_handler.py``):

=====================  ======  ===============================================================
kind                   status  for
=====================  ======  ===============================================================
``BadRequestError``    400     values that cannot be read (a time that is no time)
``LoginError``         401     wrong username or password
``ForbiddenError``     403     not for this caller, whatever it sends
``NotFoundError``      404     what was asked for does not exist
``ConflictError``      409     clashes with the current state (exists already, offline, ...)
``InvalidError``       422     values that do not validate
``TooManyError``       429     too many attempts: try again after ``retry_after`` seconds
``UnavailableError``   502     a service the fleet relies on refused or did not answer
=====================  ======  ===============================================================

A specific error names its kind first among its bases (``class UserExistsError(ConflictError,
AccessError)``), so that the first kind in its method resolution order is the one that counts.
"""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error the fleet service raises for a person to act on."""


# -- kinds -------------------------------------------------------------------------------------


class BadRequestError(FleetError):
    """Values that cannot be read at all (400)."""


class LoginError(FleetError):
    """Who is asking cannot be established (401)."""


class ForbiddenError(FleetError):
    """Not for this caller (403)."""


class NotFoundError(FleetError):
    """What was asked for does not exist (404)."""


class ConflictError(FleetError):
    """The request clashes with the current state (409)."""


class InvalidError(FleetError):
    """Values that do not validate (422)."""


class TooManyError(FleetError):
    """Too many attempts (429): try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnavailableError(FleetError):
    """A service the fleet relies on (the broker) refused or did not answer (502)."""


# -- stations ----------------------------------------------------------------------------------


class StationExistsError(ConflictError):
    pass


class UnknownStationError(NotFoundError):
    pass


class StationOfflineError(ConflictError):
    """What needs the station online now (personal data is not left queued at the broker)."""


class ClaimRefusedError(ForbiddenError):
    """A provisioning claim that cannot be honoured (bad, used or expired token, bad proof)."""


class BrokerAdminError(UnavailableError):
    """The broker's dynamic-security plugin refused or did not answer a change."""


class BrokerNotFoundError(FleetError):
    pass


class RegistryError(InvalidError):
    """A station registry change that is not valid (unknown province, bad tag, ...)."""


class RotationError(ConflictError):
    """A key or credential rotation that cannot start or finish."""


# -- users, sessions, tokens -------------------------------------------------------------------


class AccessError(InvalidError):
    """A user, session or token request that cannot be honoured."""


class UserExistsError(ConflictError, AccessError):
    pass


class UnknownUserError(NotFoundError, AccessError):
    pass


class LastAdminError(ConflictError, AccessError):
    """The change would leave the fleet without an enabled admin."""


class RoleTooHighError(ForbiddenError, AccessError):
    """A token or user may not get more than its creator has."""


class TokenMintingError(ForbiddenError, AccessError):
    """An API token asked to create another token."""


class LoginRefusedError(LoginError, AccessError):
    """Wrong username or password (the message never says which)."""


class LockedOutError(TooManyError, AccessError):
    """Too many failed logins: try again after ``retry_after`` seconds."""

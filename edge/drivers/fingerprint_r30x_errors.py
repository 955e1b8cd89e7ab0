"""The R30x fingerprint module's confirmation codes as one table, and its one error type.

Every non-zero confirmation code of the R30x datasheet (0x01..0x1F) and of the R503
additions is a row of :data:`R30X_ERRORS` (``edge.drivers.device_errors``), kept as data in
``fingerprint_r30x_codes.toml`` beside this module: what it means, what
the operator does about it, and whether another press by the applicant is the remedy
(``retryable``). Failures of the line itself have ewp's own codes, below zero: no answer in
time, a cable pulled, a damaged packet, an answer that is not what the exchange expects.

Every error the driver raises is a :class:`FingerprintError` carrying its code. Three
subclasses exist because callers catch them by type: :class:`RetryCaptureError` (every
retryable code: ask for another press), :class:`NoMatchError` (0x08) and
:class:`NotFoundError` (0x09). :func:`fingerprint_error` picks the right one for a code.
"""

from __future__ import annotations

from importlib.resources import files

from edge.drivers.device_errors import DeviceError, ErrorTable

__all__ = [
    "R30X_ERRORS",
    "FingerprintError",
    "NoMatchError",
    "NotFoundError",
    "RetryCaptureError",
    "fingerprint_error",
]

R30X_ERRORS = ErrorTable.from_toml(files("edge.drivers") / "fingerprint_r30x_codes.toml")

# Codes the driver branches on.
NO_FINGER = R30X_ERRORS.by_name("NO_FINGER").code
NO_MATCH = R30X_ERRORS.by_name("NO_MATCH").code
NOT_FOUND = R30X_ERRORS.by_name("NOT_FOUND").code
PASSWORD_REQUIRED = R30X_ERRORS.by_name("PASSWORD_REQUIRED").code
NOT_ANSWERING = R30X_ERRORS.by_name("EWP_NOT_ANSWERING").code
DISCONNECTED = R30X_ERRORS.by_name("EWP_DISCONNECTED").code
DAMAGED_PACKET = R30X_ERRORS.by_name("EWP_DAMAGED_PACKET").code
UNEXPECTED_ANSWER = R30X_ERRORS.by_name("EWP_UNEXPECTED_ANSWER").code
FINGER_NOT_LIFTED = R30X_ERRORS.by_name("EWP_FINGER_NOT_LIFTED").code
CANNOT_OPEN = R30X_ERRORS.by_name("EWP_CANNOT_OPEN").code


class FingerprintError(DeviceError):
    """Every error of the fingerprint driver: ``code`` is the module's confirmation code, or
    ewp's own (below zero) for a failure of the line."""

    table = R30X_ERRORS


class RetryCaptureError(FingerprintError):
    """A retryable code: the press could not be used, asking for another press is the remedy."""


class NoMatchError(FingerprintError):
    """0x08: the two fingerprints in the character buffers do not match."""


class NotFoundError(FingerprintError):
    """0x09: no matching fingerprint in the sensor's library."""


_CAUGHT_BY_TYPE: dict[int, type[FingerprintError]] = {
    NO_MATCH: NoMatchError,
    NOT_FOUND: NotFoundError,
}


def fingerprint_error(code: int, *, call: str = "", detail: str = "") -> FingerprintError:
    """The error for ``code``, as the subclass its callers catch it by."""
    kind = _CAUGHT_BY_TYPE.get(code)
    if kind is None:
        kind = RetryCaptureError if R30X_ERRORS[code].retryable else FingerprintError
    return kind(code, call=call, detail=detail)

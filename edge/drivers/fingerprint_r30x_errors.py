"""The R30x fingerprint module's confirmation codes as one table, and its one error type.

Every non-zero confirmation code of the R30x datasheet (0x01..0x1F) and of the R503
additions is a row of :data:`R30X_ERRORS` (``edge.drivers.device_errors``): what it means, what
the operator does about it, and whether another press by the applicant is the remedy
(``retryable``). Failures of the line itself have ewp's own codes, below zero: no answer in
time, a cable pulled, a damaged packet, an answer that is not what the exchange expects.

Every error the driver raises is a :class:`FingerprintError` carrying its code. Three
subclasses exist because callers catch them by type: :class:`RetryCaptureError` (every
retryable code: ask for another press), :class:`NoMatchError` (0x08) and
:class:`NotFoundError` (0x09). :func:`fingerprint_error` picks the right one for a code.
"""

from __future__ import annotations

from edge.drivers.device_errors import DeviceError, ErrorCode, ErrorTable

__all__ = [
    "R30X_ERRORS",
    "FingerprintError",
    "NoMatchError",
    "NotFoundError",
    "RetryCaptureError",
    "fingerprint_error",
]

# Codes the driver branches on.
NO_FINGER = 0x02
NO_MATCH = 0x08
NOT_FOUND = 0x09
PASSWORD_REQUIRED = 0x21
# ewp's own codes (negative: the module's are 1 and up), for failures of the line.
NOT_ANSWERING = -1
DISCONNECTED = -2
DAMAGED_PACKET = -3
UNEXPECTED_ANSWER = -4
FINGER_NOT_LIFTED = -5
CANNOT_OPEN = -6

_POWER_CYCLE = "power-cycle it and try again"
_PRESS_AGAIN = "ask the applicant to press the finger again"


def _row(code: int, name: str, message: str, advice: str, retryable: bool = False) -> ErrorCode:
    return ErrorCode(code, name, message, advice, retryable=retryable)


R30X_ERRORS = ErrorTable(
    "fingerprint sensor",
    [
        _row(0x01, "PACKET_RECEIVE", "the sensor received a damaged packet",
             "check the cable and that the baud rate matches"),
        _row(NO_FINGER, "NO_FINGER", "no finger on the sensor",
             "ask the applicant to press the finger flat on the glass", True),
        _row(0x03, "IMAGE_CAPTURE", "the sensor could not take the image",
             "clean the glass and ask the applicant to press again", True),
        _row(0x04, "IMAGE_TOO_DRY", "the fingerprint is too dry or too faint",
             "ask the applicant to breathe on the finger and press a little harder", True),
        _row(0x05, "IMAGE_TOO_WET", "the fingerprint is too wet or smeared",
             "ask the applicant to dry the finger, clean the glass and press again", True),
        _row(0x06, "IMAGE_TOO_MESSY", "the fingerprint image is too messy",
             "clean the glass, ask the applicant to press the finger flat without moving it",
             True),
        _row(0x07, "TOO_FEW_FEATURES", "too few fingerprint features",
             "ask the applicant to press the centre of the fingertip firmly on the middle of "
             "the glass", True),
        _row(NO_MATCH, "NO_MATCH", "the two fingerprints do not match",
             "check that the applicant used the same finger"),
        _row(NOT_FOUND, "NOT_FOUND", "the finger is not in the sensor's library",
             "check that the applicant used the enrolled finger, or enrol it first"),
        _row(0x0A, "ENROLL_MISMATCH", "the presses do not come from the same finger",
             "start the enrolment of this finger again"),
        _row(0x0B, "PAGE_OUT_OF_RANGE", "the page id is beyond the sensor's template library",
             "use a page below the library size (`ewp sensor fingerprint info` shows it)"),
        _row(0x0C, "TEMPLATE_READ", "no valid template at that page of the sensor's library",
             "enrol the finger first"),
        _row(0x0D, "TEMPLATE_UPLOAD", "the sensor could not send the template",
             "capture and convert the finger again"),
        _row(0x0E, "DATA_RECEIVE", "the sensor could not receive the data packets",
             "check the cable and the packet size"),
        _row(0x0F, "IMAGE_UPLOAD", "the sensor has no image to send", "capture an image first"),
        _row(0x10, "DELETE", "the sensor could not delete the templates",
             "check the page range against the library size"),
        _row(0x11, "CLEAR_LIBRARY", "the sensor could not clear its template library",
             _POWER_CYCLE),
        _row(0x12, "LOW_POWER", "the sensor could not enter low-power mode", _POWER_CYCLE),
        _row(0x13, "WRONG_PASSWORD", "the sensor refused the password",
             "set the station's sensor password to the module's"),
        _row(0x14, "RESET", "the sensor could not reset", "power-cycle it"),
        _row(0x15, "NO_IMAGE", "no valid image in the sensor's buffer",
             "capture the finger again"),
        _row(0x16, "UPGRADE", "the sensor's online upgrade failed", _POWER_CYCLE),
        _row(0x17, "FINGER_NOT_MOVED",
             "the finger did not move between two captures (or a residual print is on the "
             "glass)", "ask the applicant to lift the finger, clean the glass, and press again",
             True),
        _row(0x18, "FLASH", "the sensor failed to write its flash memory",
             "try again; if it persists replace the sensor"),
        _row(0x19, "UNDEFINED", "the sensor reported an undefined error", _POWER_CYCLE),
        _row(0x1A, "INVALID_REGISTER", "the sensor has no such system parameter register",
             "use register 4 (baud rate), 5 (security level) or 6 (packet size)"),
        _row(0x1B, "REGISTER_VALUE", "the sensor refused the value for that system parameter",
             "check its allowed range"),
        _row(0x1C, "NOTEPAD_PAGE", "wrong notepad page number", "use a page 0..15"),
        _row(0x1D, "PORT_OPERATION", "the sensor failed to operate its communication port",
             _POWER_CYCLE),
        _row(0x1E, "AUTO_ENROLL", "the sensor's automatic enrolment failed",
             "enrol the finger again"),
        _row(0x1F, "LIBRARY_FULL", "the sensor's template library is full",
             "delete templates that are no longer needed"),
        _row(0x20, "ADDRESS", "the sensor's address does not match",
             "set the station's sensor address to the module's"),
        _row(PASSWORD_REQUIRED, "PASSWORD_REQUIRED", "the sensor wants its password verified "
             "first", "configure the sensor password on the station"),
        _row(0x22, "TEMPLATE_EMPTY", "the template buffer is empty",
             "capture the finger and convert it (Img2Tz) first"),
        _row(0x24, "LIBRARY_EMPTY", "the sensor's template library is empty",
             "enrol a finger first"),
        _row(0x26, "OPERATION_TIMEOUT", "the sensor timed out waiting for a finger",
             _PRESS_AGAIN, True),
        _row(0x27, "ALREADY_ENROLLED", "this fingerprint is already in the sensor's library",
             "look the applicant up instead of enrolling again"),
        _row(0x29, "SENSOR_HARDWARE", "the sensor's fingerprint reader is faulty",
             "replace the sensor"),
        _row(0xFC, "UNSUPPORTED_COMMAND", "this sensor model does not support the command",
             "check the module's model (`ewp sensor fingerprint info`)"),
        _row(0xFD, "HARDWARE", "the sensor reported a hardware error",
             "power-cycle it; if it persists replace it"),
        _row(0xFE, "COMMAND_FAILED", "the sensor could not execute the command",
             "check its parameters"),
        _row(NOT_ANSWERING, "EWP_NOT_ANSWERING", "not answering",
             "check the cable, or run `ewp sensor fingerprint info --port PORT`"),
        ErrorCode(DISCONNECTED, "EWP_DISCONNECTED", "disconnected",
                  "check that it is plugged in; a USB adapter may come back under a new name "
                  "(`ls /dev/serial/by-id/`)", device_lost=True),
        _row(DAMAGED_PACKET, "EWP_DAMAGED_PACKET", "damaged packet from the sensor",
             "check the cable and the baud rate"),
        _row(UNEXPECTED_ANSWER, "EWP_UNEXPECTED_ANSWER",
             "the sensor's answer is not what the command expects",
             "check that the module is an R30x-family sensor; power-cycle it and try again"),
        _row(FINGER_NOT_LIFTED, "EWP_FINGER_NOT_LIFTED", "the finger is still on the sensor",
             "ask the applicant to lift the finger", True),
        ErrorCode(CANNOT_OPEN, "EWP_CANNOT_OPEN", "cannot open the sensor's port",
                  "check the port name (`ls /dev/serial/by-id/`) or the simulator's URL",
                  device_lost=True),
    ],
    unknown_advice=_POWER_CYCLE,
)  # fmt: skip


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

"""The iris camera's result codes as one table, and the driver's one error type for them.

Every non-zero result code of the ewp iris protocol (``docs/iris-protocol.md``) is a row of
:data:`IRIS_ERRORS` (``edge.drivers.device_errors``), kept as data in
``iris_camera_codes.toml`` beside this module: what it means, what the operator does about
it, and whether capturing again with the applicant is the remedy (``retryable``).
Failures of the line around the camera have ewp's own codes, below zero: no answer in time,
the port gone, a port that cannot be opened, a capture that gave no result in time.

The driver raises them as :class:`IrisResultError` (an :class:`IrisCameraError`, the base the
frame codec's errors share) carrying the code; the retryable ones as its one subclass
:class:`IrisRetryCaptureError`, which the capture workflow catches. :func:`iris_error` picks
the type for a code.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from edge.drivers.device_errors import CodedError, ErrorTable
from edge.drivers.iris_frames import IrisCameraError

if TYPE_CHECKING:
    from edge.drivers.iris_frames import CaptureStatus

__all__ = ["IRIS_ERRORS", "IrisResultError", "IrisRetryCaptureError", "iris_error"]

IRIS_ERRORS = ErrorTable.from_toml(files("edge.drivers") / "iris_camera_codes.toml")

# ewp's own codes (the camera's are ``ResultCode``), for failures around the camera.
NOT_ANSWERING = IRIS_ERRORS.by_name("EWP_NOT_ANSWERING").code
DISCONNECTED = IRIS_ERRORS.by_name("EWP_DISCONNECTED").code
CANNOT_OPEN = IRIS_ERRORS.by_name("EWP_CANNOT_OPEN").code
CAPTURE_TIMED_OUT = IRIS_ERRORS.by_name("EWP_CAPTURE_TIMED_OUT").code


class IrisResultError(CodedError, IrisCameraError):
    """The camera's result code (or ewp's own, below zero), with its row of :data:`IRIS_ERRORS`.

    ``status`` is the capture status the code came with, when it ended a capture.
    """

    code: int

    def __init__(self, code: int, *, call: str = "", detail: str = "") -> None:
        super().__init__(IRIS_ERRORS.describe(code, call=call, detail=detail), code=code)
        self.row = IRIS_ERRORS[code]
        self.status: CaptureStatus | None = None


class IrisRetryCaptureError(IrisResultError):
    """A retryable code: capturing again with the applicant is the remedy."""


def iris_error(code: int, *, call: str = "", detail: str = "") -> IrisResultError:
    """The error for ``code``, as the type its callers catch it by."""
    kind = IrisRetryCaptureError if IRIS_ERRORS[code].retryable else IrisResultError
    return kind(code, call=call, detail=detail)

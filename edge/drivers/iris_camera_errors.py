"""The iris camera's result codes as one table, and the driver's one error type for them.

Every non-zero result code of the ewp iris protocol (``docs/iris-protocol.md``) is a row of
:data:`IRIS_ERRORS` (``edge.drivers.device_errors``): what it means, what the operator does
about it, and whether capturing again with the applicant is the remedy (``retryable``).
Failures of the line around the camera have ewp's own codes, below zero: no answer in time,
the port gone, a port that cannot be opened, a capture that gave no result in time.

The driver raises them as :class:`IrisResultError` (an :class:`IrisCameraError`, the base the
frame codec's errors share) carrying the code; the retryable ones as its one subclass
:class:`IrisRetryCaptureError`, which the capture workflow catches. :func:`iris_error` picks
the type for a code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.drivers.device_errors import CodedError, ErrorCode, ErrorTable
from edge.drivers.iris_frames import IrisCameraError, ResultCode

if TYPE_CHECKING:
    from edge.drivers.iris_frames import CaptureStatus

__all__ = ["IRIS_ERRORS", "IrisResultError", "IrisRetryCaptureError", "iris_error"]

# ewp's own codes (negative: the camera's are 1 and up), for failures around the camera.
NOT_ANSWERING = -1
DISCONNECTED = -2
CANNOT_OPEN = -3
CAPTURE_TIMED_OUT = -4

_LOOK_AGAIN = "remove glasses, and capture again"
_REPLUG = "unplug it, plug it in again and retry"

IRIS_ERRORS = ErrorTable(
    "iris camera",
    [
        ErrorCode(ResultCode.BAD_FRAME, "BAD_FRAME", "the camera received a damaged command",
                  "check the USB cable (no long extension cables or unpowered hubs) and try "
                  "again"),
        ErrorCode(ResultCode.UNKNOWN_COMMAND, "UNKNOWN_COMMAND",
                  "the camera does not know this command",
                  "check that its firmware speaks protocol version 1 (`ewp sensor iris info`)"),
        ErrorCode(ResultCode.INVALID_PARAMETER, "INVALID_PARAMETER",
                  "the camera refused a parameter of the command",
                  "check the eye, mode, format and timeout asked for"),
        ErrorCode(ResultCode.NOT_INITIALISED, "NOT_INITIALISED", "the camera is not initialised",
                  "initialise it first (`ewp sensor iris info`)"),
        ErrorCode(ResultCode.DEVICE_BUSY, "DEVICE_BUSY", "the camera is busy with a capture",
                  "wait for it to finish, or stop it"),
        ErrorCode(ResultCode.INVALID_STATE, "INVALID_STATE",
                  "the camera is not waiting for the operator's trigger",
                  "start an operator-initiated capture first"),
        ErrorCode(ResultCode.NO_FRAME_AVAILABLE, "NO_FRAME_AVAILABLE", "no eye found",
                  "ask the applicant to look straight into the camera at the distance the guide "
                  "light shows, with both eyes open, and capture again", retryable=True),
        ErrorCode(ResultCode.NO_QUALIFIED_FRAME, "NO_QUALIFIED_FRAME", "no qualified frame",
                  "ask the applicant to look at the green light, keep eyes wide open, "
                  + _LOOK_AGAIN, retryable=True),
        ErrorCode(ResultCode.LEFT_FRAME_UNQUALIFIED, "LEFT_FRAME_UNQUALIFIED",
                  "the left eye's image is not good enough",
                  "ask the applicant to open the left eye wide, look at the green light, "
                  "remove glasses, and capture the left eye again", retryable=True),
        ErrorCode(ResultCode.RIGHT_FRAME_UNQUALIFIED, "RIGHT_FRAME_UNQUALIFIED",
                  "the right eye's image is not good enough",
                  "ask the applicant to open the right eye wide, look at the green light, "
                  "remove glasses, and capture the right eye again", retryable=True),
        ErrorCode(ResultCode.CAPTURE_ABORTED, "CAPTURE_ABORTED",
                  "the capture was stopped before it finished", "start it again"),
        ErrorCode(ResultCode.SENSOR_FAULT, "SENSOR_FAULT", "the camera reported a sensor fault",
                  "unplug it and plug it in again; if it persists, replace the camera"),
        ErrorCode(NOT_ANSWERING, "EWP_NOT_ANSWERING", "not answering",
                  "check the USB cable, or run `ewp sensor iris info --port PORT`"),
        ErrorCode(DISCONNECTED, "EWP_DISCONNECTED", "disconnected",
                  "check that it is plugged in; it may come back under a new name "
                  "(`ewp sensor iris list`, `ls /dev/serial/by-id/`)", device_lost=True),
        ErrorCode(CANNOT_OPEN, "EWP_CANNOT_OPEN", "cannot open the camera's port",
                  "check the port name (`ewp sensor iris list`, `ls /dev/serial/by-id/`) or "
                  "the simulator's URL", device_lost=True),
        ErrorCode(CAPTURE_TIMED_OUT, "EWP_CAPTURE_TIMED_OUT",
                  "no capture result in time; the capture was stopped",
                  "ask the applicant to look into the camera and capture again", retryable=True),
    ],
    unknown_advice=_REPLUG,
)  # fmt: skip


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

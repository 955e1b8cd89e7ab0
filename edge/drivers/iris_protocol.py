"""The vocabulary of the ewp iris camera protocol (docs/iris-protocol.md): its numbers, its
enumerations and the errors the iris camera driver raises.

The frame codec and the record codecs are in ``iris_frames``; the driver in ``iris_camera``.
"""

from __future__ import annotations

import enum

MAX_BLOCK = 4096  # the largest image block a camera sends
PROTOCOL_VERSION = 1

IMAGE_WIDTH = 640
IMAGE_HEIGHT = 480

RESPONSE_BIT = 0x80
MAX_COMMAND = 0x5F  # commands 0x00..0x5F: their responses (0x80..0xDF) never look like
STATUS_EVENT = 0xE0  # a status event
NAK = 0xFF  # or a NAK


# --- errors -------------------------------------------------------------------------------


class IrisCameraError(Exception):
    """Base of every error the iris camera driver raises.

    ``code`` is the camera's result code when the camera itself reported the problem, ``None``
    for problems on the line (timeouts, a pulled cable, damaged frames).
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class IrisTransportError(IrisCameraError):
    """The line to the camera failed: nothing or something unreadable came back."""


class IrisFrameError(IrisTransportError):
    """A frame arrived that is well formed but not what the exchange expects."""


class IrisCrcError(IrisTransportError):
    """A frame arrived whose CRC does not match its content.

    ``frame_code`` and ``frame_seq`` are what the damaged frame's header said: unverified,
    but right in the common case of a damaged payload.
    """

    def __init__(self, message: str, *, frame_code: int, frame_seq: int) -> None:
        super().__init__(message)
        self.frame_code = frame_code
        self.frame_seq = frame_seq


class IrisImageError(IrisFrameError):
    """The image the camera sent cannot be decoded."""


# --- protocol constants -------------------------------------------------------------------


class Command(enum.IntEnum):
    INIT = 0x01
    GET_INFO = 0x02
    START_CAPTURE = 0x03
    GET_STATUS = 0x04
    TRIGGER = 0x05
    STOP_CAPTURE = 0x06
    GET_RESULT_QUALITY = 0x07
    GET_RESULT_IMAGE = 0x08
    CLEAR = 0x09


class ResultCode(enum.IntEnum):
    OK = 0x00
    BAD_FRAME = 0x01
    UNKNOWN_COMMAND = 0x02
    INVALID_PARAMETER = 0x03
    NOT_INITIALISED = 0x04
    DEVICE_BUSY = 0x05
    INVALID_STATE = 0x06
    NO_FRAME_AVAILABLE = 0x10
    NO_QUALIFIED_FRAME = 0x11
    LEFT_FRAME_UNQUALIFIED = 0x12
    RIGHT_FRAME_UNQUALIFIED = 0x13
    CAPTURE_ABORTED = 0x14
    SENSOR_FAULT = 0x20


class CaptureState(enum.IntEnum):
    IDLE = 0
    READY = 1
    CAPTURING = 2
    COMPLETE = 3
    ABORT = 4


class Eye(enum.Enum):
    """Which eye; on the wire a bit mask (1 left, 2 right, 3 both)."""

    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"

    @property
    def mask(self) -> int:
        return _EYE_MASKS[self]

    @classmethod
    def parse(cls, value: Eye | str) -> Eye:
        if isinstance(value, Eye):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(f"eye must be left, right or both, got {value!r}") from None

    @classmethod
    def from_mask(cls, mask: int) -> Eye:
        for eye, bits in _EYE_MASKS.items():
            if bits == mask:
                return eye
        raise IrisFrameError(f"the camera sent an unknown eye code {mask}")

    def single_eyes(self) -> tuple[Eye, ...]:
        """LEFT and/or RIGHT: the eyes this value stands for."""
        return tuple(eye for eye in (Eye.LEFT, Eye.RIGHT) if self.mask & eye.mask)


_EYE_MASKS = {Eye.LEFT: 1, Eye.RIGHT: 2, Eye.BOTH: 3}


def eyes_in_mask(mask: int) -> tuple[Eye, ...]:
    """The single eyes a bit mask names (unknown bits ignored)."""
    return tuple(eye for eye in (Eye.LEFT, Eye.RIGHT) if mask & eye.mask)


class CaptureMode(enum.IntEnum):
    TIME_BASED = 0
    FRAME_BASED = 1


class QualityMode(enum.IntEnum):
    NORMAL = 0
    HIGH = 1
    VERY_HIGH = 2


# The total score a frame needs to qualify, per quality mode.
QUALITY_THRESHOLDS = {QualityMode.NORMAL: 40, QualityMode.HIGH: 60, QualityMode.VERY_HIGH: 75}


class Operation(enum.IntEnum):
    AUTO = 0
    OPERATOR = 1


class ImageFormat(enum.IntEnum):
    RAW = 0
    PNG = 1


START_FLAG_PUSH_STATUS = 0x01
IMAGE_FLAG_UNQUALIFIED = 0x01
STATUS_FLAG_INITIALISED = 0x01
STATUS_FLAG_PUSH = 0x02
STATUS_FLAG_AWAITING_TRIGGER = 0x04

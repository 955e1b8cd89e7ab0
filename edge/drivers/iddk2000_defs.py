"""IDDK 2000's types as ctypes declarations, and its result codes as one error table.

Names, values and layouts are those of the vendor's public headers (``IddkBase.h``,
``Iddk2000Defs.h``; the 2000-series SDK whose ``Iddk_GetResultImage`` takes six arguments),
restated here as facts. Enums are C ``enum``s, passed as ``int``. The struct-size test
compares every ``ctypes.sizeof`` here with the C ``sizeof`` of the fake library built from the
same declarations, so a layout slip cannot hide.

``IDDK_ERRORS`` maps every ``IddkResult`` the station can meet to what it means and what the
operator does about it (``edge.drivers.device_errors``); codes below zero are ewp's own, for
failures that happen around the library rather than in it (not loadable, a call that did not
return in time).
"""

from __future__ import annotations

import ctypes
import enum

from edge.drivers.device_errors import DeviceError, ErrorCode, ErrorTable

HIRICAMM = ctypes.c_void_p


class CaptureStatus(enum.IntEnum):
    IDLE = 0x00
    READY = 0x01
    CAPTURING = 0x02
    COMPLETE = 0x03
    ABORT = 0x05


class CaptureMode(enum.IntEnum):
    TIMEBASED = 0x01
    FRAMEBASED = 0x02


class OperationMode(enum.IntEnum):
    AUTO_CAPTURE = 0x01
    OPERATOR_INITIATED_AUTO_CAPTURE = 0x02


class QualityMode(enum.IntEnum):
    NORMAL = 0x01
    HIGH = 0x02
    VERY_HIGH = 0x03


class EyeSubtype(enum.IntEnum):
    UNKNOWN = 0x0
    RIGHT = 0x1
    LEFT = 0x2
    BOTH = 0x3


class IsoRevision(enum.IntEnum):
    UNKNOWN = 0x00
    ISO_2005 = 0x01
    ISO_2011 = 0x02


class ImageKind(enum.IntEnum):
    UNKNOWN = 0x00
    K1 = 0x01  # the original image
    K2 = 0x02  # VGA
    K3 = 0x03  # cropped
    K7 = 0x07  # cropped and masked


class ImageFormat(enum.IntEnum):
    MONO_RAW = 0x02
    MONO_JPEG = 0x06
    MONO_JPEG2000 = 0x0A
    MONO_PNG = 0x0E
    IRITECH_RAW = 0x82
    IRITECH_JPEG2000 = 0x8A


class LedId(enum.IntEnum):
    GREEN = 0x03
    RED = 0x04
    ORANGE = 0x06
    BLUE = 0x0A


class IddkConfig(ctypes.Structure):
    _fields_ = [
        ("commStd", ctypes.c_int),
        ("enableLog", ctypes.c_ubyte),
        ("uartBaudrate", ctypes.c_uint),
        ("uartFlowcontrol", ctypes.c_int),
        ("resetOnOpenDevice", ctypes.c_ubyte),
    ]


class IddkDataBuffer(ctypes.Structure):
    _fields_ = [("dataSize", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_ubyte))]


class IddkImage(ctypes.Structure):
    _fields_ = [
        ("imageKind", ctypes.c_ubyte),
        ("imageFormat", ctypes.c_ubyte),
        ("imageWidth", ctypes.c_int),
        ("imageHeight", ctypes.c_int),
        ("imageData", ctypes.POINTER(ctypes.c_ubyte)),
        ("imageDataLen", ctypes.c_int),
    ]


class IddkIrisQuality(ctypes.Structure):
    _fields_ = [("totalScore", ctypes.c_ubyte), ("usableArea", ctypes.c_ubyte)]


class IddkDeviceInfo(ctypes.Structure):
    _fields_ = [
        ("productName", ctypes.c_char * 64),
        ("isBinocular", ctypes.c_ubyte),
        ("serialNumber", ctypes.c_char * 17),
        ("propertyFlag", ctypes.c_uint),
        ("kernelVersion", ctypes.c_uint),
        ("kernelRevision", ctypes.c_uint),
        ("deviceFeatures", ctypes.c_uint),
    ]


STRUCTS: dict[str, type[ctypes.Structure]] = {
    cls.__name__: cls
    for cls in (IddkConfig, IddkDataBuffer, IddkImage, IddkIrisQuality, IddkDeviceInfo)
}

IDDKCAPTUREPROC = ctypes.CFUNCTYPE(
    None,
    ctypes.c_void_p,
    ctypes.POINTER(IddkImage),
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_int),
    ctypes.POINTER(ctypes.c_int),
)

# ewp's own codes (negative: the vendor's are 0 and up).
LIBRARY_NOT_LOADED = -1
CALL_TIMED_OUT = -2
LIBRARY_WEDGED = -3
CAPTURE_ABORTED = -4
CAPTURE_TIMED_OUT = -5

_CHECK_USB = "check the camera's USB cable and run `ewp sensor iris info --backend iddk`"
_LOOK_AGAIN = "ask the applicant to look at the camera again, eyes wide open"

IDDK_ERRORS = ErrorTable(
    "iris camera (IDDK)",
    [
        ErrorCode(1, "IDDK_FAILED", "the camera reported a failure", _CHECK_USB, retryable=True),
        ErrorCode(
            2,
            "IDDK_DEVICE_NOT_FOUND",
            "no iris camera found",
            "plug the camera in (a USB 2.0 port, not a hub without power), then check "
            "`lsusb` and the udev rule of docs/devices/iris-irishield-iddk.md",
            device_lost=True,
        ),
        ErrorCode(
            3,
            "IDDK_DEVICE_OPEN_FAILED",
            "the camera was found but could not be opened",
            "check the udev rule gives the station's user access (docs/devices/"
            "iris-irishield-iddk.md), then unplug and re-plug the camera",
            device_lost=True,
        ),
        ErrorCode(
            4, "IDDK_DEVICE_NOT_OPEN", "the camera is not open", _CHECK_USB, device_lost=True
        ),
        ErrorCode(
            5,
            "IDDK_DEVICE_ALREADY_OPEN",
            "the camera is already open in another program",
            "close the other program using the camera (`ewp sensor iris`, the vendor's demo)",
        ),
        ErrorCode(
            6,
            "IDDK_DEVICE_ACCESS_DENIED",
            "no permission to use the camera",
            "install the udev rule of docs/devices/iris-irishield-iddk.md, then re-plug it",
        ),
        ErrorCode(
            7, "IDDK_TOO_MANY_OPEN_DEVICES", "too many cameras open", "close the other programs"
        ),
        ErrorCode(
            8,
            "IDDK_DEVICE_IO_FAILED",
            "the camera stopped answering (unplugged?)",
            "check the USB cable is in; the station looks for the camera again",
            device_lost=True,
        ),
        ErrorCode(
            9,
            "IDDK_DEVICE_IO_TIMEOUT",
            "the camera did not answer in time",
            "check the USB cable; if it repeats, unplug the camera for five seconds",
            device_lost=True,
        ),
        ErrorCode(
            10,
            "IDDK_DEVICE_IO_DATA_INVALID",
            "the camera sent damaged data",
            "try again; if it repeats, change the USB cable or port",
            retryable=True,
        ),
        ErrorCode(
            11,
            "IDDK_UNSUPPORTED_IMAGE_FORMAT",
            "the camera does not offer that image format",
            "report it: the station asked for a format this camera lacks",
        ),
        ErrorCode(12, "IDDK_MEMORY_ALLOCATION_FAILED", "out of memory", "restart the station"),
        ErrorCode(13, "IDDK_INVALID_MEMORY", "invalid memory", "restart the station"),
        ErrorCode(
            14,
            "IDDK_INVALID_HANDLE",
            "the camera handle is no longer valid",
            "the station opens the camera again",
            device_lost=True,
        ),
        ErrorCode(15, "IDDK_INVALID_PARAMETER", "a parameter was refused", "report it"),
        ErrorCode(16, "IDDK_AUTHEN_FAILED", "the camera refused authentication", "report it"),
        ErrorCode(17, "IDDK_NOT_ENOUGH_BUFFER", "a buffer was too small", "report it"),
        ErrorCode(
            18,
            "IDDK_VERSION_INCOMPATIBLE",
            "the camera's firmware and the SDK do not match",
            "install the IDDK version that matches the camera's firmware",
        ),
        ErrorCode(19, "IDDK_THREAD_FAILED", "the SDK could not start a thread", "restart"),
        ErrorCode(
            20,
            "IDDK_UNSUPPORTED_COMMAND",
            "this camera does not support the command",
            "report it: the station used a feature this model lacks",
        ),
        ErrorCode(
            21, "IDDK_IMAGE_CORRUPTED", "the image arrived damaged", _LOOK_AGAIN, retryable=True
        ),
        ErrorCode(
            22,
            "IDDK_WRONG_EYE_SUBTYPE",
            "the camera cannot capture those eyes at once",
            "a one-eye camera captures one eye at a time; check [sensors.iris] settings",
        ),
        ErrorCode(23, "IDDK_UNKNOWN_DEVICE", "an unknown camera model", "check the IDDK version"),
        ErrorCode(255, "IDDK_UNEXPECTED_ERROR", "an unexpected SDK error", _CHECK_USB),
        ErrorCode(
            0x100B,
            "IDDK_DEV_BUSY",
            "the camera is busy with another capture",
            "wait for it to finish, or stop it, then try again",
            retryable=True,
        ),
        ErrorCode(
            0x1014,
            "IDDK_DEV_LOW_BATTERY",
            "the camera's battery is low",
            "charge the camera or use a powered USB port",
        ),
        ErrorCode(
            0x3001,
            "IDDK_SE_NOT_INIT",
            "the camera was not initialised",
            "the station initialises it again",
            device_lost=True,
        ),
        ErrorCode(0x3002, "IDDK_SE_NO_CAM", "the camera's sensor is not answering", _CHECK_USB),
        ErrorCode(
            0x3003,
            "IDDK_SE_STARTSTOP_CAPTURE_FAILED",
            "the capture could not be started or stopped",
            "try again; if it repeats, unplug the camera for five seconds",
            retryable=True,
        ),
        ErrorCode(
            0x3004,
            "IDDK_SE_QM_FAILED",
            "the camera's quality measure failed",
            _LOOK_AGAIN,
            retryable=True,
        ),
        ErrorCode(
            0x3005,
            "IDDK_SE_NO_FRAME_AVAILABLE",
            "no eye was seen",
            _LOOK_AGAIN,
            retryable=True,
        ),
        ErrorCode(
            0x3006,
            "IDDK_SE_NO_QUALIFIED_FRAME",
            "no eye image was good enough",
            "ask the applicant to open the eyes wide, keep still and look at the camera",
            retryable=True,
        ),
        ErrorCode(
            0x3007,
            "IDDK_SE_RIGHT_FRAME_UNQUALIFIED",
            "the right eye's image was not good enough",
            "ask the applicant to open the right eye wide and look again",
            retryable=True,
        ),
        ErrorCode(
            0x3008,
            "IDDK_SE_LEFT_FRAME_UNQUALIFIED",
            "the left eye's image was not good enough",
            "ask the applicant to open the left eye wide and look again",
            retryable=True,
        ),
        ErrorCode(
            0x3009,
            "IDDK_SE_COMPRESSION_FAILED",
            "the camera could not compress the image",
            "try again",
            retryable=True,
        ),
        ErrorCode(
            LIBRARY_NOT_LOADED,
            "EWP_LIBRARY_NOT_LOADED",
            "the IDDK library could not be loaded",
            "install IriTech's IDDK 2000 and set [sensors.iris] library to libIddk2000.so's "
            "path (docs/devices/iris-irishield-iddk.md)",
        ),
        ErrorCode(
            CALL_TIMED_OUT,
            "EWP_CALL_TIMED_OUT",
            "the IDDK library did not return in time",
            "unplug the camera for five seconds and plug it in again; if it repeats, "
            "restart the station agent",
            device_lost=True,
        ),
        ErrorCode(
            LIBRARY_WEDGED,
            "EWP_LIBRARY_WEDGED",
            "an earlier IDDK call never returned, so the library cannot be used again",
            "restart the station agent (`systemctl restart ewp-agent`)",
        ),
        ErrorCode(
            CAPTURE_ABORTED,
            "EWP_CAPTURE_ABORTED",
            "the camera aborted the capture",
            _LOOK_AGAIN,
            retryable=True,
        ),
        ErrorCode(
            CAPTURE_TIMED_OUT,
            "EWP_CAPTURE_TIMED_OUT",
            "no result within the capture time; the capture was stopped",
            _LOOK_AGAIN,
            retryable=True,
        ),
    ],
    unknown_advice="note the code; check IriTech's IDDK manual or report it",
)


class IddkError(DeviceError):
    """Any failure of the IDDK camera: ``code`` is the ``IddkResult`` (or ewp's own, < 0)."""

    table = IDDK_ERRORS

"""IDDK 2000's types as ctypes declarations, and its result codes as one error table.

Names, values and layouts are those of the vendor's public headers (``IddkBase.h``,
``Iddk2000Defs.h``; the 2000-series SDK whose ``Iddk_GetResultImage`` takes six arguments),
restated here as facts. Enums are C ``enum``s, passed as ``int``. The struct-size test
compares every ``ctypes.sizeof`` here with the C ``sizeof`` of the fake library built from the
same declarations, so a layout slip cannot hide.

``IDDK_ERRORS`` maps every ``IddkResult`` the station can meet to what it means and what the
operator does about it (``edge.drivers.device_errors``), kept as data in
``iddk2000_codes.toml`` beside this module; codes below zero are ewp's own, for
failures that happen around the library rather than in it (not loadable, a call that did not
return in time).
"""

from __future__ import annotations

import ctypes
import enum
from importlib.resources import files

from edge.drivers.device_errors import DeviceError, ErrorTable

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

IDDK_ERRORS = ErrorTable.from_toml(files("edge.drivers") / "iddk2000_codes.toml")

# ewp's own codes (negative: the vendor's are 0 and up).
LIBRARY_NOT_LOADED = IDDK_ERRORS.by_name("EWP_LIBRARY_NOT_LOADED").code
CALL_TIMED_OUT = IDDK_ERRORS.by_name("EWP_CALL_TIMED_OUT").code
LIBRARY_WEDGED = IDDK_ERRORS.by_name("EWP_LIBRARY_WEDGED").code
CAPTURE_ABORTED = IDDK_ERRORS.by_name("EWP_CAPTURE_ABORTED").code
CAPTURE_TIMED_OUT = IDDK_ERRORS.by_name("EWP_CAPTURE_TIMED_OUT").code


class IddkError(DeviceError):
    """Any failure of the IDDK camera: ``code`` is the ``IddkResult`` (or ewp's own, < 0)."""

    table = IDDK_ERRORS

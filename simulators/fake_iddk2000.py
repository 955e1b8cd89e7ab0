"""The fake IDDK 2000 library (``fake_iddk2000.c``): build it, and drive its camera.

``build_fake_iddk(directory)`` compiles the C sources (``fake_iddk2000.c``,
``fake_iddk2000_panel.c``, ``fake_iddk2000.h``) with the system compiler (``cc``/``gcc``;
``scripts/ensure-system-deps.sh --test`` installs gcc and libc6-dev when missing) into
``libIddk2000.so``, once per source version. :class:`FakeIddk` is the test's hand on the
simulated camera: plug and unplug it, present eyes with their quality and image (the
synthetic eye renderer draws them), inject faults, and read what the library saw (call counts,
open handles, the camera's own capture time, struct sizes as C sees them).

The library keeps its state in the process (one camera per process, as with the real SDK):
every ``ctypes.CDLL`` of the same path shares it, so the station's binding and this control
act on the same camera. Nothing here imports the station's code.
"""

from __future__ import annotations

import ctypes
import enum
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from simulators.synthetic_eyes import HEIGHT, WIDTH, EyeScene, render_eye

HERE = Path(__file__).parent
SOURCES = (HERE / "fake_iddk2000.c", HERE / "fake_iddk2000_panel.c")
HEADER = HERE / "fake_iddk2000.h"
LIBRARY_NAME = "libIddk2000.so"
SLOTS = {"right": 0, "left": 1}


class FakeFault(enum.IntEnum):
    """The faults the fake injects (``FakeIddk_Inject``)."""

    NONE = 0
    DEVICE_NOT_FOUND = 1  # sticky until NONE
    IO_TIMEOUT_MID_CAPTURE = 2  # once
    NO_QUALIFIED_FRAME = 3  # once
    RIGHT_UNQUALIFIED = 4  # once
    LEFT_UNQUALIFIED = 5  # once
    UNPLUG_MID_CAPTURE = 6  # once


class FakeIddkBuildError(RuntimeError):
    """The C compiler is missing or refused the fake library's source."""


def _compiler() -> str:
    for name in (os.environ.get("CC", ""), "cc", "gcc"):
        if name and shutil.which(name):
            return name
    raise FakeIddkBuildError(
        "no C compiler: install gcc and libc6-dev (`scripts/ensure-system-deps.sh --test`)"
    )


def build_fake_iddk(directory: Path | None = None) -> Path:
    """``libIddk2000.so`` built from ``fake_iddk2000.c`` (reused when the source is unchanged)."""
    digest = hashlib.sha256()
    for path in (*SOURCES, HEADER):
        digest.update(path.read_bytes())
    tag = digest.hexdigest()[:16]
    base = directory or Path(tempfile.gettempdir()) / f"ewp-fake-iddk-{os.getuid()}"
    target = base / tag / LIBRARY_NAME
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    command = [_compiler(), "-shared", "-fPIC", "-O2", "-Wall", "-o", str(partial)]
    command += [str(source) for source in SOURCES]
    result = subprocess.run([*command, "-lm"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise FakeIddkBuildError(f"building the fake IDDK library failed:\n{result.stderr}")
    partial.replace(target)  # atomic: a concurrent build never sees half a library
    return target


class FakeIddk:
    """The control panel of the fake camera in the library at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        lib = ctypes.CDLL(str(path))
        self._lib = lib
        for name, restype in (
            ("FakeIddk_Calls", ctypes.c_long),
            ("FakeIddk_StructSize", ctypes.c_long),
            ("FakeIddk_FieldOffset", ctypes.c_long),
            ("FakeIddk_CaptureSeconds", ctypes.c_double),
            ("FakeIddk_Captures", ctypes.c_long),
        ):
            getattr(lib, name).restype = restype
        lib.FakeIddk_SetEye.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]

    def reset(self) -> None:
        """Plugged, binocular, both eyes present (score 80, usable area 90), fast timing."""
        self._lib.FakeIddk_Reset()

    def plug(self) -> None:
        self._lib.FakeIddk_SetPlugged(1)

    def unplug(self) -> None:
        self._lib.FakeIddk_SetPlugged(0)

    def binocular(self, yes: bool) -> None:
        self._lib.FakeIddk_SetBinocular(int(yes))

    def timing(self, ready_ms: int, capture_ms: int) -> None:
        self._lib.FakeIddk_SetTiming(ready_ms, capture_ms)

    def eye(
        self,
        side: str,
        *,
        present: bool = True,
        total: int = 80,
        usable: int = 90,
        scene: EyeScene | None = None,
        pixels: bytes | None = None,
    ) -> None:
        """What the camera sees of one eye (``right``/``left``): its scores and image."""
        if scene is not None:
            pixels = render_eye(scene)
        if pixels is not None and len(pixels) != WIDTH * HEIGHT:
            raise ValueError(f"an eye image is {WIDTH}x{HEIGHT} bytes")
        done = self._lib.FakeIddk_SetEye(
            SLOTS[side], int(present), total, usable, pixels, len(pixels or b"")
        )
        if done != 0:
            raise ValueError(f"the fake refused eye {side!r} (total {total}, usable {usable})")

    def inject(self, fault: FakeFault) -> None:
        self._lib.FakeIddk_Inject(int(fault))

    def delay(self, call: str, ms: int) -> None:
        if self._lib.FakeIddk_SetDelay(call.encode(), ms) != 0:
            raise ValueError(f"the fake has no call {call!r}")

    def calls(self, call: str) -> int:
        count = int(self._lib.FakeIddk_Calls(call.encode()))
        if count < 0:
            raise ValueError(f"the fake has no call {call!r}")
        return count

    def status(self) -> int:
        return int(self._lib.FakeIddk_Status())

    def open_handles(self) -> int:
        return int(self._lib.FakeIddk_OpenHandles())

    def led(self, led_id: int) -> int:
        return int(self._lib.FakeIddk_Led(led_id))

    def capture_seconds(self) -> float:
        """The camera's own time from each start of capture to its result, summed."""
        return float(self._lib.FakeIddk_CaptureSeconds())

    def captures(self) -> int:
        return int(self._lib.FakeIddk_Captures())

    def struct_size(self, name: str) -> int:
        return int(self._lib.FakeIddk_StructSize(name.encode()))

    def field_offset(self, name: str) -> int:
        return int(self._lib.FakeIddk_FieldOffset(name.encode()))

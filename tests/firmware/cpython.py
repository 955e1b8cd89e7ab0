"""Import the board's pure firmware modules (frame, link) under CPython for host-side tests.

The firmware imports its siblings by top-level name, as MicroPython does from the board's
root, so the firmware directory goes on ``sys.path``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def firmware_module(name: str) -> ModuleType:
    if str(FIRMWARE) not in sys.path:
        sys.path.insert(0, str(FIRMWARE))
    return importlib.import_module(name)

"""Station controller firmware: build a versioned bundle, deploy it to a board with mpremote.

A bundle is a directory ``ewp-controller-<version>/`` holding ``main.py`` (the port runs only
that file by name), every other firmware module cross-compiled with ``mpy-cross
-march=armv6m`` to ``.mpy``, and ``firmware.json``: name, version, and the SHA-256 of every
file. Deploying puts a running board into maintenance mode through the link (it restarts to
its REPL without the watchdog), copies the bundle with mpremote's raw REPL, reads every hash
back from the board, clears the maintenance flag and resets the board; the driver then checks
that the new version answers. See docs/tools/ewp-firmware.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edge.drivers.controller import BAUDRATE, Controller, ControllerError, ControllerTimeoutError
from edge.drivers.controller_messages import Identity

log = logging.getLogger(__name__)

FIRMWARE_SOURCE = Path(__file__).resolve().parent.parent / "firmware"
NOT_ON_BOARD = {"hal_sim.py", "manifest.py"}  # simulator only; the freeze manifest
AS_SOURCE = {"main.py"}  # the port looks for main.py by name
MANIFEST = "firmware.json"
KEEP_ON_BOARD = {"boot.py"}  # someone else's boot.py survives a deploy
MPY_CROSS = [sys.executable, "-m", "mpy_cross", "-march=armv6m"]  # the RP2040's Cortex-M0+


class FirmwareError(ControllerError):
    """A bundle that cannot be built or a board that cannot be deployed to."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    version: str
    files: dict[str, str]  # name -> sha256 hex

    @classmethod
    def load(cls, path: Path) -> Bundle:
        try:
            data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            return cls(path, str(data["version"]), dict(data["files"]))
        except (OSError, ValueError, KeyError) as exc:
            raise FirmwareError(
                f"{path} is not a firmware bundle ({exc}): make one with `ewp firmware build`"
            ) from None


def firmware_version(source: Path = FIRMWARE_SOURCE) -> str:
    text = (source / "version.py").read_text(encoding="utf-8")
    match = re.search(r'^VERSION\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        raise FirmwareError(f'no VERSION = "..." in {source / "version.py"}')
    return match.group(1)


def build_bundle(out_dir: Path, source: Path = FIRMWARE_SOURCE) -> Bundle:
    """Cross-compile the firmware into ``out_dir/ewp-controller-<version>/``."""
    if not (source / "main.py").exists():
        raise FirmwareError(f"no firmware sources in {source}: run from an ewp source tree")
    version = firmware_version(source)
    bundle = out_dir / f"ewp-controller-{version}"
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    files: dict[str, str] = {}
    for src in sorted(source.glob("*.py")):
        if src.name in NOT_ON_BOARD:
            continue
        if src.name in AS_SOURCE:
            target = bundle / src.name
            shutil.copy(src, target)
        else:
            target = bundle / (src.stem + ".mpy")
            proc = subprocess.run(
                [*MPY_CROSS, "-s", src.name, "-o", str(target), str(src)],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise FirmwareError(f"mpy-cross failed on {src.name}: {proc.stderr.strip()}")
        files[target.name] = hashlib.sha256(target.read_bytes()).hexdigest()
    manifest = {"name": "ewp-controller", "version": version, "files": files}
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    log.info("built firmware %s: %d files in %s", version, len(files), bundle)
    return Bundle(bundle, version, files)


def _open_port(port: str, timeout: float) -> object:
    import serial

    deadline = time.monotonic() + timeout
    while True:
        try:
            return serial.serial_for_url(port, baudrate=BAUDRATE)
        except (OSError, serial.SerialException) as exc:
            if time.monotonic() > deadline:
                raise FirmwareError(
                    f"cannot open {port} ({exc}): check the controller's USB cable "
                    "(`ls /dev/serial/by-id/*`)"
                ) from None
            time.sleep(0.5)


def _ask_for_maintenance(port: str, timeout: float) -> Identity | None:
    """If the board runs our firmware, have it restart into maintenance mode."""
    serial_port = _open_port(port, timeout)
    try:
        with Controller(serial_port, name=port) as controller:  # type: ignore[arg-type]
            try:
                controller.wait_ready(timeout=3)
                identity = controller.identify()
            except ControllerTimeoutError:
                log.info("no ewp firmware answering on %s; assuming it is at the REPL", port)
                return None
            log.info(
                "board %s runs firmware %s", identity.board_id.hex(), identity.firmware_version
            )
            controller.enter_maintenance()
            return identity
    finally:
        serial_port.close()  # type: ignore[attr-defined]


def deploy_bundle(
    port: str, bundle: Bundle, *, secret: bytes | None = None, timeout: float = 30.0
) -> Identity:
    """Copy ``bundle`` to the board on ``port``, verify it, reset it; returns its new identity."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    if _ask_for_maintenance(port, timeout) is not None:
        time.sleep(1.0)  # the board resets into maintenance mode
    deadline = time.monotonic() + timeout
    transport = None
    while transport is None:
        try:
            # A read timeout: on a pty mpremote reads without first asking whether bytes are
            # waiting, so a board that never answers would block it for ever.
            transport = SerialTransport(port, baudrate=BAUDRATE, timeout=1.0)
            transport.enter_raw_repl(soft_reset=False, timeout_overall=5)
        except TransportError as exc:
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()
                transport = None
            if time.monotonic() > deadline:
                raise FirmwareError(
                    f"the board on {port} does not offer a REPL ({exc}): unplug and replug "
                    "it, then run `ewp firmware deploy` again"
                ) from None
            time.sleep(1.0)
    try:
        _copy_and_verify(transport, bundle, secret)
        log.info("bundle verified on the board; resetting it")
        transport.exec_raw_no_follow(
            "import sys\ntry:\n import machine\n machine.reset()\n"
            "except AttributeError:\n sys.exit()\n"  # the unix port: the simulator restarts it
        )
    except TransportError as exc:
        raise FirmwareError(
            f"deploy to {port} failed ({exc}); the board stays in maintenance mode: run "
            "`ewp firmware deploy` again"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            transport.close()
    return _check_new_firmware(port, bundle, timeout)


def _copy_and_verify(transport: object, bundle: Bundle, secret: bytes | None) -> None:
    t = transport  # an mpremote SerialTransport (untyped)
    keep = sorted(KEEP_ON_BOARD)
    t.exec(  # type: ignore[attr-defined]
        "import os\nfor _f in os.listdir():\n"
        f" if (_f.endswith('.py') or _f.endswith('.mpy')) and _f not in {keep!r}:\n"
        "  os.remove(_f)\n"
    )
    for name in sorted(bundle.files):
        t.fs_writefile(name, (bundle.path / name).read_bytes())  # type: ignore[attr-defined]
    t.fs_writefile(MANIFEST, (bundle.path / MANIFEST).read_bytes())  # type: ignore[attr-defined]
    if not t.fs_exists("state"):  # type: ignore[attr-defined]
        t.fs_mkdir("state")  # type: ignore[attr-defined]
    if secret is not None:
        t.fs_writefile("state/secret", secret)  # type: ignore[attr-defined]
    wrong = []
    for name, expected in sorted(bundle.files.items()):
        got = t.fs_hashfile(name, "sha256").hex()  # type: ignore[attr-defined]
        if got != expected:
            wrong.append(name)
    if wrong:
        raise FirmwareError(
            f"files differ on the board after copying: {', '.join(wrong)}; the board stays in "
            "maintenance mode: run `ewp firmware deploy` again"
        )
    t.exec(  # type: ignore[attr-defined]
        "import os\ntry:\n os.remove('state/maintenance')\nexcept OSError:\n pass\n"
    )


def _check_new_firmware(port: str, bundle: Bundle, timeout: float) -> Identity:
    time.sleep(1.0)
    serial_port = _open_port(port, timeout)
    try:
        with Controller(serial_port, name=port) as controller:  # type: ignore[arg-type]
            controller.wait_ready(timeout=timeout)
            identity = controller.identify()
    finally:
        serial_port.close()  # type: ignore[attr-defined]
    if identity.firmware_version != bundle.version:
        raise FirmwareError(
            f"the board on {port} came back with firmware {identity.firmware_version}, "
            f"not {bundle.version}"
        )
    return identity

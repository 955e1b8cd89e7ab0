"""A simulated R30x / R503 fingerprint module: the device side of the UART protocol.

Written from the R30x datasheet and the R503 user manual, independently of the host driver
(``edge`` is never imported here; this module has its own frame codec), so that a
misreading of the datasheet in one is caught by the other.

What it models:

* the packet format (``EF 01 | address | pid | length | content | sum``), strict checksums
  (a damaged command gets confirmation code 0x01, as the module answers), packets for
  another address and line noise ignored, a partial packet dropped after an idle line;
* the instructions a capture station uses (see ``docs/devices/fingerprint-r30x.md`` for the
  table and the confirmation code each error case gets), a password that must be verified
  first when it is not 0, system parameters (baud rate, security level, packet size) with the
  baud rate change taking effect on the paced line after the answer;
* a template library of ``capacity`` pages that survives restarts when given a file;
* fingers on the glass: placed and lifted through a control API (``manual``), or a scripted
  applicant (``auto``) pressing fingers one after another, each press lifting once the host
  has taken its image;
* synthetic images with real ridge structure (``fingerprint_images``) and 512-byte templates
  in a simulator format (below);
* faults (``fingerprint_faults``): no finger, bad images, damaged replies, silence, a cable
  pulled in the middle of an image, line noise, any forced confirmation code.

Templates are a **simulator format**, not the module's (which is undocumented): a template
carries the finger's identity as 480 pseudo-random features plus noise that depends on the
press (a poor press is noisier). Comparing two templates correlates their features: the same
finger scores high (about 160-280, lower for poor presses), different fingers near 0. The
module does not extract anything from the pixels; it knows which finger it rendered.

Layout (512 bytes): ``b"EWPS"``, version 1, kind (1 character file from one image, 2 model
from RegModel), press quality 0-100, ISO finger position code, 8 reserved bytes, 480 signed
feature bytes, and a 16-byte BLAKE2b digest of everything before it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from simulators.fingerprint_faults import (
    INSTRUCTION_NAMES,
    INSTRUCTIONS,
    Fault,
    FaultPlan,
)
from simulators.fingerprint_images import (
    HEIGHT,
    WIDTH,
    FingerIdentity,
    FingerPosition,
    PressConditions,
    prefetch_master,
    render_press,
)
from simulators.serial_endpoints import ByteStream, Transport
from simulators.simulated_device import HostLineReader, Mode, RunningSimulator, SimulatedDevice

log = logging.getLogger(__name__)
wire_log = logging.getLogger("ewp.wire.sim.fingerprint")

# --- the module's frame codec (its own, from the datasheet) --------------------------------

START = b"\xef\x01"
PID_COMMAND = 0x01
PID_DATA = 0x02
PID_ACK = 0x07
PID_END = 0x08
_HOST_PIDS = (PID_COMMAND, PID_DATA, PID_END)
_MAX_LENGTH = 256 + 2  # the largest packet a host may send: a 256-byte data packet
_IDLE_DROP = 1.0  # seconds of silence after which a half-received packet is dropped


def packet_sum(pid: int, length: int, content: bytes) -> int:
    """The datasheet's checksum: pid + both length bytes + content, modulo 2**16."""
    return (pid + (length >> 8) + (length & 0xFF) + sum(content)) & 0xFFFF


def build_packet(pid: int, content: bytes, address: int, *, corrupt: bool = False) -> bytes:
    length = len(content) + 2
    total = packet_sum(pid, length, content)
    if corrupt:
        total ^= 0x5A5A
    return b"".join(
        (
            START,
            address.to_bytes(4, "big"),
            bytes((pid,)),
            length.to_bytes(2, "big"),
            content,
            total.to_bytes(2, "big"),
        )
    )


@dataclass(frozen=True)
class HostPacket:
    address: int
    pid: int
    content: bytes
    checksum_ok: bool


class HostPacketScanner:
    """How the module reads its UART: hunt for ``EF 01``, take the header, wait for the rest.

    Only what a host can send (command, data and end packets of a plausible length) counts as
    a header; anything else is noise and the hunt goes on from the next byte.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> bool:
        return bool(self._buffer)

    def drop_partial(self) -> None:
        """The line went idle in the middle of a packet: give up on that start code."""
        if self._buffer:
            del self._buffer[:1]

    def next_packet(self) -> HostPacket | None:
        buf = self._buffer
        while True:
            start = buf.find(START)
            if start < 0:
                keep = 1 if buf.endswith(b"\xef") else 0
                del buf[: len(buf) - keep]
                return None
            del buf[:start]
            if len(buf) < 9:
                return None
            pid = buf[6]
            length = int.from_bytes(buf[7:9], "big")
            if pid not in _HOST_PIDS or not 2 <= length <= _MAX_LENGTH:
                del buf[:1]
                continue
            total = 9 + length
            if len(buf) < total:
                return None
            address = int.from_bytes(buf[2:6], "big")
            content = bytes(buf[9 : total - 2])
            received = int.from_bytes(buf[total - 2 : total], "big")
            del buf[:total]
            ok = received == packet_sum(pid, length, content)
            return HostPacket(address=address, pid=pid, content=content, checksum_ok=ok)


def pack_nibbles(pixels: bytes) -> bytes:
    """8-bit pixels to the UART image format: top 4 bits, two pixels a byte, first one high."""
    array = np.frombuffer(pixels, dtype=np.uint8)
    return bytes((array[0::2] & 0xF0) | (array[1::2] >> 4))


# --- templates (simulator format, see the module docstring) --------------------------------

TEMPLATE_SIZE = 512
_MAGIC = b"EWPS"
_FEATURES = 480
_KIND_CHAR = 1
_KIND_MODEL = 2
SCORE_SCALE = 300
# Minimum score to call two templates the same finger, per security level (1 lenient .. 5).
MATCH_THRESHOLDS = {1: 30, 2: 45, 3: 60, 4: 75, 5: 90}


@functools.lru_cache(maxsize=256)
def _identity_features(identity: FingerIdentity) -> NDArray[np.float64]:
    return identity.rng("template-features").standard_normal(_FEATURES)


def _encode_template(kind: int, quality: int, finger_code: int, features: NDArray[Any]) -> bytes:
    quantised = np.clip(np.round(features * 40.0), -127, 127).astype(np.int8)
    body = _MAGIC + bytes((1, kind, quality, finger_code)) + bytes(8) + quantised.tobytes()
    return body + hashlib.blake2b(body, digest_size=16).digest()


def template_features(data: bytes) -> NDArray[np.float64] | None:
    """The features of a simulator template, or None if ``data`` is not one (or is damaged)."""
    if len(data) != TEMPLATE_SIZE or not data.startswith(_MAGIC):
        return None
    body, digest = data[:-16], data[-16:]
    if hashlib.blake2b(body, digest_size=16).digest() != digest:
        return None
    return np.frombuffer(body[16:], dtype=np.int8).astype(np.float64)


def match_score(a: bytes, b: bytes) -> int:
    """0 (unrelated) .. 300 (identical): the correlation of the two templates' features."""
    fa, fb = template_features(a), template_features(b)
    if fa is None or fb is None:
        return 0
    fa = fa - fa.mean()
    fb = fb - fb.mean()
    denominator = float(np.sqrt(np.dot(fa, fa) * np.dot(fb, fb)))
    if denominator == 0:
        return 0
    correlation = float(np.dot(fa, fb)) / denominator
    return max(0, round(correlation * SCORE_SCALE))


def merge_templates(a: bytes, b: bytes) -> bytes:
    """RegModel: the mean of two character files' features (less noise than either)."""
    fa, fb = template_features(a), template_features(b)
    assert fa is not None and fb is not None
    quality = min(a[6], b[6])
    return _encode_template(_KIND_MODEL, quality, a[7], (fa + fb) / 2.0 / 40.0)


# --- fingers on the glass ------------------------------------------------------------------

Quality = Literal["good", "poor"]


@dataclass(frozen=True)
class Press:
    """One press of a finger on the glass; ``number`` makes each press a new impression."""

    identity: FingerIdentity
    poor: bool
    number: int

    @property
    def seed(self) -> int:
        digest = hashlib.blake2b(
            self.identity.digest() + self.number.to_bytes(8, "big"), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big")

    @property
    def quality(self) -> int:
        return 35 if self.poor else 85

    def conditions(self) -> PressConditions:
        return PressConditions.draw(np.random.default_rng(self.seed), poor=self.poor)

    def render(self) -> bytes:
        return render_press(self.identity, self.conditions(), self.seed)

    def character_file(self) -> bytes:
        """Img2Tz: the finger's features plus this impression's noise."""
        noise = 0.8 if self.poor else 0.35
        rng = np.random.default_rng(self.seed ^ 0x7E3A)
        features = _identity_features(self.identity) + rng.normal(0.0, noise, _FEATURES)
        return _encode_template(_KIND_CHAR, self.quality, self.identity.finger.code, features)

    def describe(self) -> dict[str, object]:
        return {
            "subject": self.identity.subject,
            "finger": self.identity.finger.value,
            "quality": "poor" if self.poor else "good",
            "press": self.number,
        }


class ManualPresenter:
    """Fingers placed and lifted by a tester (control port or in-process calls)."""

    mode = "manual"

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._press: Press | None = None
        self._presses = 0

    def place(self, subject: int, finger: FingerPosition, poor: bool) -> Press:
        self._presses += 1
        self._press = Press(FingerIdentity(subject, finger, self.seed), poor, self._presses)
        return self._press

    def lift(self) -> None:
        self._press = None

    def on_glass(self) -> Press | None:
        return self._press

    def taken(self, press: Press) -> None:
        """The host took the image; a tester's finger stays until lifted."""

    def describe(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "finger": None if self._press is None else self._press.describe(),
        }


class AutoApplicant:
    """A scripted applicant: presses fingers one after another from a deterministic sequence.

    Press ``n`` is of finger ``n // presses_per_finger``; fingers go right thumb .. left little
    of one subject, then the next subject. A press stays on the glass until the host has taken
    its image (Img2Tz or UpImage after a GenImg); the finger is then lifted for ``lift_polls``
    GenImg calls before the next press.
    """

    mode = "auto"

    def __init__(
        self,
        *,
        seed: int,
        index: int = 0,
        presses_per_finger: int = 1,
        poor_rate: float = 0.0,
        lift_polls: int = 2,
    ) -> None:
        self.seed = seed
        self.index = index
        self.presses_per_finger = presses_per_finger
        self.poor_rate = poor_rate
        self.lift_polls = lift_polls
        self._subject_rng = random.Random(seed + index)
        self._subjects: list[int] = []
        self._number = 0
        self._lifted_polls_left = 0
        self._press = self._make_press(0)
        prefetch_master(self._press.identity)

    def subject(self, k: int) -> int:
        while len(self._subjects) <= k:
            self._subjects.append(self._subject_rng.randrange(1, 1_000_000))
        return self._subjects[k]

    def _make_press(self, number: int) -> Press:
        finger_index = number // self.presses_per_finger
        subject = self.subject(finger_index // 10)
        position = list(FingerPosition)[finger_index % 10]
        poor = random.Random(f"{self.seed + self.index}:{number}").random() < self.poor_rate
        return Press(FingerIdentity(subject, position, self.seed), poor, number)

    def on_glass(self) -> Press | None:
        if self._lifted_polls_left > 0:
            self._lifted_polls_left -= 1
            return None
        return self._press

    def taken(self, press: Press) -> None:
        if press != self._press:
            return
        self._number += 1
        self._press = self._make_press(self._number)
        self._lifted_polls_left = self.lift_polls
        # The next finger is known: render its master while the host works on this image.
        prefetch_master(self._press.identity)

    def describe(self) -> dict[str, object]:
        on_glass = self._press if self._lifted_polls_left == 0 else None
        return {
            "mode": self.mode,
            "finger": None if on_glass is None else on_glass.describe(),
            "next_press": self._number,
        }


# --- the template library ------------------------------------------------------------------


class TemplateLibrary:
    """The module's flash: ``capacity`` pages of templates, saved to a JSON file when given."""

    FORMAT = "ewp-sim-fingerprint-library"

    def __init__(self, path: Path | None, capacity: int) -> None:
        self.path = path
        self.capacity = capacity
        self._pages: dict[int, bytes] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != self.FORMAT:
                raise ValueError(f"not a {self.FORMAT} file")
            pages = {int(page): bytes.fromhex(text) for page, text in data["templates"].items()}
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(f"cannot load the template library {path}: {exc}") from None
        dropped = [page for page in pages if not 0 <= page < self.capacity]
        if dropped:
            log.warning("library %s: pages %s are beyond the capacity, ignored", path, dropped)
        self._pages = {page: t for page, t in pages.items() if 0 <= page < self.capacity}

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "format": self.FORMAT,
            "version": 1,
            "capacity": self.capacity,
            "templates": {str(page): t.hex() for page, t in sorted(self._pages.items())},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def get(self, page: int) -> bytes | None:
        return self._pages.get(page)

    def put(self, page: int, template: bytes) -> None:
        self._pages[page] = template
        self._save()

    def delete(self, start: int, count: int) -> None:
        for page in range(start, start + count):
            self._pages.pop(page, None)
        self._save()

    def clear(self) -> None:
        self._pages.clear()
        self._save()

    def pages(self) -> list[int]:
        return sorted(self._pages)

    def __len__(self) -> int:
        return len(self._pages)


# --- the module ----------------------------------------------------------------------------

BAUD_UNIT = 9600
PACKET_SIZES = (32, 64, 128, 256)

# Parameter bytes each instruction takes (after the instruction code).
_PARAMETER_SIZES = {
    0x01: 0,  # GenImg
    0x02: 1,  # Img2Tz: buffer
    0x03: 0,  # Match
    0x04: 5,  # Search: buffer, start page, page count
    0x05: 0,  # RegModel
    0x06: 3,  # Store: buffer, page
    0x07: 3,  # LoadChar: buffer, page
    0x08: 1,  # UpChar: buffer
    0x09: 1,  # DownChar: buffer
    0x0A: 0,  # UpImage
    0x0C: 4,  # DeletChar: page, count
    0x0D: 0,  # Empty
    0x0E: 2,  # SetSysPara: register, value
    0x0F: 0,  # ReadSysPara
    0x13: 4,  # VfyPwd: password
    0x1D: 0,  # TemplateNum
    0x1F: 1,  # ReadIndexTable: index page
    0x35: 4,  # AuraLedConfig: control, speed, colour, count
    0x36: 0,  # CheckSensor
    0x40: 0,  # HandShake
}
# Parameter bytes of each answer after the confirmation code (zero-filled on an error).
_ANSWER_SIZES = {0x03: 2, 0x04: 4, 0x0F: 16, 0x1D: 2, 0x1F: 32}


@dataclass
class SensorConfig:
    """Everything a simulated sensor is configured with (the command line maps onto this)."""

    mode: Mode = "manual"
    address: int = 0xFFFFFFFF
    password: int = 0
    library: Path | None = None
    capacity: int = 200
    baudrate: int = 57600
    pace: bool = False
    packet_size: int = 128
    security_level: int = 3
    seed: int = 0
    index: int = 0  # which of several sensors in one process (its own subject sequence)
    presses_per_finger: int = 1
    poor_rate: float = 0.0
    lift_polls: int = 2
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in ("manual", "auto"):
            problems.append(f"mode must be manual or auto, got {self.mode!r}")
        if not 0 <= self.address <= 0xFFFFFFFF or not 0 <= self.password <= 0xFFFFFFFF:
            problems.append("address and password must fit in 32 bits")
        if not 1 <= self.capacity <= 1024:
            problems.append(f"capacity must be 1..1024 pages, got {self.capacity}")
        if self.baudrate % BAUD_UNIT or not 1 <= self.baudrate // BAUD_UNIT <= 12:
            problems.append(f"baud rate must be 9600 x N, N in 1..12, got {self.baudrate}")
        if self.packet_size not in PACKET_SIZES:
            problems.append(f"packet size must be one of {PACKET_SIZES}, got {self.packet_size}")
        if not 1 <= self.security_level <= 5:
            problems.append(f"security level must be 1..5, got {self.security_level}")
        if self.presses_per_finger < 1:
            problems.append("presses per finger must be at least 1")
        if not 0.0 <= self.poor_rate <= 1.0:
            problems.append(f"poor rate must be 0..1, got {self.poor_rate}")
        if self.lift_polls < 1:
            problems.append("lift polls must be at least 1 (or a host never sees the finger go)")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class _Answer:
    code: int
    parameters: bytes = b""
    data: bytes | None = None  # data packets to follow the ack
    unplug_after: int | None = None  # pull the cable after this many data packets
    after: Callable[[], None] | None = None  # once the whole answer is on the line


@dataclass
class _Download:
    buffer: int
    data: bytearray = field(default_factory=bytearray)


class SimulatedFingerprintSensor(SimulatedDevice[Fault, ManualPresenter | AutoApplicant]):
    """One simulated module; serve :meth:`session` with ``serve_tcp`` or ``serve_pty``.

    The control methods (:meth:`place`, :meth:`lift`, :meth:`inject`, ...) may be called from
    any thread while a host talks to the module.
    """

    faults: FaultPlan  # the device's own plan, with its own kinds

    def __init__(self, config: SensorConfig | None = None) -> None:
        self.config = config = config or SensorConfig()
        super().__init__(FaultPlan(config.faults))
        self.address = config.address
        self.password = config.password
        self.baudrate = config.baudrate
        self.packet_size = config.packet_size
        self.security_level = config.security_level
        self.library = TemplateLibrary(config.library, config.capacity)
        self._presenter = self._make_presenter(config.mode)
        self._image: bytes | None = None
        self._image_press: Press | None = None
        self._image_taken = False
        self._buffers: dict[int, bytes | None] = {1: None, 2: None}
        self._verified = False
        self._matched = False
        self._download: _Download | None = None
        self._rng = random.Random(config.seed * 7919 + config.index)
        self.led: dict[str, int] = {"control": 0x04, "speed": 0, "colour": 0x02, "count": 0}
        self.counters: dict[str, int] = {"commands": 0, "images_sent": 0, "bad_packets": 0}

    def _make_presenter(self, mode: Mode) -> ManualPresenter | AutoApplicant:
        if mode == "manual":
            return ManualPresenter(self.config.seed)
        return AutoApplicant(
            seed=self.config.seed,
            index=self.config.index,
            presses_per_finger=self.config.presses_per_finger,
            poor_rate=self.config.poor_rate,
            lift_polls=self.config.lift_polls,
        )

    # --- control (tests, the control port) ----------------------------------------------

    def place(
        self,
        subject: int,
        finger: FingerPosition | str = FingerPosition.RIGHT_INDEX,
        quality: Quality = "good",
    ) -> Press:
        """Put a finger on the glass (manual mode); it stays until :meth:`lift`."""
        position = finger if isinstance(finger, FingerPosition) else FingerPosition(finger)
        if quality not in ("good", "poor"):
            raise ValueError(f"quality must be good or poor, got {quality!r}")
        with self._lock:
            if not isinstance(self._presenter, ManualPresenter):
                raise ValueError("the sensor is in auto mode: switch it to manual mode first")
            return self._presenter.place(subject, position, quality == "poor")

    def lift(self) -> None:
        with self._lock:
            if not isinstance(self._presenter, ManualPresenter):
                raise ValueError("the sensor is in auto mode: switch it to manual mode first")
            self._presenter.lift()

    def status(self) -> dict[str, object]:
        with self._lock:
            return {
                **self._presenter.describe(),
                "address": f"{self.address:08x}",
                "baud_rate": self.baudrate,
                "packet_size": self.packet_size,
                "security_level": self.security_level,
                "templates": self.library.pages(),
                "capacity": self.library.capacity,
                "faults": self.faults.armed(),
                "led": dict(self.led),
                "connected": self._stream is not None,
                "pacing_baud": self._stream.baudrate if self._stream is not None else None,
                "line_bytes": self._line_bytes(),
                "counters": dict(self.counters),
            }

    # --- the line -----------------------------------------------------------------------

    def session(self, stream: ByteStream) -> None:
        """Talk to one host over ``stream`` until it goes away (or the cable is pulled)."""
        with self._lock:
            self._download = None
            self._verified = False
        stream.baudrate = self.baudrate if self.config.pace else 0
        scanner = HostPacketScanner()
        line = HostLineReader(stream, scanner, idle_drop=_IDLE_DROP)
        with self._plugged_in(stream):
            while True:
                line.read(timeout=0.2)
                while (packet := scanner.next_packet()) is not None:
                    if not self._on_packet(packet, stream):
                        return

    def _on_packet(self, packet: HostPacket, stream: ByteStream) -> bool:
        """Handle one packet from the host; False once the cable has been pulled."""
        if packet.address != self.address:
            wire_log.debug("sim <- packet for address %08x ignored", packet.address)
            return True
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug(
                "sim <- pid %02x %s%s",
                packet.pid,
                packet.content[:16].hex(" "),
                "" if packet.checksum_ok else " (bad checksum)",
            )
        if not packet.checksum_ok:
            with self._lock:
                self.counters["bad_packets"] += 1
                self._download = None
            return self._send(stream, _Answer(0x01))
        if packet.pid != PID_COMMAND:
            return self._on_data_packet(packet, stream)
        with self._lock:
            self._download = None
            self.counters["commands"] += 1
        if not packet.content:
            return self._send(stream, _Answer(0x01))
        if self.faults.silent():
            wire_log.debug("sim: silent (fault), command %02x unanswered", packet.content[0])
            return True
        instruction = packet.content[0]
        with self._lock:
            answer = self._execute(instruction, packet.content[1:])
        if answer.code != 0 and instruction in _ANSWER_SIZES and not answer.parameters:
            answer.parameters = bytes(_ANSWER_SIZES[instruction])
        return self._send(stream, answer)

    def _on_data_packet(self, packet: HostPacket, stream: ByteStream) -> bool:
        """Data and end packets of a DownChar; ignored when no download is going on."""
        with self._lock:
            download = self._download
            if download is None:
                wire_log.debug("sim: data packet outside a download ignored")
                return True
            last = packet.pid == PID_END
            if len(packet.content) > self.packet_size or (
                not last and len(packet.content) != self.packet_size
            ):
                self._download = None
                wire_log.debug("sim: data packet of %d bytes refused", len(packet.content))
                answer = _Answer(0x0E)
            else:
                download.data += packet.content
                if not last:
                    return True
                self._download = None
                if len(download.data) > 4 * TEMPLATE_SIZE:
                    return self._send(stream, _Answer(0x0E))
                self._buffers[download.buffer] = bytes(download.data)
                return True
        return self._send(stream, answer)

    def _send(self, stream: ByteStream, answer: _Answer) -> bool:
        """Put an answer on the line, with whatever faults are armed; False after an unplug."""
        packets: list[bytes] = []
        garbage = self.faults.garbage()
        noise = b""
        if garbage:
            noise = bytes(self._rng.randrange(0xEF) for _ in range(garbage)) + b"\xef\x01\x00"
        ack = build_packet(
            PID_ACK,
            bytes((answer.code,)) + answer.parameters,
            self.address,
            corrupt=self.faults.corrupt_packet(),
        )
        packets.append(ack)
        unplug = False
        if answer.data is not None:
            size = self.packet_size
            chunks = [answer.data[i : i + size] for i in range(0, len(answer.data), size)]
            if answer.unplug_after is not None and answer.unplug_after < len(chunks):
                chunks = chunks[: answer.unplug_after]
                unplug = True
            for number, chunk in enumerate(chunks):
                last = not unplug and number == len(chunks) - 1
                packets.append(
                    build_packet(
                        PID_END if last else PID_DATA,
                        chunk,
                        self.address,
                        corrupt=self.faults.corrupt_packet(data=True),
                    )
                )
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug(
                "sim -> ack %02x%s (+%d data packets)%s",
                answer.code,
                (" " + answer.parameters[:16].hex(" ")) if answer.parameters else "",
                len(packets) - 1,
                f" after {len(noise)} bytes of noise" if noise else "",
            )
        stream.write(noise + b"".join(packets))
        if unplug:
            log.info("simulated fingerprint sensor: cable pulled in the middle of an image")
            stream.unplug()
            return False
        if answer.after is not None:
            with self._lock:
                answer.after()
            stream.baudrate = self.baudrate if self.config.pace else 0
        return True

    # --- instructions -------------------------------------------------------------------

    def _execute(self, instruction: int, parameters: bytes) -> _Answer:
        expected = _PARAMETER_SIZES.get(instruction)
        if expected is None:
            return _Answer(0xFC)
        if len(parameters) != expected:
            return _Answer(0x01)
        if self.password != 0 and not self._verified and instruction != INSTRUCTIONS["vfypwd"]:
            return _Answer(0x21)
        forced = self.faults.forced_code(instruction)
        if forced:
            wire_log.debug("sim: forced code %02x for %s", forced, INSTRUCTION_NAMES[instruction])
            return _Answer(forced)
        handler: Callable[[bytes], _Answer] = getattr(self, f"_do_{INSTRUCTION_NAMES[instruction]}")
        return handler(parameters)

    @staticmethod
    def _buffer_id(value: int) -> int:
        """CharBuffer1 is 1; the datasheet treats every other value as CharBuffer2."""
        return 1 if value == 1 else 2

    def _threshold(self) -> int:
        return MATCH_THRESHOLDS[self.security_level]

    def _take_image(self) -> None:
        """The host took the image of the press on the glass: an applicant lifts the finger."""
        if self._image_press is not None and not self._image_taken:
            self._image_taken = True
            self._presenter.taken(self._image_press)

    def _do_genimg(self, _: bytes) -> _Answer:
        if self.faults.no_finger():
            return _Answer(0x02)
        press = self._presenter.on_glass()
        if press is None:
            return _Answer(0x02)
        if press != self._image_press or self._image is None:
            self._image = press.render()
            self._image_press = press
            self._image_taken = False
        return _Answer(0x00)

    def _do_img2tz(self, parameters: bytes) -> _Answer:
        if self._image is None or self._image_press is None:
            return _Answer(0x15)
        press = self._image_press
        self._take_image()
        bad = self.faults.bad_image()
        if bad is not None:
            return _Answer(bad)
        self._buffers[self._buffer_id(parameters[0])] = press.character_file()
        return _Answer(0x00)

    def _do_match(self, _: bytes) -> _Answer:
        first, second = self._buffers[1], self._buffers[2]
        if first is None or second is None:
            self._matched = False
            return _Answer(0x08)
        score = match_score(first, second)
        self._matched = score >= self._threshold()
        return _Answer(0x00 if self._matched else 0x08, score.to_bytes(2, "big"))

    def _do_search(self, parameters: bytes) -> _Answer:
        buffer, start, count = struct.unpack(">BHH", parameters)
        if start >= self.library.capacity:
            return _Answer(0x0B)
        probe = self._buffers[self._buffer_id(buffer)]
        self._matched = False
        if probe is None:
            return _Answer(0x09)
        best_page, best_score = 0, -1
        for page in self.library.pages():
            if start <= page < start + count:
                template = self.library.get(page)
                score = match_score(probe, template) if template is not None else 0
                if score > best_score:
                    best_page, best_score = page, score
        if best_score < self._threshold():
            return _Answer(0x09)
        self._matched = True
        return _Answer(0x00, struct.pack(">HH", best_page, best_score))

    def _do_regmodel(self, _: bytes) -> _Answer:
        first, second = self._buffers[1], self._buffers[2]
        if first is None or second is None:
            return _Answer(0x0A)
        if template_features(first) is None or template_features(second) is None:
            return _Answer(0x0A)
        if match_score(first, second) < self._threshold():
            return _Answer(0x0A)
        model = merge_templates(first, second)
        self._buffers[1] = self._buffers[2] = model
        return _Answer(0x00)

    def _do_store(self, parameters: bytes) -> _Answer:
        buffer, page = struct.unpack(">BH", parameters)
        if page >= self.library.capacity:
            return _Answer(0x0B)
        template = self._buffers[self._buffer_id(buffer)]
        if template is None:
            return _Answer(0x22)
        try:
            self.library.put(page, template)
        except OSError as exc:
            log.error("simulated flash write failed: %s", exc)
            return _Answer(0x18)
        return _Answer(0x00)

    def _do_loadchar(self, parameters: bytes) -> _Answer:
        buffer, page = struct.unpack(">BH", parameters)
        if page >= self.library.capacity:
            return _Answer(0x0B)
        template = self.library.get(page)
        if template is None:
            return _Answer(0x0C)
        self._buffers[self._buffer_id(buffer)] = template
        return _Answer(0x00)

    def _do_upchar(self, parameters: bytes) -> _Answer:
        template = self._buffers[self._buffer_id(parameters[0])]
        if template is None:
            return _Answer(0x0D)
        return _Answer(0x00, data=template)

    def _do_downchar(self, parameters: bytes) -> _Answer:
        self._download = _Download(self._buffer_id(parameters[0]))
        return _Answer(0x00)

    def _do_upimage(self, _: bytes) -> _Answer:
        if self._image is None:
            return _Answer(0x0F)

        def sent() -> None:
            self.counters["images_sent"] += 1
            self._take_image()

        return _Answer(
            0x00,
            data=pack_nibbles(self._image),
            unplug_after=self.faults.unplug_after(),
            after=sent,
        )

    def _do_deletchar(self, parameters: bytes) -> _Answer:
        page, count = struct.unpack(">HH", parameters)
        if count == 0 or page + count > self.library.capacity:
            return _Answer(0x10)
        try:
            self.library.delete(page, count)
        except OSError:
            return _Answer(0x10)
        return _Answer(0x00)

    def _do_empty(self, _: bytes) -> _Answer:
        try:
            self.library.clear()
        except OSError:
            return _Answer(0x11)
        return _Answer(0x00)

    def _do_setsyspara(self, parameters: bytes) -> _Answer:
        register, value = parameters
        if register == 4:
            if not 1 <= value <= 12:
                return _Answer(0x1B)

            def switch_baud() -> None:
                self.baudrate = value * BAUD_UNIT

            # The module answers at the old rate and switches afterwards.
            return _Answer(0x00, after=switch_baud)
        if register == 5:
            if not 1 <= value <= 5:
                return _Answer(0x1B)
            self.security_level = value
            return _Answer(0x00)
        if register == 6:
            if value >= len(PACKET_SIZES):
                return _Answer(0x1B)
            self.packet_size = PACKET_SIZES[value]
            return _Answer(0x00)
        return _Answer(0x1A)

    def _status_register(self) -> int:
        return (
            (0x02 if self._matched else 0)
            | (0x04 if self._verified else 0)
            | (0x08 if self._image is not None else 0)
        )

    def _do_readsyspara(self, _: bytes) -> _Answer:
        parameters = struct.pack(
            ">HHHHIHH",
            self._status_register(),
            0x0000,
            self.library.capacity,
            self.security_level,
            self.address,
            PACKET_SIZES.index(self.packet_size),
            self.baudrate // BAUD_UNIT,
        )
        return _Answer(0x00, parameters)

    def _do_vfypwd(self, parameters: bytes) -> _Answer:
        if int.from_bytes(parameters, "big") != self.password:
            self._verified = False
            return _Answer(0x13)
        self._verified = True
        return _Answer(0x00)

    def _do_templatenum(self, _: bytes) -> _Answer:
        return _Answer(0x00, len(self.library).to_bytes(2, "big"))

    def _do_readindextable(self, parameters: bytes) -> _Answer:
        page = parameters[0]
        if page > 3:
            return _Answer(0x0B)
        table = bytearray(32)
        for used in self.library.pages():
            offset = used - 256 * page
            if 0 <= offset < 256:
                table[offset // 8] |= 1 << (offset % 8)
        return _Answer(0x00, bytes(table))

    def _do_auraledconfig(self, parameters: bytes) -> _Answer:
        control, speed, colour, count = parameters
        if not 1 <= control <= 6 or not 1 <= colour <= 7:
            return _Answer(0xFE)
        self.led = {"control": control, "speed": speed, "colour": colour, "count": count}
        return _Answer(0x00)

    def _do_checksensor(self, _: bytes) -> _Answer:
        return _Answer(0x00)

    def _do_handshake(self, _: bytes) -> _Answer:
        return _Answer(0x00)


# --- serving one for a test or a demo ------------------------------------------------------


class RunningFingerprintSimulator(RunningSimulator[SimulatedFingerprintSensor]):
    """A simulated sensor behind an endpoint: ``url`` for the host, ``sensor`` to control it."""

    @property
    def sensor(self) -> SimulatedFingerprintSensor:
        return self.device


def start_fingerprint_simulator(
    config: SensorConfig | None = None,
    *,
    transport: Transport = "tcp",
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningFingerprintSimulator:
    """Serve a simulated sensor in this process (one thread); pass ``.url`` to pyserial.

    ``transport="tcp"`` gives ``socket://HOST:PORT`` (port 0 picks a free one); ``"pty"`` gives
    a ``/dev/pts/N`` path that pyserial opens like a USB serial adapter.
    """
    sensor = SimulatedFingerprintSensor(config)
    return RunningFingerprintSimulator.start(sensor, transport, host, port)


__all__ = [
    "HEIGHT",
    "MATCH_THRESHOLDS",
    "WIDTH",
    "AutoApplicant",
    "FingerIdentity",
    "FingerPosition",
    "HostPacketScanner",
    "ManualPresenter",
    "Press",
    "RunningFingerprintSimulator",
    "SensorConfig",
    "SimulatedFingerprintSensor",
    "TemplateLibrary",
    "build_packet",
    "match_score",
    "pack_nibbles",
    "packet_sum",
    "start_fingerprint_simulator",
    "template_features",
]

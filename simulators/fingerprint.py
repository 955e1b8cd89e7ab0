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
  in a simulator format (``fingerprint_templates``);
* faults (``fingerprint_faults``): no finger, bad images, damaged replies, silence, a cable
  pulled in the middle of an image, line noise, any forced confirmation code.

The jobs, one module each: the packet codec (``fingerprint_packets``), templates and the
template library (``fingerprint_templates``), fingers on the glass (``fingerprint_presses``),
the instructions (``fingerprint_instructions``); this module is the device on its line.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

from simulators.applicants import manual_only
from simulators.fingerprint_faults import Fault, FaultPlan
from simulators.fingerprint_images import HEIGHT, WIDTH, FingerIdentity, FingerPosition
from simulators.fingerprint_instructions import (
    ANSWER_SIZES,
    BAUD_UNIT,
    PACKET_SIZES,
    Answer,
    Download,
    InstructionSet,
)
from simulators.fingerprint_packets import (
    PID_ACK,
    PID_COMMAND,
    PID_DATA,
    PID_END,
    HostPacket,
    HostPacketScanner,
    build_packet,
    pack_nibbles,
)
from simulators.fingerprint_presses import (
    FingerPresenter,
    Press,
    Quality,
    finger_applicant,
    tester_hand,
)
from simulators.fingerprint_templates import (
    MATCH_THRESHOLDS,
    TEMPLATE_SIZE,
    TemplateLibrary,
)
from simulators.host_frames import serve_frames
from simulators.serial_endpoints import ByteStream, Transport
from simulators.simulated_device import DeviceConfig, Mode, RunningSimulator, SimulatedDevice

log = logging.getLogger(__name__)
wire_log = logging.getLogger("ewp.wire.sim.fingerprint")


@dataclass(kw_only=True)
class SensorConfig(DeviceConfig[Fault]):
    """Everything a simulated sensor is configured with (the command line maps onto this)."""

    # the line
    address: int = 0xFFFFFFFF
    password: int = 0
    baudrate: int = 57600
    packet_size: int = 128
    # the template library and matching
    library: Path | None = None
    capacity: int = 200
    security_level: int = 3
    # auto: the applicant
    presses_per_finger: int = 1
    lift_polls: int = 2

    def problems(self) -> list[str]:
        problems = super().problems()
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
        if self.lift_polls < 1:
            problems.append("lift polls must be at least 1 (or a host never sees the finger go)")
        return problems


class SimulatedFingerprintSensor(InstructionSet, SimulatedDevice[Fault, FingerPresenter]):
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
        self._download: Download | None = None
        self._rng = random.Random(config.seed * 7919 + config.index)
        self.led: dict[str, int] = {"control": 0x04, "speed": 0, "colour": 0x02, "count": 0}
        self.counters: dict[str, int] = {"commands": 0, "images_sent": 0, "bad_packets": 0}

    def _make_presenter(self, mode: Mode) -> FingerPresenter:
        if mode == "manual":
            return tester_hand()
        return finger_applicant(
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
            hand = manual_only(self._presenter, "sensor")
            identity = FingerIdentity(subject, position, self.config.seed)
            return hand.present(Press(identity, quality == "poor", hand.count + 1))

    def lift(self) -> None:
        with self._lock:
            manual_only(self._presenter, "sensor").withdraw()

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
        with self._plugged_in(stream):
            serve_frames(
                stream,
                HostPacketScanner(),
                lambda packet: self._on_packet(packet, stream),
            )

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
            return self._send(stream, Answer(0x01))
        if packet.pid != PID_COMMAND:
            return self._on_data_packet(packet, stream)
        with self._lock:
            self._download = None
            self.counters["commands"] += 1
        if not packet.content:
            return self._send(stream, Answer(0x01))
        if self.faults.silent():
            wire_log.debug("sim: silent (fault), command %02x unanswered", packet.content[0])
            return True
        instruction = packet.content[0]
        with self._lock:
            answer = self._execute(instruction, packet.content[1:])
        if answer.code != 0 and instruction in ANSWER_SIZES and not answer.parameters:
            answer.parameters = bytes(ANSWER_SIZES[instruction])
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
                answer = Answer(0x0E)
            else:
                download.data += packet.content
                if not last:
                    return True
                self._download = None
                if len(download.data) > 4 * TEMPLATE_SIZE:
                    return self._send(stream, Answer(0x0E))
                self._buffers[download.buffer] = bytes(download.data)
                return True
        return self._send(stream, answer)

    def _send(self, stream: ByteStream, answer: Answer) -> bool:
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
    """A simulated sensor with ``config``, served as ``RunningSimulator.start`` says."""
    sensor = SimulatedFingerprintSensor(config)
    return RunningFingerprintSimulator.start(sensor, transport, host, port)


__all__ = [
    "HEIGHT",
    "MATCH_THRESHOLDS",
    "TEMPLATE_SIZE",
    "WIDTH",
    "FingerIdentity",
    "FingerPosition",
    "Press",
    "RunningFingerprintSimulator",
    "SensorConfig",
    "SimulatedFingerprintSensor",
    "pack_nibbles",
    "start_fingerprint_simulator",
]

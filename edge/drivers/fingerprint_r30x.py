"""Driver for R30x / ZFM-20 / AS608 / R503 optical fingerprint modules over a UART.

The driver receives an **open** port (``serial.serial_for_url(url, baudrate=57600,
timeout=...)``): ``/dev/ttyUSB0``, ``socket://127.0.0.1:7001`` or a simulator's pty all work
the same. :meth:`FingerprintSensor.open` is a separate convenience for command lines.

Public methods speak the module's language (``capture_image()``, ``image_to_template()``,
``store_template()``, ...). Every confirmation code the module can send back is a
:class:`FingerprintError` carrying the code, whose message (from the one table of
``fingerprint_r30x_errors``) tells the operator what to do; failures of the line itself
(silence, a pulled cable, damaged packets) are the same error with ewp's own codes. Frames are
built and parsed by the pure functions of ``fingerprint_r30x_frames``.

What the driver does on errors:

* before each command it discards whatever is waiting on the line (a late or stray reply),
  and while waiting for an answer it drops stray data packets of an abandoned transfer;
* line noise is skipped: the parser resynchronises on the start code and the address;
* a reply that does not come within ``timeout`` raises ``NOT_ANSWERING`` (the deadline
  restarts with each packet of a long transfer);
* a damaged packet raises ``DAMAGED_PACKET``; in the middle of a data transfer the rest
  of the transfer is read first, and after a damaged ack of an upload the line is drained,
  so that the line is clean for the next command;
* pyserial's ``SerialException``, an ``OSError`` or ``termios.error`` (cable pulled, pty
  closed, socket reset) becomes ``DISCONNECTED`` (the port handling the
  drivers share is ``serial_link``);
* when the module says its password must be verified first (0x21), the driver verifies the
  password it was given and repeats the command once (the module forgets the verification
  when it loses power). It never retries anything else: the caller decides.

Wire traffic is logged at DEBUG to ``ewp.wire.fingerprint``.
"""

from __future__ import annotations

import enum
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from edge.drivers.fingerprint_r30x_errors import (
    CANNOT_OPEN,
    DAMAGED_PACKET,
    DISCONNECTED,
    FINGER_NOT_LIFTED,
    NO_FINGER,
    NOT_ANSWERING,
    PASSWORD_REQUIRED,
    R30X_ERRORS,
    UNEXPECTED_ANSWER,
    FingerprintError,
    NoMatchError,
    NotFoundError,
    RetryCaptureError,
    fingerprint_error,
)
from edge.drivers.fingerprint_r30x_frames import (
    DEFAULT_ADDRESS,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    IMAGE_WIRE_BYTES,
    TEMPLATE_BYTES,
    Packet,
    PacketId,
    PacketReader,
    decode_index_table,
    encode_command,
    split_data,
    unpack_image,
)
from edge.drivers.serial_link import POLL_INTERVAL, SerialDriver, SerialLink, open_port

__all__ = [
    "DEFAULT_BAUD_RATE",
    "R30X_ERRORS",
    "AuraColour",
    "AuraMode",
    "FingerprintError",
    "FingerprintImage",
    "FingerprintSensor",
    "Instruction",
    "NoMatchError",
    "NotFoundError",
    "RetryCaptureError",
    "SearchResult",
    "SystemParameters",
]

log = logging.getLogger(__name__)
wire_log = logging.getLogger("ewp.wire.fingerprint")

DEFAULT_BAUD_RATE = 57600
_MAX_TRANSFER = 64 * 1024  # the longest data transfer the driver accepts (an image is 36 KiB)


class Instruction(enum.IntEnum):
    GEN_IMG = 0x01
    IMG2TZ = 0x02
    MATCH = 0x03
    SEARCH = 0x04
    REG_MODEL = 0x05
    STORE = 0x06
    LOAD_CHAR = 0x07
    UP_CHAR = 0x08
    DOWN_CHAR = 0x09
    UP_IMAGE = 0x0A
    DELET_CHAR = 0x0C
    EMPTY = 0x0D
    SET_SYS_PARA = 0x0E
    READ_SYS_PARA = 0x0F
    VFY_PWD = 0x13
    TEMPLATE_NUM = 0x1D
    READ_INDEX_TABLE = 0x1F
    AURA_LED_CONFIG = 0x35
    CHECK_SENSOR = 0x36
    HANDSHAKE = 0x40


# --- data the driver returns --------------------------------------------------------------


@dataclass(frozen=True)
class FingerprintImage:
    """A fingerprint image: ``height`` rows of ``width`` 8-bit grey pixels, row by row.

    The module sends 4 bits a pixel; they are scaled to 0..255 (a nibble n becomes 17 n).
    """

    width: int
    height: int
    pixels: bytes

    def __post_init__(self) -> None:
        if len(self.pixels) != self.width * self.height:
            raise ValueError(
                f"{len(self.pixels)} pixels do not make a {self.width}x{self.height} image"
            )


@dataclass(frozen=True)
class SearchResult:
    page_id: int
    score: int


@dataclass(frozen=True)
class SystemParameters:
    status_register: int
    system_id: int
    library_size: int
    security_level: int
    address: int
    packet_size: int  # bytes per data packet
    baud_rate: int  # bits per second

    @property
    def busy(self) -> bool:
        return bool(self.status_register & 0x01)

    @property
    def matched(self) -> bool:
        """The last Match/Search found the finger."""
        return bool(self.status_register & 0x02)

    @property
    def password_verified(self) -> bool:
        return bool(self.status_register & 0x04)

    @property
    def image_valid(self) -> bool:
        """The image buffer holds a valid image."""
        return bool(self.status_register & 0x08)


class AuraMode(enum.IntEnum):
    """R503 ring light control codes."""

    BREATHING = 0x01
    FLASHING = 0x02
    ON = 0x03
    OFF = 0x04
    GRADUALLY_ON = 0x05
    GRADUALLY_OFF = 0x06


class AuraColour(enum.IntEnum):
    RED = 0x01
    BLUE = 0x02
    PURPLE = 0x03
    GREEN = 0x04
    YELLOW = 0x05
    CYAN = 0x06
    WHITE = 0x07


PACKET_SIZES = (32, 64, 128, 256)  # packet size codes 0..3
CHAR_BUFFERS = (1, 2)


class SerialPort(Protocol):
    """What the driver needs of a pyserial port (``serial.serial_for_url(...)``)."""

    baudrate: int
    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def reset_input_buffer(self) -> None: ...


_T = TypeVar("_T")


# --- the sensor ---------------------------------------------------------------------------


class FingerprintSensor(SerialDriver[SerialPort]):
    """One R30x-family module on an open serial port.

    ::

        port = serial.serial_for_url("/dev/ttyUSB0", baudrate=57600, timeout=0.05)
        sensor = FingerprintSensor(port, password=0, timeout=2.0)
        sensor.wait_for_finger(15)
        image = sensor.read_image()

    The driver sets the port's read timeout to a short poll interval (50 ms); ``timeout`` is
    how long it waits for each packet of an answer. ``password`` is verified whenever the
    module asks for it. One thread at a time: the driver holds no lock.
    """

    def __init__(
        self,
        port: SerialPort,
        *,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        timeout: float = 2.0,
    ) -> None:
        if not 0 <= address <= 0xFFFFFFFF:
            raise ValueError(f"address must fit in 32 bits, got {address:#x}")
        if not 0 <= password <= 0xFFFFFFFF:
            raise ValueError("password must fit in 32 bits")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._link = SerialLink(port, wire_log=wire_log, disconnected=self._disconnected)
        self._address = address
        self.password = password
        self.timeout = timeout
        self._reader = PacketReader(address)
        self._packet_size: int | None = None

    @classmethod
    def open(
        cls,
        url: str,
        *,
        baudrate: int = DEFAULT_BAUD_RATE,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        timeout: float = 2.0,
    ) -> FingerprintSensor:
        """Open ``url`` with pyserial and drive it; :meth:`close` closes the port again.

        For command lines and scripts; long-running code opens the port itself and passes it.
        """
        port = open_port(
            url,
            baudrate,
            cannot_open=lambda exc: fingerprint_error(CANNOT_OPEN, detail=f"{url}: {exc}"),
        )
        sensor = cls(port, address=address, password=password, timeout=timeout)
        sensor._link.owns_port = True
        return sensor

    @property
    def address(self) -> int:
        """The module address this driver talks to and accepts answers from."""
        return self._address

    # --- system ---------------------------------------------------------------------------

    def verify_password(self) -> None:
        """VfyPwd: prove the password to the module (needed when it is not 0)."""
        self._command(Instruction.VFY_PWD, struct.pack(">I", self.password), verify=False)

    def probe(self) -> None:
        """HandShake: a cheap liveness check; raises when the module does not answer."""
        self._command(Instruction.HANDSHAKE)

    def check_sensor(self) -> None:
        """CheckSensor (R503): raises code 0x29 if the reader is faulty."""
        self._command(Instruction.CHECK_SENSOR)

    def read_system_parameters(self) -> SystemParameters:
        reply = self._command(Instruction.READ_SYS_PARA, reply_size=16)
        status, system_id, library_size, level, address, size_code, baud_n = struct.unpack(
            ">HHHHIHH", reply[:16]
        )
        if size_code >= len(PACKET_SIZES):
            raise _unexpected(f"the sensor reports an unknown packet size code {size_code}")
        self._packet_size = PACKET_SIZES[size_code]
        return SystemParameters(
            status_register=status,
            system_id=system_id,
            library_size=library_size,
            security_level=level,
            address=address,
            packet_size=PACKET_SIZES[size_code],
            baud_rate=9600 * baud_n,
        )

    def set_baud_rate(self, bps: int) -> None:
        """SetSysPara register 4; the module answers at the old rate, then the port follows."""
        if bps % 9600 or not 1 <= bps // 9600 <= 12:
            raise ValueError(f"baud rate must be 9600 x N with N in 1..12, got {bps}")
        self._set_system_parameter(4, bps // 9600)
        # The module switches once its answer is out; give the last byte time to leave.
        time.sleep(0.01)
        try:
            self._link.port.baudrate = bps
        except (OSError, ValueError) as exc:
            raise fingerprint_error(
                DISCONNECTED, detail=f"it talks at {bps} baud, {self.port_name} cannot: {exc}"
            ) from None

    def set_security_level(self, level: int) -> None:
        """SetSysPara register 5: 1 (most permissive) .. 5 (strictest)."""
        if not 1 <= level <= 5:
            raise ValueError(f"security level must be 1..5, got {level}")
        self._set_system_parameter(5, level)

    def set_packet_size(self, size: int) -> None:
        """SetSysPara register 6: data packet content of 32, 64, 128 or 256 bytes."""
        if size not in PACKET_SIZES:
            raise ValueError(f"packet size must be one of {PACKET_SIZES}, got {size}")
        self._set_system_parameter(6, PACKET_SIZES.index(size))
        self._packet_size = size

    def _set_system_parameter(self, register: int, value: int) -> None:
        self._command(Instruction.SET_SYS_PARA, bytes([register, value]))

    def aura_led(
        self,
        mode: AuraMode,
        colour: AuraColour = AuraColour.BLUE,
        *,
        speed: int = 0x80,
        count: int = 0,
    ) -> None:
        """AuraLedConfig (R503 ring light): ``speed`` 0..255, ``count`` cycles (0 = forever)."""
        if not 0 <= speed <= 255 or not 0 <= count <= 255:
            raise ValueError("speed and count must be 0..255")
        self._command(
            Instruction.AURA_LED_CONFIG,
            bytes([AuraMode(mode), speed, AuraColour(colour), count]),
        )

    # --- capture --------------------------------------------------------------------------

    def capture_image(self) -> None:
        """GenImg: take an image into the image buffer; ``NO_FINGER`` (0x02) if none."""
        self._command(Instruction.GEN_IMG)

    def wait_for_finger(self, timeout: float = 10.0, *, poll_interval: float = 0.1) -> None:
        """Repeat GenImg until a finger is on the glass and its image is in the buffer."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.capture_image()
                return
            except RetryCaptureError as exc:
                if exc.code != NO_FINGER:
                    raise
                if time.monotonic() + poll_interval > deadline:
                    raise fingerprint_error(NO_FINGER, detail=f"within {timeout:g} s") from None
                time.sleep(poll_interval)

    def wait_for_finger_removed(self, timeout: float = 10.0, *, poll_interval: float = 0.1) -> None:
        """Repeat GenImg until it reports no finger (the applicant lifted the finger)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.capture_image()
            except RetryCaptureError as exc:
                if exc.code == NO_FINGER:
                    return
                # Any other: a finger half on the glass, still not lifted.
            if time.monotonic() + poll_interval > deadline:
                raise fingerprint_error(FINGER_NOT_LIFTED, detail=f"after {timeout:g} s")
            time.sleep(poll_interval)

    def image_to_template(self, buffer: int = 1) -> None:
        """Img2Tz (GenChar): features of the image buffer into character buffer 1 or 2."""
        self._command(Instruction.IMG2TZ, bytes([_check_buffer(buffer)]))

    def create_model(self) -> None:
        """RegModel: combine character buffers 1 and 2 into a template (in both buffers)."""
        self._command(Instruction.REG_MODEL)

    def read_image(self) -> FingerprintImage:
        """UpImage: the image buffer, 256 x 288 pixels (36,864 bytes on the wire)."""
        wire = self._upload(Instruction.UP_IMAGE, b"", expected=IMAGE_WIRE_BYTES)
        if len(wire) != IMAGE_WIRE_BYTES:
            raise _unexpected(
                f"the sensor sent an image of {len(wire)} bytes, expected {IMAGE_WIRE_BYTES}"
            )
        return FingerprintImage(IMAGE_WIDTH, IMAGE_HEIGHT, unpack_image(wire))

    # --- templates and library ------------------------------------------------------------

    def store_template(self, buffer: int, page_id: int) -> None:
        """Store: the template in a character buffer into the library at ``page_id``."""
        self._command(Instruction.STORE, struct.pack(">BH", _check_buffer(buffer), page_id))

    def load_template(self, buffer: int, page_id: int) -> None:
        """LoadChar: the template at ``page_id`` into a character buffer."""
        self._command(Instruction.LOAD_CHAR, struct.pack(">BH", _check_buffer(buffer), page_id))

    def read_template(self, buffer: int = 1) -> bytes:
        """UpChar: the content of a character buffer (512 bytes)."""
        data = self._upload(Instruction.UP_CHAR, bytes([_check_buffer(buffer)]))
        if len(data) != TEMPLATE_BYTES:
            log.warning("the sensor sent a template of %d bytes (expected 512)", len(data))
        return data

    def write_template(self, buffer: int, data: bytes) -> None:
        """DownChar: ``data`` (a template read with :meth:`read_template`) into a buffer."""
        if not data or len(data) > _MAX_TRANSFER:
            raise ValueError(f"a template has 1..{_MAX_TRANSFER} bytes, got {len(data)}")
        if self._packet_size is None:
            self.read_system_parameters()
        assert self._packet_size is not None
        packets = split_data(data, self._packet_size, self.address)
        self._command(Instruction.DOWN_CHAR, bytes([_check_buffer(buffer)]))
        for packet in packets:
            self._link.write(packet)

    def match(self) -> int:
        """Match: compare character buffers 1 and 2; the score, or :class:`NoMatchError`."""
        reply = self._command(Instruction.MATCH, reply_size=2)
        return int.from_bytes(reply[:2], "big")

    def search(self, buffer: int = 1, start: int = 0, count: int = 200) -> SearchResult:
        """Search the library pages ``start .. start+count-1`` for the buffer's finger."""
        reply = self._command(
            Instruction.SEARCH,
            struct.pack(">BHH", _check_buffer(buffer), start, count),
            reply_size=4,
        )
        page_id, score = struct.unpack(">HH", reply[:4])
        return SearchResult(page_id=page_id, score=score)

    def template_count(self) -> int:
        """TemplateNum: how many templates the library holds."""
        reply = self._command(Instruction.TEMPLATE_NUM, reply_size=2)
        return int.from_bytes(reply[:2], "big")

    def read_index_table(self, page: int = 0) -> set[int]:
        """ReadIndexTable: used page ids among ``256 * page .. 256 * page + 255``."""
        if not 0 <= page <= 3:
            raise ValueError(f"index table page must be 0..3, got {page}")
        reply = self._command(Instruction.READ_INDEX_TABLE, bytes([page]), reply_size=32)
        return decode_index_table(reply[:32], page)

    def delete_templates(self, page_id: int, count: int = 1) -> None:
        """DeletChar: delete ``count`` templates starting at ``page_id``."""
        self._command(Instruction.DELET_CHAR, struct.pack(">HH", page_id, count))

    def empty_library(self) -> None:
        """Empty: delete every template in the library."""
        self._command(Instruction.EMPTY)

    # --- exchanges ------------------------------------------------------------------------

    def _command(
        self,
        instruction: Instruction,
        parameters: bytes = b"",
        *,
        reply_size: int = 0,
        verify: bool = True,
    ) -> bytes:
        """Send a command and return the ack's content after the confirmation code."""

        def exchange() -> bytes:
            self._send_command(instruction, parameters)
            return self._read_ack(instruction, reply_size)

        return self._with_password(exchange) if verify else exchange()

    def _with_password(self, exchange: Callable[[], _T]) -> _T:
        try:
            return exchange()
        except FingerprintError as exc:
            if exc.code != PASSWORD_REQUIRED:
                raise
            log.info("fingerprint sensor on %s asks for its password; verifying", self.port_name)
            self.verify_password()
            return exchange()

    def _send_command(self, instruction: Instruction, parameters: bytes) -> None:
        with self._link.translating_failures():
            self._link.port.reset_input_buffer()
        self._reader.clear()
        self._link.write(encode_command(instruction, parameters, self.address))

    def _read_ack(self, instruction: Instruction, reply_size: int) -> bytes:
        while True:
            packet = self._read_packet(what=f"its answer to {instruction.name}")
            if packet.pid == PacketId.ACK:
                break
            if packet.pid not in (PacketId.DATA, PacketId.END):
                raise _unexpected(
                    f"the sensor sent a {packet.describe()} where an answer to "
                    f"{instruction.name} was due"
                )
            # The tail of a transfer abandoned earlier (after a damaged packet): not ours.
            wire_log.debug("<- stray data packet before the answer, dropped")
        if not packet.content:
            raise _unexpected(f"the sensor's answer to {instruction.name} is empty")
        code = packet.content[0]
        if code != 0:
            raise fingerprint_error(code, call=instruction.name)
        payload = packet.content[1:]
        if len(payload) < reply_size:
            raise _unexpected(
                f"the sensor's answer to {instruction.name} has {len(payload)} bytes of "
                f"parameters, expected {reply_size}"
            )
        return payload

    def _upload(self, instruction: Instruction, parameters: bytes, expected: int = 0) -> bytes:
        """A command answered by an ack and then data packets up to an end packet."""

        def exchange() -> bytes:
            self._send_command(instruction, parameters)
            try:
                self._read_ack(instruction, 0)
            except FingerprintError as exc:
                if exc.code in (DAMAGED_PACKET, UNEXPECTED_ANSWER):
                    # The data may be coming anyway: let it pass before the next command.
                    self._drain()
                raise
            return self._read_data(instruction, expected)

        return self._with_password(exchange)

    def _read_data(self, instruction: Instruction, expected: int) -> bytes:
        data = bytearray()
        first_error: FingerprintError | None = None
        what = f"the data of {instruction.name}"
        while True:
            try:
                packet = self._read_packet(what=what, received=len(data), expected=expected)
            except FingerprintError as exc:
                if exc.code == DAMAGED_PACKET:
                    # Keep reading to the end packet so the line is clean for the next command.
                    first_error = first_error or exc
                    continue
                if exc.code == NOT_ANSWERING and first_error is not None:
                    raise first_error from None
                raise
            if packet.pid == PacketId.ACK:
                raise _unexpected(f"the sensor sent an answer in the middle of {what}")
            if packet.pid not in (PacketId.DATA, PacketId.END):
                raise _unexpected(f"the sensor sent a {packet.describe()} within {what}")
            data += packet.content
            if len(data) > _MAX_TRANSFER:
                raise _unexpected(f"{what} goes beyond {_MAX_TRANSFER} bytes")
            if packet.pid == PacketId.END:
                break
        if first_error is not None:
            raise first_error
        return bytes(data)

    def _drain(self) -> None:
        """Discard what arrives until the line has been quiet for a moment (or ``timeout``)."""
        deadline = time.monotonic() + self.timeout
        quiet_since = time.monotonic()
        discarded = 0
        while time.monotonic() < deadline:
            chunk = self._link.read(4096)
            now = time.monotonic()
            if chunk:
                discarded += len(chunk)
                quiet_since = now
            elif now - quiet_since >= 2 * POLL_INTERVAL:
                break
        self._reader.clear()
        wire_log.debug("<- drained %d bytes after a damaged answer", discarded)

    def _read_packet(self, *, what: str, received: int = 0, expected: int = 0) -> Packet:
        """The next packet; the deadline restarts for every packet (a transfer may be long)."""
        deadline = time.monotonic() + self.timeout
        reader = self._reader
        while True:
            skipped = reader.skipped
            packet = reader.next_packet()
            if reader.skipped != skipped:
                wire_log.debug("<- skipped %d bytes of line noise", reader.skipped - skipped)
            if packet is not None:
                if wire_log.isEnabledFor(logging.DEBUG):
                    wire_log.debug("<- %s", packet.describe())
                return packet
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                progress = f" after {received} of {expected} bytes" if expected else ""
                raise fingerprint_error(
                    NOT_ANSWERING,
                    detail=f"on {self.port_name} ({self._link.port.baudrate} baud) waiting for "
                    f"{what}{progress}",
                )
            # At least what the parser needs in one read (a whole packet when it can).
            reader.feed(self._link.read_for(reader.bytes_needed))

    def _disconnected(self, exc: BaseException) -> FingerprintError:
        return fingerprint_error(DISCONNECTED, detail=f"on {self.port_name}: {exc}")


def _check_buffer(buffer: int) -> int:
    if buffer not in CHAR_BUFFERS:
        raise ValueError(f"character buffer must be 1 or 2, got {buffer}")
    return buffer


def _unexpected(detail: str) -> FingerprintError:
    return fingerprint_error(UNEXPECTED_ANSWER, detail=detail)

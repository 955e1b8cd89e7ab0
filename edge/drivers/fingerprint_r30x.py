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

What the driver does when the line misbehaves is described in ``fingerprint_r30x_exchange``.

Wire traffic is logged at DEBUG to ``ewp.wire.fingerprint``.
"""

from __future__ import annotations

import enum
import logging
import struct
import time
from dataclasses import dataclass

from edge.drivers.fingerprint_r30x_errors import (
    DISCONNECTED,
    FINGER_NOT_LIFTED,
    NO_FINGER,
    R30X_ERRORS,
    FingerprintError,
    NoMatchError,
    NotFoundError,
    RetryCaptureError,
    fingerprint_error,
)
from edge.drivers.fingerprint_r30x_exchange import (
    DEFAULT_BAUD_RATE,
    MAX_TRANSFER,
    Instruction,
    R30xExchange,
    unexpected_answer,
)
from edge.drivers.fingerprint_r30x_frames import (
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    IMAGE_WIRE_BYTES,
    TEMPLATE_BYTES,
    decode_index_table,
    split_data,
    unpack_image,
)

__all__ = [
    "DEFAULT_BAUD_RATE",
    "R30X_ERRORS",
    "AuraColour",
    "AuraMode",
    "FingerprintError",
    "FingerprintImage",
    "FingerprintSensor",
    "Instruction",
    "ModuleStatus",
    "NoMatchError",
    "NotFoundError",
    "RetryCaptureError",
    "SearchResult",
    "SystemParameters",
]

log = logging.getLogger(__name__)


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


class ModuleStatus(enum.IntFlag):
    """The bits of the module's status register (ReadSysPara)."""

    BUSY = 0x01
    MATCHED = 0x02  # the last Match/Search found the finger
    PASSWORD_VERIFIED = 0x04
    IMAGE_VALID = 0x08  # the image buffer holds a valid image


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
    def flags(self) -> ModuleStatus:
        """The status register's bits this driver knows."""
        return ModuleStatus(self.status_register & sum(ModuleStatus))


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


# --- the sensor ---------------------------------------------------------------------------


class FingerprintSensor(R30xExchange):
    """One R30x-family module on an open serial port.

    ::

        port = serial.serial_for_url("/dev/ttyUSB0", baudrate=57600, timeout=0.05)
        sensor = FingerprintSensor(port, password=0, timeout=2.0)
        sensor.wait_for_finger(15)
        image = sensor.read_image()

    The driver sets the port's read timeout to a short poll interval (50 ms); ``timeout`` is
    how long it waits for each packet of an answer. ``password`` is verified whenever the
    module asks for it. One thread at a time: the driver holds no lock. The exchanges on the
    line (and what the driver does when they go wrong) are ``fingerprint_r30x_exchange``'s.
    """

    # --- system ---------------------------------------------------------------------------

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
            raise unexpected_answer(f"the sensor reports an unknown packet size code {size_code}")
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
            raise unexpected_answer(
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
        if not data or len(data) > MAX_TRANSFER:
            raise ValueError(f"a template has 1..{MAX_TRANSFER} bytes, got {len(data)}")
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


def _check_buffer(buffer: int) -> int:
    if buffer not in CHAR_BUFFERS:
        raise ValueError(f"character buffer must be 1 or 2, got {buffer}")
    return buffer

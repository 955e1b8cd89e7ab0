"""The R30x module's exchanges over its serial line: commands, acks, data transfers.

:class:`R30xExchange` is what :class:`~edge.drivers.fingerprint_r30x.FingerprintSensor` is
built on: it sends a command packet and reads its acknowledgement, uploads and downloads data
packets, and turns what goes wrong on the line into the driver's one error type (codes of
``fingerprint_r30x_errors``). What it does on errors:

* before each command it discards whatever is waiting on the line (a late or stray reply),
  and while waiting for an answer it drops stray data packets of an abandoned transfer;
* line noise is skipped: the parser resynchronises on the start code and the address;
* a reply that does not come within ``timeout`` raises ``NOT_ANSWERING`` (the deadline
  restarts with each packet of a long transfer);
* a damaged packet raises ``DAMAGED_PACKET``; in the middle of a data transfer the rest
  of the transfer is read first, and after a damaged ack of an upload the line is drained,
  so that the line is clean for the next command;
* pyserial's ``SerialException``, an ``OSError`` or ``termios.error`` (cable pulled, pty
  closed, socket reset) becomes ``DISCONNECTED`` (the port handling the drivers share is
  ``serial_link``);
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
from typing import Protocol, Self, TypeVar

from edge.drivers.fingerprint_r30x_errors import (
    CANNOT_OPEN,
    DAMAGED_PACKET,
    DISCONNECTED,
    NOT_ANSWERING,
    PASSWORD_REQUIRED,
    UNEXPECTED_ANSWER,
    FingerprintError,
    fingerprint_error,
)
from edge.drivers.fingerprint_r30x_frames import (
    DEFAULT_ADDRESS,
    Packet,
    PacketId,
    PacketReader,
    encode_command,
)
from edge.drivers.serial_link import POLL_INTERVAL, SerialDriver, SerialLink

log = logging.getLogger(__name__)
wire_log = logging.getLogger("ewp.wire.fingerprint")

DEFAULT_BAUD_RATE = 57600
MAX_TRANSFER = 64 * 1024  # the longest data transfer the driver accepts (an image is 36 KiB)


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


class SerialPort(Protocol):
    """What the driver needs of a pyserial port (``serial.serial_for_url(...)``)."""

    baudrate: int
    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def reset_input_buffer(self) -> None: ...


_T = TypeVar("_T")


class R30xExchange(SerialDriver[SerialPort]):
    """Commands and data transfers with one R30x-family module on an open serial port.

    The port's read timeout becomes a short poll interval (50 ms); ``timeout`` is how long it
    waits for each packet of an answer. ``password`` is verified whenever the module asks for
    it. One thread at a time: it holds no lock.
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
    ) -> Self:
        """Open ``url`` with pyserial and drive it; :meth:`close` closes the port again."""
        return cls._on_url(
            url,
            baudrate,
            lambda detail: fingerprint_error(CANNOT_OPEN, detail=detail),
            address=address,
            password=password,
            timeout=timeout,
        )

    @property
    def address(self) -> int:
        """The module address this driver talks to and accepts answers from."""
        return self._address

    def verify_password(self) -> None:
        """VfyPwd: prove the password to the module (needed when it is not 0)."""
        self._command(Instruction.VFY_PWD, struct.pack(">I", self.password), verify=False)

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
                raise unexpected_answer(
                    f"the sensor sent a {packet.describe()} where an answer to "
                    f"{instruction.name} was due"
                )
            # The tail of a transfer abandoned earlier (after a damaged packet): not ours.
            wire_log.debug("<- stray data packet before the answer, dropped")
        if not packet.content:
            raise unexpected_answer(f"the sensor's answer to {instruction.name} is empty")
        code = packet.content[0]
        if code != 0:
            raise fingerprint_error(code, call=instruction.name)
        payload = packet.content[1:]
        if len(payload) < reply_size:
            raise unexpected_answer(
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
                raise unexpected_answer(f"the sensor sent an answer in the middle of {what}")
            if packet.pid not in (PacketId.DATA, PacketId.END):
                raise unexpected_answer(f"the sensor sent a {packet.describe()} within {what}")
            data += packet.content
            if len(data) > MAX_TRANSFER:
                raise unexpected_answer(f"{what} goes beyond {MAX_TRANSFER} bytes")
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
        packet = self._link.read_frame(self._reader, time.monotonic() + self.timeout)
        if packet is None:
            progress = f" after {received} of {expected} bytes" if expected else ""
            raise fingerprint_error(
                NOT_ANSWERING,
                detail=f"on {self.port_name} ({self._link.port.baudrate} baud) waiting for "
                f"{what}{progress}",
            )
        return packet

    def _disconnected(self, exc: BaseException) -> FingerprintError:
        return fingerprint_error(DISCONNECTED, detail=f"on {self.port_name}: {exc}")


def unexpected_answer(detail: str) -> FingerprintError:
    return fingerprint_error(UNEXPECTED_ANSWER, detail=detail)

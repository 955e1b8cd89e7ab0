"""The host's end of the station controller link: frames and reliable delivery, no I/O.

Frames are ``len | seq | payload | crc16 | 0x7E`` in the manner of Klipper's host-MCU
protocol; see ``docs/controller-protocol.md`` for the full contract. This module is sans-IO:
the driver feeds it received bytes, asks it what to write, and tells it the time, so tests can
run thousands of messages through a lossy channel on a virtual clock.

Unlike Klipper, both directions are reliable (a tamper event must not go missing). The host
starts every session with SYNC, choosing a new 3-bit *epoch* that tags every data frame of the
session, so stray frames from an earlier session are ignored; the board asks for a SYNC with
HELLO after it boots.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass

log = logging.getLogger("ewp.wire.controller")

SYNC_BYTE = 0x7E
OVERHEAD = 5
MIN_FRAME = 5
MAX_FRAME = 120
MAX_PAYLOAD = MAX_FRAME - OVERHEAD
MAX_MESSAGE = MAX_PAYLOAD

SEQ_MOD = 16
WINDOW = 8

CTL = 0x80
ACK = 0
NAK = 1
SYNC = 2
SYNC_ACK = 3
HELLO = 4
CONTROL_NAMES = {ACK: "ACK", NAK: "NAK", SYNC: "SYNC", SYNC_ACK: "SYNC_ACK", HELLO: "HELLO"}

MIN_RTO = 0.030
MAX_RTO = 2.0
INITIAL_RTO = 0.250
SYNC_RETRY_MIN = 0.100
SYNC_RETRY_MAX = 1.0


def crc16_mcrf4xx(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MCRF4XX: reflected poly 0x1021, init 0xFFFF, no final xor (check 0x6F91)."""
    crc = 0xFFFF
    for byte in data:
        d = byte ^ (crc & 0xFF)
        d = (d ^ (d << 4)) & 0xFF
        crc = ((d << 8) | (crc >> 8)) ^ (d >> 4) ^ (d << 3)
    return crc


def encode_frame(seq: int, payload: bytes) -> bytes:
    """One frame: ``len | seq | payload | crc16 (high byte first) | 0x7E``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    if not 0 <= seq <= 0xFF:
        raise ValueError(f"seq byte {seq} out of range")
    head = bytes((len(payload) + OVERHEAD, seq)) + payload
    crc = crc16_mcrf4xx(head)
    return head + bytes((crc >> 8, crc & 0xFF, SYNC_BYTE))


@dataclass(frozen=True)
class Frame:
    seq: int
    payload: bytes


class FrameParser:
    """Byte stream in, good frames out; skips to the next 0x7E after garbage or a bad frame."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._hunting = False
        self.frames = 0
        self.crc_errors = 0
        self.garbage = 0

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        buf = self._buf
        for b in data:
            if self._hunting:
                self.garbage += 1
                if b == SYNC_BYTE:
                    self._hunting = False
                continue
            if not buf:
                if b == SYNC_BYTE:
                    continue
                if not MIN_FRAME <= b <= MAX_FRAME:
                    self.garbage += 1
                    self._hunting = True
                    continue
            buf.append(b)
            if len(buf) < buf[0]:
                continue
            frame = bytes(buf)
            buf.clear()
            if frame[-1] != SYNC_BYTE:
                self.crc_errors += 1
                self._hunting = True
                continue
            crc = crc16_mcrf4xx(frame[:-3])
            if frame[-3] != crc >> 8 or frame[-2] != crc & 0xFF:
                self.crc_errors += 1
                continue
            self.frames += 1
            frames.append(Frame(seq=frame[1], payload=frame[2:-3]))
        return frames


def split_messages(payload: bytes) -> list[bytes]:
    """The messages (``id | len | body``) packed in one frame's payload."""
    out = []
    i = 0
    while i + 2 <= len(payload):
        end = i + 2 + payload[i + 1]
        if end > len(payload):
            break
        out.append(payload[i:end])
        i = end
    return out


@dataclass
class LinkStats:
    """How the link is doing, for health reports (OctoPrint-style 'resends / lines sent')."""

    frames_sent: int = 0
    frames_received: int = 0
    retransmits: int = 0
    naks_sent: int = 0
    crc_errors: int = 0
    garbage_bytes: int = 0
    syncs: int = 0
    board_resets: int = 0
    srtt: float | None = None
    rto: float = INITIAL_RTO


class HostLink:
    """Reliable, ordered delivery of messages to and from the board, on the caller's clock.

    ``send()`` queues a message; ``receive()`` takes bytes from the line; ``poll(now)``
    returns bytes to write; ``messages`` holds what arrived, in order. ``next_deadline()``
    says when ``poll`` must run again even if nothing arrives.
    """

    def __init__(self, *, epoch: int | None = None) -> None:
        self._parser = FrameParser()
        self._queue: deque[bytes] = deque()
        self._unacked: deque[tuple[bytes, float, bool]] = deque()  # payload, sent at, resent
        self._una = 0
        self._rx_next = 0
        self._epoch = epoch if epoch is not None else 1 + os.urandom(1)[0] % 7
        self._epoch = (self._epoch - 1) % 7 + 1
        self._session = bytes(4)
        self._pending_nonce: bytes | None = None
        self._sync_at = 0.0
        self._sync_retry = SYNC_RETRY_MIN
        self.established = False
        self._ack_due = False
        self._nak_sent = False
        self._srtt: float | None = None
        self._rttvar = 0.0
        self._rto = INITIAL_RTO
        self._timer_at: float | None = None
        self._out = bytearray()
        self.messages: deque[bytes] = deque()
        self.stats = LinkStats()

    # -- caller's side ---------------------------------------------------------------------

    def send(self, message: bytes) -> None:
        if not 2 <= len(message) <= MAX_MESSAGE or message[1] != len(message) - 2:
            raise ValueError(f"not a message (id | len | body): {message!r}")
        self._queue.append(message)

    def resync(self) -> None:
        """Start a new session (on open, or when the board asks with HELLO)."""
        self._pending_nonce = os.urandom(4)
        self._epoch = self._epoch % 7 + 1
        self._sync_at = 0.0
        self._sync_retry = SYNC_RETRY_MIN

    @property
    def unacknowledged(self) -> int:
        """Messages queued or in flight that the board has not acknowledged yet."""
        return len(self._queue) + len(self._unacked)

    def receive(self, data: bytes, now: float) -> None:
        frames = self._parser.feed(data)
        self.stats.crc_errors = self._parser.crc_errors
        self.stats.garbage_bytes = self._parser.garbage
        for frame in frames:
            self._on_frame(frame, now)

    def poll(self, now: float) -> bytes:
        if self._pending_nonce is not None:
            if now >= self._sync_at:
                self._send_sync()
                self._sync_at = now + self._sync_retry
                self._sync_retry = min(self._sync_retry * 2, SYNC_RETRY_MAX)
        elif self.established:
            if self._ack_due:
                self._ack_due = False
                self._control(ACK, bytes((self._rx_next,)))
            if self._unacked and self._timer_at is not None and now >= self._timer_at:
                self._rto = min(self._rto * 2, MAX_RTO)
                self._retransmit(now)
            while len(self._unacked) < WINDOW and self._queue:
                payload = bytearray()
                while self._queue and len(payload) + len(self._queue[0]) <= MAX_PAYLOAD:
                    payload += self._queue.popleft()
                if not self._unacked:
                    self._timer_at = now + self._rto
                self._send_data(len(self._unacked), bytes(payload))
                self._unacked.append((bytes(payload), now, False))
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_deadline(self) -> float | None:
        """The latest time at which ``poll`` must be called again, or None if not needed."""
        if self._pending_nonce is not None:
            return self._sync_at
        if self._ack_due or (self._queue and len(self._unacked) < WINDOW):
            return 0.0
        return self._timer_at if self._unacked else None

    # -- frames --------------------------------------------------------------------------

    def _on_frame(self, frame: Frame, now: float) -> None:
        seq = frame.seq
        epoch = (seq >> 4) & 7
        if seq & CTL:
            code = seq & 0x0F
            log.debug(
                "rx %s epoch %d %s", CONTROL_NAMES.get(code, code), epoch, frame.payload.hex()
            )
            if code == SYNC_ACK and len(frame.payload) == 6:
                self._on_sync_ack(frame.payload, epoch)
            elif code in (ACK, NAK) and len(frame.payload) == 1:
                if self._live() and epoch == self._epoch:
                    self._acked(frame.payload[0], now)
                    if code == NAK and frame.payload[0] == self._una and self._unacked:
                        self._retransmit(now)
            elif code == HELLO and len(frame.payload) == 4:
                self._on_hello(frame.payload)
            return
        if not self._live() or epoch != self._epoch:
            return
        s = seq & 0x0F
        log.debug("rx data seq %d %s", s, frame.payload.hex())
        if s == self._rx_next:
            self._rx_next = (s + 1) % SEQ_MOD
            self._ack_due = True
            self._nak_sent = False
            self.stats.frames_received += 1
            self.messages.extend(split_messages(frame.payload))
        elif (self._rx_next - s) % SEQ_MOD <= WINDOW:
            self._ack_due = True
        elif not self._nak_sent:
            self._nak_sent = True
            self.stats.naks_sent += 1
            self._control(NAK, bytes((self._rx_next,)))

    def _on_hello(self, session: bytes) -> None:
        if self._pending_nonce is not None:
            return  # a SYNC is already on its way
        if self.established and session == self._session:
            return  # a stale HELLO from before this session
        log.info("controller board asks for a new session (it restarted)")
        if self.established:
            self.stats.board_resets += 1
        self.resync()

    def _live(self) -> bool:
        """In a session and not in the middle of starting a new one."""
        return self.established and self._pending_nonce is None

    def _on_sync_ack(self, payload: bytes, epoch: int) -> None:
        if self._pending_nonce is None or payload[:4] != self._pending_nonce:
            return
        if epoch != self._epoch:
            return
        if payload[5] & 1:
            # Same board session as before: drop what it says it already has.
            self._acked(payload[4], None)
        # Renumber what is still unacknowledged from 0 and send it again in the new epoch.
        for payload_, _, _ in reversed(self._unacked):
            self._queue.extendleft(reversed(split_messages(payload_)))
        self._unacked.clear()
        self._una = 0
        self._rx_next = 0
        self._ack_due = False
        self._nak_sent = False
        self._timer_at = None
        self._session = self._pending_nonce
        self._pending_nonce = None
        self.established = True
        self.stats.syncs += 1
        log.info("controller link session established (epoch %d)", self._epoch)

    def _acked(self, n: int, now: float | None) -> None:
        d = (n - self._una) % SEQ_MOD
        if d == 0 or d > len(self._unacked):
            return
        last: tuple[bytes, float, bool] | None = None
        for _ in range(d):
            last = self._unacked.popleft()
        assert last is not None
        if now is not None and not last[2]:
            self._rtt_sample(now - last[1])
        self._una = n
        self._timer_at = None if now is None or not self._unacked else now + self._rto

    def _rtt_sample(self, r: float) -> None:
        r = max(r, 0.0)
        if self._srtt is None:
            self._srtt = r
            self._rttvar = r / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - r)
            self._srtt = 0.875 * self._srtt + 0.125 * r
        self._rto = min(max(self._srtt + max(0.004, 4 * self._rttvar), MIN_RTO), MAX_RTO)
        self.stats.srtt = self._srtt
        self.stats.rto = self._rto

    # -- output --------------------------------------------------------------------------

    def _send_sync(self) -> None:
        assert self._pending_nonce is not None
        flags = 1 if self.established else 0
        body = self._pending_nonce + self._session + bytes((self._rx_next if flags else 0, flags))
        self._control(SYNC, body)

    def _control(self, code: int, body: bytes) -> None:
        epoch = self._epoch if code != HELLO else 0
        log.debug("tx %s epoch %d %s", CONTROL_NAMES.get(code, code), epoch, body.hex())
        self._out += encode_frame(CTL | (epoch << 4) | code, body)

    def _send_data(self, k: int, payload: bytes) -> None:
        seq = (self._una + k) % SEQ_MOD
        log.debug("tx data seq %d %s", seq, payload.hex())
        self._out += encode_frame((self._epoch << 4) | seq, payload)
        self.stats.frames_sent += 1

    def _retransmit(self, now: float) -> None:
        self._out.append(SYNC_BYTE)
        for k, (payload, _, _) in enumerate(self._unacked):
            self._send_data(k, payload)
            self._unacked[k] = (payload, now, True)
        self.stats.retransmits += len(self._unacked)
        self._timer_at = now + self._rto

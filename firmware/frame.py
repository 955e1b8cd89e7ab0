# Frames of the host link: len | seq | payload | crc16 | 0x7E (docs/controller-protocol.md).
#
# len counts the whole frame (header, payload and trailer), so 5 <= len <= MAX_FRAME. The
# CRC is CRC-16/MCRF4XX over len, seq and payload, sent high byte first. 0x7E ends every frame
# and is never a valid length, so a receiver that lost its place skips to the next 0x7E.
#
# Pure: no machine, no time. It runs under MicroPython on the board and under CPython in the
# host's property tests.

try:
    from micropython import const
except ImportError:  # CPython, for the host's tests

    def const(value):
        return value


SYNC = const(0x7E)
OVERHEAD = const(5)
MIN_FRAME = const(5)
MAX_FRAME = const(120)
MAX_PAYLOAD = const(115)


def crc16(buf, start, end):
    """CRC-16/MCRF4XX (poly 0x1021 reflected, init 0xFFFF, no final xor) of buf[start:end]."""
    crc = 0xFFFF
    for i in range(start, end):
        d = buf[i] ^ (crc & 0xFF)
        d = (d ^ (d << 4)) & 0xFF
        crc = ((d << 8) | (crc >> 8)) ^ (d >> 4) ^ (d << 3)
    return crc


def encode(out, seq, payload, start, n):
    """Write the frame for payload[start:start+n] into out; return the frame length."""
    total = n + OVERHEAD
    out[0] = total
    out[1] = seq
    for i in range(n):
        out[2 + i] = payload[start + i]
    crc = crc16(out, 0, n + 2)
    out[n + 2] = crc >> 8
    out[n + 3] = crc & 0xFF
    out[n + 4] = SYNC
    return total


class FrameParser:
    """Collects bytes into frames; calls on_frame(buf, length) for each good one.

    buf[1] is the seq byte and the payload is buf[2:length - 3]. The buffer is reused: the
    callback must copy what it keeps. Counters: frames, crc_errors, garbage (bytes skipped).
    """

    def __init__(self, on_frame):
        self.on_frame = on_frame
        self.buf = bytearray(MAX_FRAME)
        self.n = 0
        self.hunting = False
        self.frames = 0
        self.crc_errors = 0
        self.garbage = 0

    def feed(self, data, count):
        buf = self.buf
        for i in range(count):
            b = data[i]
            if self.hunting:
                self.garbage += 1
                if b == SYNC:
                    self.hunting = False
                continue
            if self.n == 0:
                if b == SYNC:
                    continue  # idle sync byte between frames
                if b < MIN_FRAME or b > MAX_FRAME:
                    self.garbage += 1
                    self.hunting = True
                    continue
            buf[self.n] = b
            self.n += 1
            if self.n < buf[0]:
                continue
            length = self.n
            self.n = 0
            if b != SYNC:
                # The length byte was wrong (or bytes went missing): skip to the next 0x7E.
                self.crc_errors += 1
                self.hunting = True
                continue
            crc = crc16(buf, 0, length - 3)
            if buf[length - 3] != crc >> 8 or buf[length - 2] != crc & 0xFF:
                # The trailer was where it should be, so the next byte starts a frame.
                self.crc_errors += 1
                continue
            self.frames += 1
            self.on_frame(buf, length)

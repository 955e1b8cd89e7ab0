# NMEA 0183 sentences from a GPS receiver's UART, assembled into a preallocated line buffer.
# feed() returns the length of a complete sentence with a good checksum (without CR LF) in
# self.line, or 0.

MAX_SENTENCE = 82


def _hex(c):
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


class NMEAReader:
    def __init__(self):
        self.line = bytearray(MAX_SENTENCE + 2)
        self.n = 0
        self.bad = 0

    def feed_byte(self, c):
        if c == 0x24:  # '$' starts a sentence, wherever we were
            self.line[0] = c
            self.n = 1
            return 0
        if self.n == 0:
            return 0
        if c == 0x0D or c == 0x0A:
            n = self.n
            self.n = 0
            return n if self._valid(n) else 0
        if self.n >= MAX_SENTENCE:
            self.n = 0
            self.bad += 1
            return 0
        self.line[self.n] = c
        self.n += 1
        return 0

    def _valid(self, n):
        line = self.line
        if n < 6 or line[n - 3] != 0x2A:  # '*' before two hex digits
            self.bad += 1
            return False
        x = 0
        for i in range(1, n - 3):
            x ^= line[i]
        hi = _hex(line[n - 2])
        lo = _hex(line[n - 1])
        if hi < 0 or lo < 0 or (hi << 4 | lo) != x:
            self.bad += 1
            return False
        return True

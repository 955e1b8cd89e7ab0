# Just enough of the host's end of the link, in MicroPython, to talk to the firmware in tests.

import struct

from frame import FrameParser, encode

CTL = 0x80


class MiniHost:
    def __init__(self, hal, controller):
        self.hal = hal
        self.ctl = controller
        self.epoch = 3
        self.seq = 0
        self.rx_next = 0
        self.messages = []
        self.controls = []
        self.out = bytearray(128)
        self.parser = FrameParser(self._frame)

    def _frame(self, buf, length):
        seq = buf[1]
        payload = bytes(buf[2 : length - 3])
        if seq & CTL:
            self.controls.append((seq & 0x0F, payload))
            return
        if (seq >> 4) != self.epoch or (seq & 0x0F) != self.rx_next:
            return
        self.rx_next = (self.rx_next + 1) & 0x0F
        i = 0
        while i + 2 <= len(payload):
            end = i + 2 + payload[i + 1]
            self.messages.append(payload[i:end])
            i = end
        n = encode(self.out, CTL | (self.epoch << 4) | 0, bytes([self.rx_next]), 0, 1)
        self.hal.to_board(self.out[:n])

    def run(self, ms=50, step=5):
        """Advance time and let the board and this host exchange everything pending."""
        for _ in range(ms // step):
            self.hal.now += step
            self.ctl.step()
            data = self.hal.take_output()
            self.parser.feed(data, len(data))

    def sync(self):
        body = b"\x11\x22\x33\x44" + bytes(4) + b"\x00\x00"
        n = encode(self.out, CTL | (self.epoch << 4) | 2, body, 0, len(body))
        self.hal.to_board(self.out[:n])
        self.run(20)
        assert any(c[0] == 3 for c in self.controls), self.controls

    def send(self, mid, body):
        msg = bytes([mid, len(body)]) + body
        n = encode(self.out, (self.epoch << 4) | self.seq, msg, 0, len(msg))
        self.seq = (self.seq + 1) & 0x0F
        self.hal.to_board(self.out[:n])

    def request(self, mid, body=b"", ms=50):
        self.send(mid, body)
        self.run(ms)

    def take(self, mid):
        found = [msg for msg in self.messages if msg[0] == mid]
        self.messages = [msg for msg in self.messages if msg[0] != mid]
        return found

    def events(self):
        out = []
        for msg in self.take(0x85):
            s, ms, kind, value, count = struct.unpack(">IHBBH", msg[2:])
            out.append((kind, value, count))
        return out

# A hal for firmware tests under MicroPython: virtual time, an in-memory link, settable inputs
# and an SHT4x that answers on a fake I2C bus. Link I/O uses preallocated buffers so the
# firmware's loop can run with the heap locked.

from sht4x import crc8


class Pin:
    def __init__(self, level):
        self.level = level

    def value(self):
        return self.level


class I2C:
    def __init__(self):
        self.present = True
        self.temperature = 2500  # centi-degC
        self.humidity = 5000

    def writeto(self, address, buf):
        if not self.present or address != 0x44:
            raise OSError(19)

    def readfrom_into(self, address, buf):
        if not self.present or address != 0x44:
            raise OSError(19)
        t = (self.temperature + 4500) * 65535 // 17500
        h = (self.humidity + 600) * 65535 // 12500
        buf[0] = t >> 8
        buf[1] = t & 0xFF
        buf[2] = crc8(buf, 0, 2)
        buf[3] = h >> 8
        buf[4] = h & 0xFF
        buf[5] = crc8(buf, 3, 5)


class ADC:
    def __init__(self):
        self.raw = 20000

    def read_u16(self):
        return self.raw


class LEDs:
    def __init__(self, n):
        self.n = n
        self.px = [(0, 0, 0)] * n
        self.writes = 0

    def __setitem__(self, i, rgb):
        self.px[i] = rgb

    def write(self):
        self.writes += 1


class Buzzer:
    def __init__(self):
        self.hz = 0
        self.duty = 0
        self.tones = 0

    def freq(self, hz):
        self.hz = hz

    def duty_u16(self, duty):
        if duty and not self.duty:
            self.tones += 1
        self.duty = duty


class UART:
    def __init__(self):
        self.data = bytearray()

    def any(self):
        return len(self.data)

    def readinto(self, buf):
        n = min(len(buf), len(self.data))
        buf[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


class WDT:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class FakeHal:
    def __init__(self, climate=True, gps=True, board_id=b"\x01\x02\x03\x04\x05\x06\x07\x08"):
        self.now = 1000
        self.inbuf = bytearray(8192)  # host -> board
        self.in_len = 0
        self.in_pos = 0
        self.outbuf = bytearray(16384)  # board -> host
        self.out_len = 0
        self.leds = LEDs(3)
        self.buzzer = Buzzer()
        self.button = Pin(1)  # pull-up: 1 = released
        self.tamper = Pin(0)  # 0 = lid shut
        self.power_good = Pin(1)
        self.i2c = I2C() if climate else None
        self.battery_adc = ADC()
        self.gps = UART() if gps else None
        self.board_id = board_id
        self.resets = 0
        self.wdt = WDT()
        self.ticks_ms = self._ticks

    def _ticks(self):
        return self.now

    def to_board(self, data):
        n = len(data)
        self.inbuf[self.in_len : self.in_len + n] = data
        self.in_len += n

    def take_output(self):
        data = bytes(self.outbuf[: self.out_len])
        self.out_len = 0
        return data

    def link_read(self, buf):
        n = self.in_len - self.in_pos
        if n > len(buf):
            n = len(buf)
        for i in range(n):
            buf[i] = self.inbuf[self.in_pos + i]
        self.in_pos += n
        if self.in_pos == self.in_len:
            self.in_pos = self.in_len = 0
        return n

    def link_write(self, buf, n):
        o = self.out_len
        out = self.outbuf
        for i in range(n):
            out[o + i] = buf[i]
        self.out_len = o + n

    def unique_id(self):
        return self.board_id

    def reset_cause(self):
        return 0

    def random_bytes(self, n):
        import os

        return os.urandom(n)

    def watchdog(self, timeout_ms):
        return self.wdt

    def idle(self):
        pass

    def reset(self):
        self.resets += 1

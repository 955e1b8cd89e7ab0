# The simulated board (simulators/controller.py runs the firmware in MicroPython's unix port).
#
# The link is this process's stdin and stdout, which the simulator joins to a pty or a TCP
# port, just as the Pico's USB CDC carries both the link and the REPL. The rest of the board is
# a line-based channel to the simulator (EWP_SIM_HW=host:port):
#   simulator -> board: "temp <centi-degC>", "rh <centi-%>", "sensor 0|1", "bat <mV>",
#                       "button 0|1", "tamper 0|1" (1 = lid open), "power 0|1", "gps <NMEA>"
#   board -> simulator: "led <i> <r> <g> <b>", "buzzer <Hz> <duty>", "wdt <ms>", "feed",
#                       "reset"
# The simulated SHT4x answers on the I2C bus with raw words and CRCs, so the firmware's real
# driver runs; the battery voltage reaches the real divider arithmetic through a fake ADC.

import os
import select
import socket
import sys
import time

from sht4x import crc8

RESET_EXIT = 75


class _Channel:
    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.connect(socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)[0][-1])
        self.sock.setblocking(False)
        self.pending = b""
        self.state = {
            "temp": "3000", "rh": "6000", "sensor": "1", "bat": "13200",
            "button": "0", "tamper": "0", "power": "1",
        }
        self.gps = bytearray()

    def send(self, line):
        self.sock.setblocking(True)
        self.sock.send(line.encode() + b"\n")
        self.sock.setblocking(False)

    def pump(self):
        while True:
            try:
                data = self.sock.recv(512)
            except OSError:
                return
            if not data:
                sys.exit(0)  # the simulator went away
            self.pending += data
            while b"\n" in self.pending:
                line, _, self.pending = self.pending.partition(b"\n")
                key, _, value = line.decode().partition(" ")
                if key == "gps":
                    self.gps += value.encode() + b"\r\n"
                else:
                    self.state[key] = value

    def get(self, key):
        return int(self.state.get(key, "0"))


class _Pin:
    def __init__(self, channel, key, invert):
        self.channel = channel
        self.key = key
        self.invert = invert

    def value(self):
        self.channel.pump()
        v = 1 if self.channel.get(self.key) else 0
        return 1 - v if self.invert else v


class _SHT4x:
    # An SHT4x at 0x44 on the simulated I2C bus.
    def __init__(self, channel):
        self.channel = channel

    def writeto(self, address, buf):
        if address != 0x44 or not self.channel.get("sensor"):
            raise OSError(19)  # ENODEV: no ACK
        return len(buf)

    def readfrom_into(self, address, buf):
        if address != 0x44 or not self.channel.get("sensor"):
            raise OSError(19)
        t_raw = max(0, min(65535, (self.channel.get("temp") + 4500) * 65535 // 17500))
        rh_raw = max(0, min(65535, (self.channel.get("rh") + 600) * 65535 // 12500))
        buf[0] = t_raw >> 8
        buf[1] = t_raw & 0xFF
        buf[2] = crc8(buf, 0, 2)
        buf[3] = rh_raw >> 8
        buf[4] = rh_raw & 0xFF
        buf[5] = crc8(buf, 3, 5)


class _ADC:
    # The battery divider (47k / 10k) on a 3.3 V, 16-bit ADC.
    def __init__(self, channel):
        self.channel = channel

    def read_u16(self):
        pin_mv = self.channel.get("bat") * 10 // 57
        return max(0, min(65535, pin_mv * 65536 // 3300))


class _LEDs:
    def __init__(self, channel, n):
        self.channel = channel
        self.n = n
        self.px = [(0, 0, 0)] * n
        self.shown = list(self.px)

    def __setitem__(self, i, rgb):
        self.px[i] = rgb

    def write(self):
        for i in range(self.n):
            if self.px[i] != self.shown[i]:
                self.shown[i] = self.px[i]
                r, g, b = self.px[i]
                self.channel.send("led %d %d %d %d" % (i, r, g, b))


class _Buzzer:
    def __init__(self, channel):
        self.channel = channel
        self.hz = 0

    def freq(self, hz):
        self.hz = hz

    def duty_u16(self, duty):
        self.channel.send("buzzer %d %d" % (self.hz, duty))


class _GPS:
    def __init__(self, channel):
        self.channel = channel

    def any(self):
        self.channel.pump()
        return len(self.channel.gps)

    def readinto(self, buf):
        data = self.channel.gps
        n = min(len(buf), len(data))
        buf[:n] = data[:n]
        self.channel.gps = data[n:]
        return n


class _Watchdog:
    def __init__(self, channel, timeout_ms):
        self.channel = channel
        self.last = 0
        channel.send("wdt %d" % timeout_ms)

    def feed(self):
        now = time.ticks_ms()
        if time.ticks_diff(now, self.last) >= 250:
            self.last = now
            self.channel.send("feed")


class Hal:
    def __init__(self):
        self.channel = _Channel(os.getenv("EWP_SIM_HW"))
        self.stdin = sys.stdin.buffer
        self.stdout = sys.stdout.buffer
        self.poller = select.poll()
        self.poller.register(sys.stdin, select.POLLIN)
        self.one = bytearray(1)
        ch = self.channel
        self.leds = _LEDs(ch, 3)
        self.buzzer = _Buzzer(ch)
        self.button = _Pin(ch, "button", True)
        self.tamper = _Pin(ch, "tamper", False)
        self.power_good = _Pin(ch, "power", False)
        self.i2c = _SHT4x(ch)
        self.battery_adc = _ADC(ch)
        self.gps = _GPS(ch) if os.getenv("EWP_SIM_GPS") == "1" else None
        self.ticks_ms = time.ticks_ms

    def link_read(self, buf):
        n = 0
        one = self.one
        while n < len(buf) and self.poller.poll(0):
            if self.stdin.readinto(one) != 1:
                sys.exit(0)  # the line is gone: the simulator is shutting down
            buf[n] = one[0]
            n += 1
        return n

    def link_write(self, buf, n):
        self.stdout.write(buf[:n])

    def unique_id(self):
        return bytes.fromhex(os.getenv("EWP_SIM_BOARD_ID") or "e0e1e2e3e4e5e6e7")

    def reset_cause(self):
        return int(os.getenv("EWP_SIM_RESET_CAUSE") or "0")

    def random_bytes(self, n):
        return os.urandom(n)

    def watchdog(self, timeout_ms):
        return _Watchdog(self.channel, timeout_ms)

    def idle(self):
        # Sleep until the host or the simulator has something, at most a millisecond.
        self.poller.poll(1)

    def reset(self):
        self.channel.send("reset")
        sys.exit(RESET_EXIT)

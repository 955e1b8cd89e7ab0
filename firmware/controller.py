# The station controller: joins the host link to the panel, the sensors, the tamper latch and
# the GPS. step() does one pass of the main loop and never blocks; the hal (hal_rp2040 on the
# board, hal_sim in the simulator, a fake in tests) supplies every pin and bus.

import struct

import messages as m
from battery import Battery
from debounce import Debounced
from link import Link, ticks_add, ticks_diff
from msgring import MessageRing
from nmea import NMEAReader
from panel import Panel
from sht4x import SHT4x
from tamper import TamperLatch
from version import PROTOCOL, VERSION

LONG_PRESS_MS = 1500
HOST_LOST_LOOK = (255, 120, 0, m.LED_BLINK)  # amber, blinking: the station PC is not answering


class Controller:
    def __init__(self, hal, store):
        self.hal = hal
        self.store = store
        now = hal.ticks_ms()
        bid = bytes(hal.unique_id())
        self.board_id = (bid + bytes(8))[:8]
        rec = store.read("boot")
        self.boot_count = ((struct.unpack(">H", rec)[0] if rec and len(rec) == 2 else 0) + 1) & 0xFFFF
        store.write("boot", struct.pack(">H", self.boot_count))
        self.reset_cause = hal.reset_cause()
        self.link = Link(hal.link_write, hal.ticks_ms, self._on_message)
        self.rxbuf = bytearray(64)
        self.replies = MessageRing(8, 48)
        self.events = MessageRing(16, 12)
        self.panel = Panel(hal.leds, hal.buzzer)
        self.climate = SHT4x(hal.i2c) if hal.i2c is not None else None
        self.sensor_ok = False
        self.sensor_known = False  # no event for the first measurement after boot
        self.measuring = False
        self.measure_at = now
        self.battery = Battery(hal.battery_adc) if hal.battery_adc is not None else None
        self.button = Debounced(hal.button, now) if hal.button is not None else None
        self.pressed_at = now
        self.tamper_in = Debounced(hal.tamper, now) if hal.tamper is not None else None
        self.power_in = Debounced(hal.power_good, now) if hal.power_good is not None else None
        self.tamper = TamperLatch(store, self.board_id, hal.random_bytes)
        self.gps = NMEAReader() if hal.gps is not None else None
        self.gpsbuf = bytearray(32)
        self.gps_dropped = 0
        self.last = now
        self.up_s = 0
        self.up_ms = 0
        self.wall0 = -1  # wall clock (seconds since 2024-01-01 UTC) at uptime 0; -1 unset
        self.interval = 10
        self.host_timeout = 0
        self.next_reading = 1  # uptime second of the next scheduled reading
        self.reading_due = False
        self.host_seen = now
        self.host_lost = False
        self.test_left = 0
        self.reset_at = -1
        self.caps = m.CAP_WATCHDOG
        for present, cap in (
            (hal.leds, m.CAP_LEDS),
            (hal.buzzer, m.CAP_BUZZER),
            (hal.button, m.CAP_BUTTON),
            (hal.tamper, m.CAP_TAMPER),
            (hal.i2c, m.CAP_CLIMATE),
            (hal.battery_adc, m.CAP_BATTERY),
            (hal.gps, m.CAP_GPS),
            (hal.power_good, m.CAP_POWER_SENSE),
        ):
            if present is not None:
                self.caps |= cap
        self._boot_message()
        if self.tamper.latched:
            self._event(m.EV_TAMPER, 2, self.tamper.count)
        if self.tamper_in is not None and self.tamper_in.level == 1:
            self._tamper_opened()

    # -- time -----------------------------------------------------------------------------

    def _tick(self, now):
        dt = ticks_diff(now, self.last)
        self.last = now
        if dt > 0:
            self.up_ms += dt
            while self.up_ms >= 1000:
                self.up_ms -= 1000
                self.up_s += 1

    def wall_seconds(self):
        return 0 if self.wall0 < 0 else self.wall0 + self.up_s

    # -- outgoing -------------------------------------------------------------------------

    def _boot_message(self):
        v = VERSION.encode()
        off = self.replies.begin()
        b = self.replies.buf
        n = 6 + len(v)
        struct.pack_into(
            ">BBHBB", b, off, m.BOOT, n - 2, self.boot_count, self.reset_cause,
            1 if self.tamper.latched else 0,
        )
        b[off + 6 : off + n] = v
        self.replies.done(n)

    def _event(self, kind, value, count):
        off = self.events.begin()
        if off < 0:
            return
        struct.pack_into(
            ">BBIHBBH", self.events.buf, off, m.EVENT, 10, self.up_s, self.up_ms, kind, value,
            count,
        )
        self.events.done(12)

    def _result(self, tag, status):
        off = self.replies.begin()
        if off >= 0:
            struct.pack_into(">BBBB", self.replies.buf, off, m.RESULT, 2, tag, status)
            self.replies.done(4)

    def _send_readings(self):
        link = self.link
        off = link.reserve(15)
        if off < 0:
            return False
        flags = 0
        t = h = 0
        if self.sensor_ok:
            flags |= m.R_CLIMATE
            t = self.climate.temperature
            h = self.climate.humidity
        mv = 0
        if self.battery is not None:
            flags |= m.R_BATTERY
            mv = self.battery.millivolts
        if self.power_in is None or self.power_in.level == 1:
            flags |= m.R_EXT_POWER
        struct.pack_into(
            ">BBIHBhHH", link.obuf, off, m.READINGS, 13, self.up_s, self.up_ms, flags, t, h, mv
        )
        link.commit(15)
        return True

    def _flush(self):
        self.replies.drain(self.link)
        if self.replies.count:
            return
        self.events.drain(self.link)
        if self.events.count:
            return
        if self.reading_due and self._send_readings():
            self.reading_due = False
        link = self.link
        while self.test_left:
            if self.test_left & 1:
                off = link.reserve(12)
                if off < 0:
                    break
                struct.pack_into(
                    ">BBIHBBH", link.obuf, off, m.EVENT, 10, self.up_s, self.up_ms,
                    m.EV_LINK_TEST, 0, (self.test_left >> 1) & 0xFFFF,
                )
                link.commit(12)
            elif not self._send_readings():
                break
            self.test_left -= 1

    # -- incoming -------------------------------------------------------------------------

    def _on_message(self, buf, start, end):
        self.host_seen = self.hal.ticks_ms()
        if self.host_lost:
            self.host_lost = False
            self._event(m.EV_HOST, 1, 0)
        mid = buf[start]
        n = end - start - 2
        if n < 1:
            return
        tag = buf[start + 2]
        p = start + 3  # first byte after the tag
        if mid == m.PING and n == 5:
            off = self.replies.begin()
            if off >= 0:
                b = self.replies.buf
                b[off] = m.PONG
                b[off + 1] = 11
                for i in range(5):
                    b[off + 2 + i] = buf[start + 2 + i]
                struct.pack_into(">IH", b, off + 7, self.up_s, self.up_ms)
                self.replies.done(13)
        elif mid == m.IDENTIFY:
            self._identity(tag)
        elif mid == m.SET_LEDS and n >= 2 and (n - 2) % 4 == 0:
            first = buf[p]
            for k in range((n - 2) // 4):
                q = p + 1 + 4 * k
                self.panel.set_led(first + k, buf[q], buf[q + 1], buf[q + 2], buf[q + 3])
            self._result(tag, m.OK)
        elif mid == m.BUZZER and n == 2:
            self.panel.beep(buf[p], self.hal.ticks_ms())
            self._result(tag, m.OK)
        elif mid == m.TIME_SYNC and n == 7:
            secs = struct.unpack_from(">I", buf, p)[0]
            self.wall0 = secs - self.up_s
            self._result(tag, m.OK)
        elif mid == m.SET_CONFIG and n == 5:
            interval, timeout = struct.unpack_from(">HH", buf, p)
            if not 1 <= interval <= 3600:
                self._result(tag, m.BAD_REQUEST)
                return
            self.interval = interval
            self.host_timeout = timeout
            self.next_reading = self.up_s + interval
            self._result(tag, m.OK)
        elif mid == m.READ_SENSORS:
            self._result(tag, m.OK)
            self.next_reading = self.up_s  # measure now
        elif mid == m.GET_STATUS:
            self._status(tag)
        elif mid == m.TAMPER_CHALLENGE:
            nonce = self.tamper.challenge()
            off = self.replies.begin()
            if off >= 0:
                b = self.replies.buf
                b[off] = m.CHALLENGE
                b[off + 1] = 19
                b[off + 2] = tag
                b[off + 3 : off + 19] = nonce
                struct.pack_into(">H", b, off + 19, self.tamper.count)
                self.replies.done(21)
        elif mid == m.TAMPER_CLEAR and n == 17:
            status = self.tamper.clear(bytes(buf[p : p + 16]))
            self._result(tag, status)
            if status == m.OK:
                self._event(m.EV_TAMPER_CLEARED, 0, self.tamper.count)
        elif mid == m.MAINTENANCE:
            self.store.write("maintenance", b"1")
            self._result(tag, m.OK)
            self.reset_at = ticks_add(self.hal.ticks_ms(), 300)
        elif mid == m.LINK_TEST and n == 3:
            self.test_left = 2 * struct.unpack_from(">H", buf, p)[0]
            self._result(tag, m.OK)
        else:
            self._result(tag, m.UNKNOWN)

    def _identity(self, tag):
        v = VERSION.encode()
        off = self.replies.begin()
        if off < 0:
            return
        b = self.replies.buf
        n = 18 + len(v)
        struct.pack_into(
            ">BBBBHB", b, off, m.IDENTITY, n - 2, tag, PROTOCOL, self.caps, self.panel.n
        )
        b[off + 7 : off + 15] = self.board_id
        struct.pack_into(">HB", b, off + 15, self.boot_count, self.reset_cause)
        b[off + 18 : off + n] = v
        self.replies.done(n)

    def _status(self, tag):
        off = self.replies.begin()
        if off < 0:
            return
        flags = 0
        if self.tamper.latched:
            flags |= m.S_TAMPER
        if self.wall0 >= 0:
            flags |= m.S_TIME_SYNCED
        if self.sensor_ok:
            flags |= m.S_SENSOR
        if self.power_in is None or self.power_in.level == 1:
            flags |= m.S_EXT_POWER
        if self.tamper.provisioned():
            flags |= m.S_PROVISIONED
        if self.host_lost:
            flags |= m.S_HOST_LOST
        struct.pack_into(
            ">BBBBHIIHHH", self.replies.buf, off, m.STATUS, 18, tag, flags, self.tamper.count,
            self.tamper.at, self.up_s, (self.events.dropped + self.gps_dropped) & 0xFFFF,
            self.interval, self.host_timeout,
        )
        self.replies.done(20)

    # -- inputs ---------------------------------------------------------------------------

    def _tamper_opened(self):
        self.tamper.opened(self.wall_seconds())
        self._event(m.EV_TAMPER, 1, self.tamper.count)

    def _inputs(self, now):
        if self.tamper_in is not None and self.tamper_in.update(now, ticks_diff) == 1:
            self._tamper_opened()
        if self.button is not None:
            v = self.button.update(now, ticks_diff)
            if v == 0:
                self.pressed_at = now
            elif v == 1:
                held = ticks_diff(now, self.pressed_at)
                self._event(m.EV_BUTTON, 2 if held >= LONG_PRESS_MS else 1, 0)
        if self.power_in is not None:
            v = self.power_in.update(now, ticks_diff)
            if v >= 0:
                self._event(m.EV_POWER, v, 0)
        gps = self.gps
        if gps is not None:
            uart = self.hal.gps
            buf = self.gpsbuf
            while uart.any():
                k = uart.readinto(buf)
                if not k:
                    break
                for i in range(k):
                    ln = gps.feed_byte(buf[i])
                    if ln:
                        self._gps_sentence(ln)

    def _gps_sentence(self, ln):
        link = self.link
        off = link.reserve(8 + ln)
        if off < 0:
            self.gps_dropped += 1
            return
        b = link.obuf
        struct.pack_into(">BBIH", b, off, m.GPS, 6 + ln, self.up_s, self.up_ms)
        line = self.gps.line
        for i in range(ln):
            b[off + 8 + i] = line[i]
        link.commit(8 + ln)

    def _sensors(self, now):
        climate = self.climate
        if self.measuring:
            if ticks_diff(now, self.measure_at) < SHT4x.MEASURE_MS:
                return
            self.measuring = False
            try:
                climate.read()
                ok = True
            except OSError:
                ok = False
            self._sensor_state(ok)
            self.reading_due = True
            return
        if self.up_s - self.next_reading < 0:
            return
        self.next_reading = self.up_s + self.interval
        if self.battery is not None:
            self.battery.read()
        if climate is None:
            self.reading_due = True
            return
        try:
            climate.start()
            self.measuring = True
            self.measure_at = now
        except OSError:
            self._sensor_state(False)
            self.reading_due = True

    def _sensor_state(self, ok):
        if ok != self.sensor_ok and self.sensor_known:
            self._event(m.EV_SENSOR, 1 if ok else 0, 0)
        self.sensor_ok = ok
        self.sensor_known = True

    # -- main loop ------------------------------------------------------------------------

    def step(self):
        hal = self.hal
        now = hal.ticks_ms()
        self._tick(now)
        rx = self.rxbuf
        while True:
            k = hal.link_read(rx)
            if not k:
                break
            self.link.feed(rx, k)
        self._inputs(now)
        self._sensors(now)
        if (
            self.host_timeout
            and not self.host_lost
            and ticks_diff(now, self.host_seen) > self.host_timeout * 1000
        ):
            self.host_lost = True
            self._event(m.EV_HOST, 0, 0)
            look = HOST_LOST_LOOK
            self.panel.set_led(0, look[0], look[1], look[2], look[3])
        self._flush()
        self.link.poll()
        self.panel.update(now, ticks_diff)
        if self.reset_at >= 0 and ticks_diff(now, self.reset_at) >= 0:
            if not self.link.pending() or ticks_diff(now, self.reset_at) > 2000:
                hal.reset()

# The operator panel: a strip of RGB status LEDs (NeoPixel-like: n, [i] = (r, g, b), write())
# and a buzzer (PWM-like: freq(), duty_u16()). Either may be None. update(now) advances blinks
# and beep patterns without blocking and writes the LEDs only when they change.

from messages import LED_BLINK, LED_FAST, LED_PULSE

# pattern -> (frequency Hz, on ms, off ms, repeats; 0 = until told otherwise)
_PATTERNS = (
    None,
    (2700, 80, 0, 1),  # BEEP_SHORT: good capture
    (2700, 80, 80, 2),  # BEEP_DOUBLE: retry
    (2700, 600, 0, 1),  # BEEP_LONG: done
    (900, 150, 100, 3),  # BEEP_ERROR
    (3200, 250, 250, 0),  # BEEP_ALARM: tamper
)
_DUTY = 32768


class Panel:
    def __init__(self, leds, buzzer):
        self.leds = leds
        self.buzzer = buzzer
        self.n = leds.n if leds is not None else 0
        self.color = bytearray(3 * self.n)
        self.mode = bytearray(self.n)
        self.shown = bytearray(3 * self.n)
        self.dirty = True
        self.pattern = 0
        self.on = False
        self.left = 0
        self.next_at = 0
        if buzzer is not None:
            buzzer.duty_u16(0)

    def set_led(self, i, r, g, b, mode):
        if 0 <= i < self.n:
            c = self.color
            c[3 * i] = r
            c[3 * i + 1] = g
            c[3 * i + 2] = b
            self.mode[i] = mode
            self.dirty = True

    def beep(self, pattern, now):
        if self.buzzer is None:
            return
        if pattern <= 0 or pattern >= len(_PATTERNS):
            self.pattern = 0
            self.on = False
            self.buzzer.duty_u16(0)
            return
        self.pattern = pattern
        self.left = _PATTERNS[pattern][3]
        self._tone(True, now)

    def _tone(self, on, now):
        p = _PATTERNS[self.pattern]
        self.on = on
        if on:
            self.buzzer.freq(p[0])
            self.buzzer.duty_u16(_DUTY)
            self.next_at = (now + p[1]) & 0x3FFFFFFF
        else:
            self.buzzer.duty_u16(0)
            self.next_at = (now + p[2]) & 0x3FFFFFFF

    def update(self, now, diff):
        if self.pattern and diff(now, self.next_at) >= 0:
            if self.on:
                if self.left == 1:
                    self.pattern = 0
                    self.on = False
                    self.buzzer.duty_u16(0)
                else:
                    if self.left:
                        self.left -= 1
                    self._tone(False, now)
            else:
                self._tone(True, now)
        if self.leds is None:
            return
        changed = self.dirty
        self.dirty = False
        c = self.color
        s = self.shown
        for i in range(self.n):
            m = self.mode[i]
            # Brightness out of 16 for this LED now.
            if m == LED_BLINK:
                level = 16 if (now // 500) & 1 == 0 else 0
            elif m == LED_FAST:
                level = 16 if (now // 125) & 1 == 0 else 0
            elif m == LED_PULSE:
                phase = (now // 62) & 31
                level = phase if phase <= 16 else 32 - phase
            else:
                level = 16
            for k in range(3):
                v = (c[3 * i + k] * level) >> 4
                if s[3 * i + k] != v:
                    s[3 * i + k] = v
                    changed = True
        if changed:
            for i in range(self.n):
                self.leds[i] = (s[3 * i], s[3 * i + 1], s[3 * i + 2])
            self.leds.write()

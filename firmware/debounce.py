# A digital input read through a debounce interval: update() returns the new stable level
# when it changes, else -1.


class Debounced:
    def __init__(self, pin, now, interval_ms=30):
        self.pin = pin
        self.interval = interval_ms
        self.level = pin.value()
        self.candidate = self.level
        self.since = now

    def update(self, now, diff):
        v = self.pin.value()
        if v != self.candidate:
            self.candidate = v
            self.since = now
            return -1
        if v != self.level and diff(now, self.since) >= self.interval:
            self.level = v
            return v
        return -1

# A fixed ring of whole messages waiting for room on the link (replies, events), so that
# nothing that matters is dropped while the window is full, and nothing is allocated.


class MessageRing:
    def __init__(self, slots, size):
        self.buf = bytearray(slots * size)
        self.lens = bytearray(slots)
        self.slots = slots
        self.size = size
        self.head = 0
        self.count = 0
        self.dropped = 0

    def begin(self):
        """Offset in buf for a new message of up to size bytes, or -1 when full."""
        if self.count == self.slots:
            self.dropped += 1
            return -1
        return ((self.head + self.count) % self.slots) * self.size

    def done(self, n):
        self.lens[(self.head + self.count) % self.slots] = n
        self.count += 1

    def drain(self, link):
        """Move queued messages into the link while it has room."""
        while self.count:
            off = self.head * self.size
            if not link.send(self.buf, off, self.lens[self.head]):
                return
            self.head = (self.head + 1) % self.slots
            self.count -= 1

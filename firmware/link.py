# The board's end of the reliable host link (docs/controller-protocol.md).
#
# Sans-IO: the caller feeds received bytes, calls poll() often, and gives a write function and
# a millisecond tick source, so the same code runs on the board, in the board simulator and in
# the host's CPython tests with a virtual clock. Messages (id | len | body) are packed into
# frames of up to MAX_PAYLOAD bytes; up to WINDOW frames are in flight; lost or corrupt frames
# are retransmitted after an adaptive timeout (RFC 6298 estimator, Karn's rule) or at once
# after a NAK. The host starts each session with SYNC; until then the board says HELLO.
#
# No allocation after construction: buffers are preallocated and messages are written in place
# (reserve() + commit()).

from frame import MAX_FRAME, MAX_PAYLOAD, FrameParser, encode

try:
    from micropython import const
except ImportError:  # CPython, for the host's tests

    def const(value):
        return value


WINDOW = const(8)  # frames in flight; sequence numbers are mod 16
NSLOTS = const(9)  # WINDOW sent frames + the one being filled
MIN_RTO = const(30)
MAX_RTO = const(2000)
INITIAL_RTO = const(250)
HELLO_INTERVAL = const(500)

CTL = const(0x80)
ACK = const(0)
NAK = const(1)
SYNC_REQ = const(2)
SYNC_ACK = const(3)
HELLO = const(4)


def ticks_diff(a, b):
    """a - b for MicroPython's ms ticks, which wrap at 2**30."""
    return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000


def ticks_add(a, ms):
    return (a + ms) & 0x3FFFFFFF


class Link:
    def __init__(self, write, ticks_ms, on_message):
        self._write = write  # write(buf, n): put n bytes of buf on the line
        self._ticks = ticks_ms
        self._on_message = on_message  # on_message(buf, start, end): one message, in order
        self.slots = [bytearray(MAX_PAYLOAD) for _ in range(NSLOTS)]
        self.slen = bytearray(NSLOTS)
        self.sent_at = [0] * NSLOTS
        self.retx = bytearray(NSLOTS)
        self.head = 0  # ring index of the oldest unacknowledged frame
        self.una = 0  # its sequence number
        self.nsent = 0  # frames sent and not yet acknowledged
        self.nq = 0  # whole frames waiting for room in the window (after a resync)
        self.rx_next = 0
        self.epoch = 0
        self.session = bytearray(4)
        self.established = False
        self.ack_due = False
        self.nak_sent = False
        self.srtt8 = 0
        self.rttvar4 = 0
        self.rto = INITIAL_RTO
        self.timer_at = 0
        self.hello_at = 0
        self.sa_rx = 0  # what our last SYNC_ACK said, to repeat it for a repeated SYNC
        self.sa_flags = 0
        self.txf = bytearray(MAX_FRAME)
        self.ctl = bytearray(8)
        self.parser = FrameParser(self._frame)
        self.frames_sent = 0
        self.retransmits = 0
        self.naks_sent = 0
        self.syncs = 0
        self.obuf = self.slots[0]  # the frame being filled: reserve() returns an offset in it

    # -- sending --------------------------------------------------------------------------

    def reserve(self, n):
        """Room for an n-byte message in obuf: its offset, or -1 while the window is full."""
        if n > MAX_PAYLOAD:
            return -1
        pos = (self.head + self.nsent + self.nq) % NSLOTS
        used = self.slen[pos]
        if used + n <= MAX_PAYLOAD:
            self.obuf = self.slots[pos]
            return used
        if self.nsent + self.nq + 1 >= NSLOTS:
            return -1
        self.nq += 1  # close the full frame, open the next
        pos = (pos + 1) % NSLOTS
        self.slen[pos] = 0
        self.obuf = self.slots[pos]
        return 0

    def commit(self, n):
        """The n bytes at the offset reserve() gave now hold a whole message."""
        pos = (self.head + self.nsent + self.nq) % NSLOTS
        self.slen[pos] += n

    def send(self, buf, start, n):
        """Copy one message buf[start:start+n] into the outgoing frames; False if no room."""
        off = self.reserve(n)
        if off < 0:
            return False
        out = self.obuf
        for i in range(n):
            out[off + i] = buf[start + i]
        self.commit(n)
        return True

    def pending(self):
        """Frames not yet acknowledged by the host, including the one being filled."""
        pos = (self.head + self.nsent + self.nq) % NSLOTS
        return self.nsent + self.nq + (1 if self.slen[pos] else 0)

    # -- receiving ------------------------------------------------------------------------

    def feed(self, data, n):
        self.parser.feed(data, n)

    def _frame(self, buf, length):
        seq = buf[1]
        end = length - 3
        ep = (seq >> 4) & 7
        if seq & CTL:
            code = seq & 0x0F
            if code == SYNC_REQ and end - 2 == 10 and ep:
                self._on_sync(buf, ep)
            elif (code == ACK or code == NAK) and end - 2 == 1:
                if self.established and ep == self.epoch:
                    self._acked(buf[2])
                    if code == NAK and buf[2] == self.una and self.nsent:
                        self._retransmit()
            return
        if not self.established or ep != self.epoch:
            return
        s = seq & 0x0F
        if s == self.rx_next:
            self.rx_next = (s + 1) & 0x0F
            self.ack_due = True
            self.nak_sent = False
            i = 2
            while i + 2 <= end:
                stop = i + 2 + buf[i + 1]
                if stop > end:
                    break
                self._on_message(buf, i, stop)
                i = stop
        elif ((self.rx_next - s) & 0x0F) <= WINDOW:
            self.ack_due = True  # a repeat: our ack was lost
        elif not self.nak_sent:
            self.nak_sent = True
            self.naks_sent += 1
            self._control(NAK, self.epoch, self.rx_next)

    def _on_sync(self, buf, ep):
        nonce = buf[2:6]
        session = self.session
        if self.established and nonce == session and ep == self.epoch:
            self._sync_ack()  # our SYNC_ACK was lost
            return
        same = self.established and buf[6:10] == session
        if same and buf[11] & 1:
            self._acked(buf[10])  # what the host got before it resynchronised
        self.sa_rx = self.rx_next
        self.sa_flags = 1 if same else 0
        # Start the new session: frames still unacknowledged are renumbered from 0 and sent
        # again in the new epoch.
        session[:] = nonce
        self.epoch = ep
        self.rx_next = 0
        self.una = 0
        self.nq += self.nsent
        self.nsent = 0
        self.ack_due = False
        self.nak_sent = False
        self.established = True
        self.syncs += 1
        self._sync_ack()

    def _sync_ack(self):
        c = self.ctl
        for i in range(4):
            c[i] = self.session[i]
        c[4] = self.sa_rx
        c[5] = self.sa_flags
        n = encode(self.txf, CTL | (self.epoch << 4) | SYNC_ACK, c, 0, 6)
        self._write(self.txf, n)

    def _control(self, code, ep, value):
        c = self.ctl
        c[0] = value
        n = encode(self.txf, CTL | (ep << 4) | code, c, 0, 1)
        self._write(self.txf, n)

    def _acked(self, n):
        d = (n - self.una) & 0x0F
        if d == 0 or d > self.nsent:
            return
        now = self._ticks()
        pos = (self.head + d - 1) % NSLOTS
        if not self.retx[pos]:
            self._rtt_sample(ticks_diff(now, self.sent_at[pos]))
        self.head = (self.head + d) % NSLOTS
        self.una = n
        self.nsent -= d
        self.timer_at = ticks_add(now, self.rto)

    def _rtt_sample(self, r):
        if r < 0:
            r = 0
        if self.srtt8 == 0:
            self.srtt8 = (r << 3) or 1
            self.rttvar4 = r << 1
        else:
            err = r - (self.srtt8 >> 3)
            self.srtt8 += err
            if self.srtt8 <= 0:
                self.srtt8 = 1
            if err < 0:
                err = -err
            self.rttvar4 += err - (self.rttvar4 >> 2)
        rto = (self.srtt8 >> 3) + max(4, self.rttvar4)
        self.rto = MIN_RTO if rto < MIN_RTO else (MAX_RTO if rto > MAX_RTO else rto)

    # -- timers ---------------------------------------------------------------------------

    def _send_frame(self, k, now):
        pos = (self.head + k) % NSLOTS
        seq = (self.epoch << 4) | ((self.una + k) & 0x0F)
        n = encode(self.txf, seq, self.slots[pos], 0, self.slen[pos])
        self._write(self.txf, n)
        self.sent_at[pos] = now
        self.frames_sent += 1

    def _retransmit(self):
        now = self._ticks()
        self.txf[0] = 0x7E  # a lone sync byte first, so a receiver that lost its place recovers
        self._write(self.txf, 1)
        for k in range(self.nsent):
            self.retx[(self.head + k) % NSLOTS] = 1
            self._send_frame(k, now)
        self.retransmits += self.nsent
        self.timer_at = ticks_add(now, self.rto)

    def poll(self):
        now = self._ticks()
        if not self.established:
            if ticks_diff(now, self.hello_at) >= 0:
                self.hello_at = ticks_add(now, HELLO_INTERVAL)
                c = self.ctl
                for i in range(4):
                    c[i] = self.session[i]
                n = encode(self.txf, CTL | HELLO, c, 0, 4)
                self._write(self.txf, n)
            return
        if self.ack_due:
            self.ack_due = False
            self._control(ACK, self.epoch, self.rx_next)
        if self.nsent and ticks_diff(now, self.timer_at) >= 0:
            self.rto = self.rto * 2 if self.rto < MAX_RTO // 2 else MAX_RTO
            self._retransmit()
        while self.nsent < WINDOW:
            if self.nq == 0:
                pos = (self.head + self.nsent) % NSLOTS
                if not self.slen[pos]:
                    break
                self.nq = 1  # close the frame being filled
                self.slen[(pos + 1) % NSLOTS] = 0
            if self.nsent == 0:
                self.timer_at = ticks_add(now, self.rto)
            self.retx[(self.head + self.nsent) % NSLOTS] = 0
            self._send_frame(self.nsent, now)
            self.nsent += 1
            self.nq -= 1

# The enclosure's tamper switch, latched on flash until an authorised clear.
#
# The switch closes a loop while the lid is shut (pin reads 0 with its pull-up); opening the
# lid or cutting the wire reads 1. The first opening latches: the record (latched, count, time)
# is written to flash at once, so a power cycle keeps it. Only a TAMPER_CLEAR carrying
# HMAC-SHA256(board secret, "ewp-tamper-clear" | board_id | nonce | count)[:16] for a fresh
# challenge nonce clears it; each challenge is good for one attempt.

import struct

from hmac_sha256 import equal, hmac_sha256

_RECORD = "tamper"
_SECRET = "secret"
_DOMAIN = b"ewp-tamper-clear"


class TamperLatch:
    def __init__(self, store, board_id, random_bytes):
        self.store = store
        self.board_id = board_id
        self.random_bytes = random_bytes
        self.latched = False
        self.count = 0
        self.at = 0  # seconds since 2024-01-01 UTC when it latched, 0 if the clock was unset
        self.nonce = None
        rec = store.read(_RECORD)
        if rec is not None and len(rec) == 7:
            latched, self.count, self.at = struct.unpack(">BHI", rec)
            self.latched = latched == 1

    def provisioned(self):
        return self.store.exists(_SECRET)

    def _save(self):
        self.store.write(_RECORD, struct.pack(">BHI", 1 if self.latched else 0, self.count, self.at))

    def opened(self, wall_seconds):
        """The switch opened: latch and persist before anything else happens."""
        self.count = (self.count + 1) & 0xFFFF
        if not self.latched:
            self.latched = True
            self.at = wall_seconds
        self._save()

    def challenge(self):
        self.nonce = self.random_bytes(16)
        return self.nonce

    def expected(self, secret, nonce):
        msg = _DOMAIN + self.board_id + nonce + struct.pack(">H", self.count)
        return hmac_sha256(secret, msg)[:16]

    def clear(self, mac):
        """Check an authorisation; returns a messages.RESULT status code."""
        from messages import NO_CHALLENGE, NOT_PROVISIONED, OK, UNAUTHORISED

        nonce = self.nonce
        self.nonce = None  # one attempt per challenge
        secret = self.store.read(_SECRET)
        if secret is None:
            return NOT_PROVISIONED
        if nonce is None:
            return NO_CHALLENGE
        if not equal(self.expected(secret, nonce), mac):
            return UNAUTHORISED
        self.latched = False
        self.at = 0
        self._save()
        return OK

"""The authorisation that clears a station controller's tamper latch.

A board latches its tamper switch on flash and clears it only for a MAC made with its own
secret, provisioned at deploy and held by the fleet, never by the station: so a station whose
enclosure was opened cannot clear its own latch. The board issues a single-use 16-byte nonce
(a challenge); the fleet answers with

    HMAC-SHA256(secret, "ewp-tamper-clear" | board_id (8) | nonce (16) | tamper_count (2, BE))

truncated to 16 bytes; the station only relays it. Binding the tamper count means a MAC made
for one opening cannot clear a later one. See docs/controller-protocol.md.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

DOMAIN = b"ewp-tamper-clear"
MAC_LENGTH = 16
SECRET_LENGTH = 32


def tamper_clear_mac(secret: bytes, board_id: bytes, nonce: bytes, tamper_count: int) -> bytes:
    if len(board_id) != 8 or len(nonce) != 16:
        raise ValueError("board_id must be 8 bytes and nonce 16 bytes")
    message = DOMAIN + board_id + nonce + struct.pack(">H", tamper_count & 0xFFFF)
    return hmac.new(secret, message, hashlib.sha256).digest()[:MAC_LENGTH]

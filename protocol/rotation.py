"""Key and broker-credential rotation, as carried by commands (docs/protocol.md, "Rotation").

Key rotation: the fleet sends ``rotate-key`` with a random ``nonce``. The station makes a new
Ed25519 key, keeps it aside, and answers (the answer signed with its *current* key, as every
command response) with the new public key and ``proof``: the new key's signature over
``rotation_message(...)``. Both keys are thereby proven. The fleet registers the new key (keeping
the old one for a grace period, for packets sealed before the switch) and sends
``activate-key`` naming the new key id; the station then signs with the new key.

Credential rotation: the fleet sends ``rotate-credentials``; the station makes a new broker
password, stores it beside the current one, and answers with it (over its own authenticated
MQTT connection, which carries its password at every connect anyway). The fleet sets it in the
broker, which disconnects the station; the station logs in again with the new password.
"""

from __future__ import annotations

ROTATE_KEY = "rotate-key"
ACTIVATE_KEY = "activate-key"
ROTATE_CREDENTIALS = "rotate-credentials"
KEY_ROTATION_CONTEXT = b"ewp-key-rotation\x00v1\x00"
MIN_PASSWORD_LENGTH = 32


def rotation_message(
    station_id: str, command_id: str, nonce: str, old_key_id: str, new_public_raw: bytes
) -> bytes:
    """What the new key signs: binds it to this station, this request and the old key."""
    return (
        KEY_ROTATION_CONTEXT
        + "\x00".join((station_id, command_id, nonce, old_key_id)).encode("ascii")
        + b"\x00"
        + new_public_raw
    )

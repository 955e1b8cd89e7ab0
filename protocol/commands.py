"""Signing of command responses: the fleet believes an answer only if the station's key signed
it (the broker ACL already keeps other stations off this topic; the signature also proves it
to anyone who later reads the stored response)."""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from protocol.envelope import canonical_json
from protocol.errors import SignatureError
from protocol.messages import CommandResponse

CONTEXT = b"ewp-command-response\x00v1\x00"


def _signed_bytes(response: CommandResponse) -> bytes:
    return CONTEXT + canonical_json(response.model_dump(mode="json", exclude={"signature"}))


def sign_response(response: CommandResponse, key: ed25519.Ed25519PrivateKey) -> CommandResponse:
    signature = base64.b64encode(key.sign(_signed_bytes(response))).decode()
    return response.model_copy(update={"signature": signature})


def verify_response(response: CommandResponse, key: ed25519.Ed25519PublicKey) -> None:
    try:
        key.verify(base64.b64decode(response.signature, validate=True), _signed_bytes(response))
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"response to command {response.command_id} is not signed by station "
            f"{response.station_id}'s key"
        ) from None

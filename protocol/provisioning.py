"""Provisioning: how a new station claims its identity with a one-time token.

1. A fleet admin registers the station (``ewp fleet station add NAME``) and gets a claim token.
2. On the station, ``ewp agent provision`` generates an Ed25519 key and POSTs a ClaimRequest to
   ``{fleet}/api/v1/provisioning/claim``: the token, the public key, and a proof of possession
   (the key's signature over CLAIM_CONTEXT + token + public key).
3. The fleet checks the token (unused, not expired) and the proof, registers the key, creates the
   station's broker credentials and ACL, and answers with a ClaimResponse. The token is spent.
"""

from __future__ import annotations

from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pydantic import BaseModel, ConfigDict, Field

CLAIM_PATH = "/api/v1/provisioning/claim"
CA_PATH = "/api/v1/provisioning/ca.pem"
CLAIM_CONTEXT = b"ewp-claim\x00v1\x00"


def claim_message(token: str, public_key_raw: bytes) -> bytes:
    """What the station signs to prove it holds the key it registers."""
    return CLAIM_CONTEXT + token.encode("utf-8") + b"\x00" + public_key_raw


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    token: str = Field(min_length=16, max_length=128)
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    proof: str = Field(description="base64 Ed25519 signature over claim_message(...)")
    software_version: str = Field(default="unknown", max_length=64)


class MqttAccess(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int
    username: str
    password: str
    client_id: str
    tls: bool = False


class ClaimResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    station_id: str
    kind: str
    fleet_url: str
    mqtt: MqttAccess
    central_public_key: dict[str, str]


# -- the fleet's CA, pinned by the station ---------------------------------------------------

PIN_SEPARATOR = "."
FINGERPRINT_HEX_LEN = 64


def ca_fingerprint(pem: bytes) -> str:
    """SHA-256 of the CA certificate's DER encoding, lower-case hex (what a claim token pins)."""
    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()


def pinned_token(secret: str, fingerprint: str | None) -> str:
    """The claim token an admin hands to the station: the one-time secret, and the fleet CA's
    fingerprint after a dot when the fleet has one (``token_urlsafe`` never contains a dot)."""
    if fingerprint is None:
        return secret
    return f"{secret}{PIN_SEPARATOR}{fingerprint}"


def split_claim_token(token: str) -> tuple[str, str | None]:
    """(the one-time secret the fleet checks, the CA fingerprint the station pins or None).
    A malformed pin is an error."""
    token = token.strip()
    if PIN_SEPARATOR not in token:
        return token, None
    secret, pin = token.rsplit(PIN_SEPARATOR, 1)
    pin = pin.lower()
    if len(pin) != FINGERPRINT_HEX_LEN or any(c not in "0123456789abcdef" for c in pin):
        raise ValueError("the claim token's CA fingerprint is malformed: copy the whole token")
    return secret, pin

"""The sealed-packet envelope: published vectors, tampering, and the properties it promises."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.envelope import (
    SealedPacket,
    hpke_info,
    open_packet,
    parse_signed_header,
    seal_packet,
)
from protocol.errors import DecryptionError, EnvelopeError, ProtocolError, SignatureError
from protocol.keys import CentralPrivateKey, CentralPublicKey, KeyFileError
from tests.protocol.vector_keys import central_key, other_station_key, station_key

VECTORS = json.loads((Path(__file__).parent / "vectors" / "envelope-v1.json").read_text())[
    "vectors"
]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["kem"] for v in VECTORS])
def test_published_vector_verifies_and_opens(vector: dict[str, str]) -> None:
    packet = SealedPacket.from_bytes(bytes.fromhex(vector["envelope_hex"]))
    packet.verify(station_key().public_key())
    assert packet.header_bytes.decode() == vector["header_json"]
    assert packet.signature.hex() == vector["signature_hex"]
    assert packet.header.recipient == vector["central_key_id"]
    assert hpke_info(vector["station_id"], vector["packet_id"]).hex() == vector["info_hex"]
    key = central_key(vector["kem"])  # type: ignore[arg-type]
    assert key.public_key().key_id == vector["central_key_id"]
    assert open_packet(packet, key) == bytes.fromhex(vector["plaintext_hex"])


def test_default_kem_is_the_post_quantum_hybrid() -> None:
    packet = _seal(b"x")
    assert packet.header.kem == "MLKEM768_X25519"
    assert packet.header.kdf == "HKDF_SHA256"
    assert packet.header.aead == "CHACHA20_POLY1305"


def _seal(
    plaintext: bytes, packet_id: str = "ab" * 16, kem: str = "MLKEM768_X25519"
) -> SealedPacket:
    return seal_packet(
        plaintext,
        station_id="ct-07",
        packet_id=packet_id,
        seq=7,
        recipient=central_key(kem).public_key(),  # type: ignore[arg-type]
        signer=station_key(),
    )


def test_round_trip_through_bytes() -> None:
    packet = _seal(b"biometrics" * 1000)
    again = SealedPacket.from_bytes(packet.to_bytes())
    assert again == packet
    assert open_packet(again, central_key("MLKEM768_X25519")) == b"biometrics" * 1000


def test_station_cannot_read_back_what_it_sealed() -> None:
    """The station holds only the public key: a freshly generated private key does not open."""
    packet = _seal(b"secret")
    with pytest.raises(DecryptionError, match="sealed to central key"):
        open_packet(packet, CentralPrivateKey.generate())


def test_flipped_bit_in_sealed_body_is_detected() -> None:
    data = bytearray(_seal(b"payload").to_bytes())
    data[-5] ^= 0x01
    with pytest.raises(EnvelopeError, match="does not match its hash"):
        SealedPacket.from_bytes(bytes(data))


def test_header_changed_after_signing_fails_verification() -> None:
    packet = _seal(b"payload")
    forged_header = packet.header.model_copy(update={"seq": 8})
    forged = SealedPacket(
        forged_header, forged_header.canonical_bytes(), packet.signature, packet.sealed
    )
    with pytest.raises(SignatureError, match="does not verify"):
        forged.verify(station_key().public_key())


def test_signature_by_another_key_is_refused() -> None:
    packet = _seal(b"payload")
    with pytest.raises(SignatureError, match="not by the station's registered key"):
        packet.verify(other_station_key().public_key())


def test_body_replayed_under_another_packet_id_does_not_open() -> None:
    """``info`` binds the packet id: an attacker who re-signs a header cannot move a body."""
    original = _seal(b"payload", packet_id="11" * 16)
    header = original.header.model_copy(update={"packet_id": "22" * 16})
    header_bytes = header.canonical_bytes()
    replayed = SealedPacket(header, header_bytes, original.signature, original.sealed)
    with pytest.raises(DecryptionError):
        open_packet(replayed, central_key("MLKEM768_X25519"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:3], "truncated"),
        (lambda b: b"XXXX" + b[4:], "not an ewp sealed packet"),
        (lambda b: b[:4] + b"\x02" + b[5:], "unsupported envelope version 2"),
        (lambda b: b[:5] + b"\x00\x00" + b[7:], "header length 0"),
        (lambda b: b[:60], "truncated"),
    ],
)
def test_malformed_envelopes_get_clear_errors(mutate: object, message: str) -> None:
    data = _seal(b"payload").to_bytes()
    with pytest.raises(EnvelopeError, match=message):
        SealedPacket.from_bytes(mutate(data))  # type: ignore[operator]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_parser_raises_only_protocol_errors_on_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_signed_header(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_any_single_byte_change_is_caught(position: int, flip: int) -> None:
    packet = _seal(b"a small payload")
    data = bytearray(packet.to_bytes())
    pos = position % len(data)
    if flip == 0:
        return
    data[pos] ^= flip
    try:
        changed = SealedPacket.from_bytes(bytes(data))
        changed.verify(station_key().public_key())
        opened = open_packet(changed, central_key("MLKEM768_X25519"))
    except ProtocolError:
        return
    # A change that survives every check must not have changed anything that matters.
    assert opened == b"a small payload"
    assert changed.header_bytes == packet.header_bytes


def test_key_files_round_trip_and_reject_garbage(tmp_path: Path) -> None:
    key = CentralPrivateKey.generate()
    key.save(tmp_path / "central.key")
    key.public_key().save(tmp_path / "central.pub")
    assert (tmp_path / "central.key").stat().st_mode & 0o777 == 0o600
    assert CentralPrivateKey.load(tmp_path / "central.key") == key
    assert CentralPublicKey.load(tmp_path / "central.pub") == key.public_key()
    (tmp_path / "bad.pub").write_text('{"kind": "ewp-central-public-key", "kem": "RSA"}')
    with pytest.raises(KeyFileError, match="unsupported KEM"):
        CentralPublicKey.load(tmp_path / "bad.pub")
    with pytest.raises(KeyFileError, match="not found"):
        CentralPublicKey.load(tmp_path / "missing.pub")

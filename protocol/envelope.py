"""The sealed-packet envelope: HPKE-sealed content, signed by the station.

Layout (all integers big-endian)::

    magic      4 bytes  b"EWPS"
    version    1 byte   FORMAT_VERSION (1)
    hlen       2 bytes  length of the header
    header     hlen     canonical JSON (UTF-8, sorted keys, no spaces): PacketHeader
    signature  64 bytes Ed25519 by the station over SIGNATURE_CONTEXT + header bytes
    sealed     rest     HPKE single-shot output (encapsulated key || ciphertext || tag)

Sealing is HPKE (RFC 9180) base mode, KEM MLKEM768_X25519 by default (X25519 accepted), KDF
HKDF-SHA256, AEAD ChaCha20-Poly1305. ``info`` binds the format version, the station id and the
packet id, so a sealed body cannot be replayed under another station or packet id. The header
carries the SHA-256 of the sealed bytes, so the station's signature over the header commits to
them: the fleet can verify origin and integrity without being able to read the content, and the
station, which holds only the central public key, cannot read a packet back once sealed.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from protocol.bounds import MAX_SEQ
from protocol.errors import DecryptionError, EnvelopeError, SignatureError
from protocol.keys import CentralPrivateKey, CentralPublicKey, station_key_id
from protocol.topics import STATION_ID_RE

MAGIC = b"EWPS"
FORMAT_VERSION = 1
SIGNATURE_CONTEXT = b"ewp-packet-signature\x00v1\x00"
SIGNATURE_LEN = 64
MAX_HEADER_LEN = 4096
MAX_SEALED_SIZE = 64 * 1024 * 1024
ENROLMENT_CONTENT_TYPE = "application/vnd.ewp.enrolment+zip"

_PREFIX = struct.Struct(">4sBH")


PacketId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
StationId = Annotated[str, StringConstraints(pattern=STATION_ID_RE.pattern)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
KeyId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]


class PacketHeader(BaseModel):
    """What anyone on the way may read about a packet; never personal or biometric data."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: Literal[1] = 1
    station_id: StationId
    packet_id: PacketId
    seq: int = Field(
        ge=1, le=MAX_SEQ, description="the station's own packet counter, for reconciliation"
    )
    created_at: str = Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
    content_type: str = Field(min_length=1, max_length=100)
    kem: Literal["MLKEM768_X25519", "X25519"]
    kdf: Literal["HKDF_SHA256"] = "HKDF_SHA256"
    aead: Literal["CHACHA20_POLY1305"] = "CHACHA20_POLY1305"
    recipient: KeyId = Field(description="key id of the central public key it is sealed to")
    signer: KeyId = Field(description="key id of the station's Ed25519 key")
    sealed_size: int = Field(ge=1, le=MAX_SEALED_SIZE)
    sealed_sha256: Sha256Hex

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hpke_info(station_id: str, packet_id: str, version: int = FORMAT_VERSION) -> bytes:
    """The HPKE ``info``: binds format version, station id and packet id."""
    return b"ewp-packet\x00v%d\x00%s\x00%s" % (
        version,
        station_id.encode("ascii"),
        packet_id.encode("ascii"),
    )


def _suite(kem: str) -> hpke.Suite:
    kem_id = hpke.KEM.MLKEM768_X25519 if kem == "MLKEM768_X25519" else hpke.KEM.X25519
    return hpke.Suite(kem_id, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def utc_timestamp(moment: datetime | None = None) -> str:
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class SealedPacket:
    """A parsed envelope. ``header_bytes`` are kept exactly as signed."""

    header: PacketHeader
    header_bytes: bytes
    signature: bytes
    sealed: bytes

    @property
    def packet_id(self) -> str:
        return self.header.packet_id

    @property
    def station_id(self) -> str:
        return self.header.station_id

    @property
    def sha256(self) -> str:
        return self.header.sealed_sha256

    def to_bytes(self) -> bytes:
        return signed_head(MAGIC, self.header_bytes, self.signature) + self.sealed

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedPacket:
        header, header_bytes, signature, offset = parse_signed_header(data)
        sealed = bytes(data[offset:])
        packet = cls(header=header, header_bytes=header_bytes, signature=signature, sealed=sealed)
        packet.check_integrity()
        return packet

    def check_integrity(self) -> None:
        """The sealed bytes are the ones the header (and so the signature) commits to."""
        if len(self.sealed) != self.header.sealed_size:
            raise EnvelopeError(
                f"packet {self.packet_id}: sealed body is {len(self.sealed)} bytes, "
                f"header says {self.header.sealed_size}"
            )
        if hashlib.sha256(self.sealed).hexdigest() != self.header.sealed_sha256:
            raise EnvelopeError(f"packet {self.packet_id}: sealed body does not match its hash")

    def verify(self, station_key: ed25519.Ed25519PublicKey) -> None:
        """Raise SignatureError unless the station's key signed this header."""
        verify_header_signature(self.header, self.header_bytes, self.signature, station_key)


def signed_head(magic: bytes, header_bytes: bytes, signature: bytes) -> bytes:
    """How the envelope and each chunk begin: ``magic``, the format version, the header's
    length, the header as signed and its signature."""
    return _PREFIX.pack(magic, FORMAT_VERSION, len(header_bytes)) + header_bytes + signature


def parse_signed_header(
    data: bytes, magic: bytes = MAGIC
) -> tuple[PacketHeader, bytes, bytes, int]:
    """Parse what ``signed_head`` wrote (with ``magic``: the envelope's unless a chunk's);
    return the header, its bytes, the signature and the offset after them."""
    if len(data) < _PREFIX.size:
        raise EnvelopeError("truncated: shorter than the envelope prefix")
    found, version, hlen = _PREFIX.unpack_from(data, 0)
    if found != magic:
        raise EnvelopeError(f"not an ewp sealed packet (magic {found!r})")
    if version != FORMAT_VERSION:
        raise EnvelopeError(f"unsupported envelope version {version} (this software reads 1)")
    if hlen == 0 or hlen > MAX_HEADER_LEN:
        raise EnvelopeError(f"header length {hlen} out of range")
    end = _PREFIX.size + hlen + SIGNATURE_LEN
    if len(data) < end:
        raise EnvelopeError("truncated: header or signature cut short")
    header_bytes = bytes(data[_PREFIX.size : _PREFIX.size + hlen])
    signature = bytes(data[_PREFIX.size + hlen : end])
    try:
        header = PacketHeader.model_validate_json(header_bytes)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "header"
        raise EnvelopeError(f"invalid packet header: {where}: {first['msg']}") from None
    return header, header_bytes, signature, end


def verify_header_signature(
    header: PacketHeader,
    header_bytes: bytes,
    signature: bytes,
    station_key: ed25519.Ed25519PublicKey,
) -> None:
    if header.signer != station_key_id(station_key):
        raise SignatureError(
            f"packet {header.packet_id} is signed by key {header.signer}, "
            f"not by the station's registered key {station_key_id(station_key)}"
        )
    try:
        station_key.verify(signature, SIGNATURE_CONTEXT + header_bytes)
    except InvalidSignature:
        raise SignatureError(f"packet {header.packet_id}: signature does not verify") from None


def seal_packet(
    plaintext: bytes,
    *,
    station_id: str,
    packet_id: str,
    seq: int,
    recipient: CentralPublicKey,
    signer: ed25519.Ed25519PrivateKey,
    content_type: str = ENROLMENT_CONTENT_TYPE,
    created_at: str | None = None,
) -> SealedPacket:
    """Seal ``plaintext`` to the central key and sign the header with the station key."""
    info = hpke_info(station_id, packet_id)
    sealed = _suite(recipient.kem).encrypt(plaintext, recipient.hpke_key(), info=info)
    header = PacketHeader(
        station_id=station_id,
        packet_id=packet_id,
        seq=seq,
        created_at=created_at or utc_timestamp(),
        content_type=content_type,
        kem=recipient.kem,
        recipient=recipient.key_id,
        signer=station_key_id(signer.public_key()),
        sealed_size=len(sealed),
        sealed_sha256=hashlib.sha256(sealed).hexdigest(),
    )
    header_bytes = header.canonical_bytes()
    signature = signer.sign(SIGNATURE_CONTEXT + header_bytes)
    return SealedPacket(
        header=header, header_bytes=header_bytes, signature=signature, sealed=sealed
    )


def open_packet(packet: SealedPacket, central_key: CentralPrivateKey) -> bytes:
    """Decrypt a packet with the central private key (the central system's side only)."""
    public = central_key.public_key()
    if packet.header.recipient != public.key_id:
        raise DecryptionError(
            f"packet {packet.packet_id} is sealed to central key {packet.header.recipient}, "
            f"this key is {public.key_id}"
        )
    if packet.header.kem != central_key.kem:
        raise DecryptionError(f"packet {packet.packet_id} uses KEM {packet.header.kem}")
    packet.check_integrity()
    info = hpke_info(packet.station_id, packet.packet_id, packet.header.v)
    try:
        return _suite(packet.header.kem).decrypt(packet.sealed, central_key.hpke_key(), info=info)
    except Exception as exc:  # cryptography raises InvalidTag / ValueError variants
        raise DecryptionError(
            f"packet {packet.packet_id} does not open with central key {public.key_id}"
        ) from exc

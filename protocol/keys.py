"""Key material of the wire contract: the central HPKE key pair and station signing keys.

Central key pair (HPKE recipient). The default KEM is the post-quantum hybrid
``MLKEM768_X25519``: its private key is an ML-KEM-768 seed (64 bytes) plus an X25519 private
key (32 bytes); its public key is the ML-KEM-768 encapsulation key (1184 bytes) followed by the
X25519 public key (32 bytes). Plain ``X25519`` is accepted for interoperability. Key files are
small JSON documents (there is no PEM form for the hybrid key); the private key file is written
with mode 0600.

A key id is the first 8 bytes of SHA-256 over the KEM name and the public key bytes, in hex: it
names the recipient in every packet header so the central system can rotate keys.

Station keys are Ed25519: generated on the station at provisioning, stored as PKCS#8 PEM
(mode 0600); the fleet registers the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from protocol.errors import KeyFileError
from protocol.private_files import write_private

KemName = Literal["MLKEM768_X25519", "X25519"]
DEFAULT_KEM: KemName = "MLKEM768_X25519"

_MLKEM768_PUBLIC_LEN = 1184
_MLKEM768_SEED_LEN = 64
_X25519_LEN = 32

HpkePublicKey = hpke.MLKEM768X25519PublicKey | x25519.X25519PublicKey
HpkePrivateKey = hpke.MLKEM768X25519PrivateKey | x25519.X25519PrivateKey


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{what} is not valid base64") from exc


def key_id(kem: str, public_bytes: bytes) -> str:
    return hashlib.sha256(kem.encode("ascii") + b"\x00" + public_bytes).digest()[:8].hex()


@dataclass(frozen=True)
class CentralPublicKey:
    kem: KemName
    public_bytes: bytes

    @property
    def key_id(self) -> str:
        return key_id(self.kem, self.public_bytes)

    @functools.cached_property
    def _hpke_key(self) -> HpkePublicKey:
        if self.kem == "X25519":
            return x25519.X25519PublicKey.from_public_bytes(self.public_bytes)
        mk = mlkem.MLKEM768PublicKey.from_public_bytes(self.public_bytes[:_MLKEM768_PUBLIC_LEN])
        xk = x25519.X25519PublicKey.from_public_bytes(self.public_bytes[_MLKEM768_PUBLIC_LEN:])
        return hpke.MLKEM768X25519PublicKey(mk, xk)

    def hpke_key(self) -> HpkePublicKey:
        """The key object for HPKE (parsed once: ML-KEM key parsing is not free)."""
        return self._hpke_key

    def to_json(self) -> dict[str, str]:
        return {
            "kind": "ewp-central-public-key",
            "kem": self.kem,
            "key_id": self.key_id,
            "public_key": _b64(self.public_bytes),
        }

    @classmethod
    def from_json(cls, data: object) -> CentralPublicKey:
        if not isinstance(data, dict) or data.get("kind") != "ewp-central-public-key":
            raise KeyFileError("not an ewp central public key (kind ewp-central-public-key)")
        kem = data.get("kem")
        raw = _unb64(str(data.get("public_key", "")), "public_key")
        if kem == "MLKEM768_X25519":
            expected = _MLKEM768_PUBLIC_LEN + _X25519_LEN
        elif kem == "X25519":
            expected = _X25519_LEN
        else:
            raise KeyFileError(f"unsupported KEM {kem!r}: use MLKEM768_X25519 or X25519")
        if len(raw) != expected:
            raise KeyFileError(f"{kem} public key must be {expected} bytes, got {len(raw)}")
        key = cls(kem=kem, public_bytes=raw)
        try:
            key.hpke_key()
        except ValueError as exc:
            raise KeyFileError(f"invalid {kem} public key: {exc}") from exc
        if data.get("key_id") not in (None, key.key_id):
            raise KeyFileError("public key file's key_id does not match its key")
        return key

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CentralPublicKey:
        return cls.from_json(_read_json(path, "central public key"))


@dataclass(frozen=True)
class CentralPrivateKey:
    kem: KemName
    mlkem_seed: bytes  # empty for X25519
    x25519_private: bytes

    @classmethod
    def generate(cls, kem: KemName = DEFAULT_KEM) -> CentralPrivateKey:
        xk = x25519.X25519PrivateKey.generate().private_bytes_raw()
        seed = os.urandom(_MLKEM768_SEED_LEN) if kem == "MLKEM768_X25519" else b""
        return cls(kem=kem, mlkem_seed=seed, x25519_private=xk)

    @classmethod
    def from_seeds(
        cls, kem: KemName, mlkem_seed: bytes, x25519_private: bytes
    ) -> CentralPrivateKey:
        """Deterministic construction, for published test vectors."""
        return cls(kem=kem, mlkem_seed=mlkem_seed, x25519_private=x25519_private)

    def hpke_key(self) -> HpkePrivateKey:
        xk = x25519.X25519PrivateKey.from_private_bytes(self.x25519_private)
        if self.kem == "X25519":
            return xk
        mk = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed)
        return hpke.MLKEM768X25519PrivateKey(mk, xk)

    def public_key(self) -> CentralPublicKey:
        xpub = x25519.X25519PrivateKey.from_private_bytes(self.x25519_private).public_key()
        xraw = xpub.public_bytes_raw()
        if self.kem == "X25519":
            return CentralPublicKey(kem="X25519", public_bytes=xraw)
        mpub = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed).public_key()
        return CentralPublicKey(kem=self.kem, public_bytes=mpub.public_bytes_raw() + xraw)

    def to_json(self) -> dict[str, str]:
        data = {
            "kind": "ewp-central-private-key",
            "kem": self.kem,
            "key_id": self.public_key().key_id,
            "x25519_private": _b64(self.x25519_private),
        }
        if self.kem == "MLKEM768_X25519":
            data["mlkem768_seed"] = _b64(self.mlkem_seed)
        return data

    @classmethod
    def from_json(cls, data: object) -> CentralPrivateKey:
        if not isinstance(data, dict) or data.get("kind") != "ewp-central-private-key":
            raise KeyFileError("not an ewp central private key (kind ewp-central-private-key)")
        kem = data.get("kem")
        if kem not in ("MLKEM768_X25519", "X25519"):
            raise KeyFileError(f"unsupported KEM {kem!r}: use MLKEM768_X25519 or X25519")
        xk = _unb64(str(data.get("x25519_private", "")), "x25519_private")
        seed = b""
        if kem == "MLKEM768_X25519":
            seed = _unb64(str(data.get("mlkem768_seed", "")), "mlkem768_seed")
            if len(seed) != _MLKEM768_SEED_LEN:
                raise KeyFileError("mlkem768_seed must be 64 bytes")
        if len(xk) != _X25519_LEN:
            raise KeyFileError("x25519_private must be 32 bytes")
        return cls(kem=kem, mlkem_seed=seed, x25519_private=xk)

    def save(self, path: Path) -> None:
        write_private(path, (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> CentralPrivateKey:
        return cls.from_json(_read_json(path, "central private key"))


def station_key_id(public_key: ed25519.Ed25519PublicKey) -> str:
    return key_id("Ed25519", public_key.public_bytes_raw())


def encode_station_public_key(public_key: ed25519.Ed25519PublicKey) -> str:
    return _b64(public_key.public_bytes_raw())


def decode_station_public_key(text: str) -> ed25519.Ed25519PublicKey:
    raw = _unb64(text, "station public key")
    if len(raw) != 32:
        raise KeyFileError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


def save_station_private_key(key: ed25519.Ed25519PrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(path, pem)


def load_station_private_key(path: Path) -> ed25519.Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"station key {path} not found: provision the station first") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise KeyFileError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key


def _read_json(path: Path, what: str) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyFileError(f"{what} file {path} not found") from None
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read {what} file {path}: {exc}") from exc

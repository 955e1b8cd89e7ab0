"""Keys of the published test vectors, derived from public labels (no key is committed).

Anyone can re-derive them: ML-KEM-768 seed = SHA-512(label), X25519 and Ed25519 private keys =
SHA-256(label). Never use these keys for anything but the vectors.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric import ed25519

from protocol.keys import CentralPrivateKey, KemName


def central_key(kem: KemName) -> CentralPrivateKey:
    seed = hashlib.sha512(b"ewp test vector: central ML-KEM-768 seed").digest()
    xk = hashlib.sha256(b"ewp test vector: central X25519 key").digest()
    return CentralPrivateKey.from_seeds(kem, seed if kem == "MLKEM768_X25519" else b"", xk)


def station_key() -> ed25519.Ed25519PrivateKey:
    seed = hashlib.sha256(b"ewp test vector: station Ed25519 key").digest()
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def other_station_key() -> ed25519.Ed25519PrivateKey:
    seed = hashlib.sha256(b"ewp test vector: another station's Ed25519 key").digest()
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)

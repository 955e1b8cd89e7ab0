"""Signing keys of the update repository, as PEM files outside the database.

``<keys>/root-<n>.pem`` are the root keys: after ``ewp release keys init`` an admin moves them
offline (a USB stick in a safe) and brings them back only to sign a new root with
``ewp release keys sign-root``. ``targets.pem``, ``snapshot.pem`` and ``timestamp.pem`` are the
online keys the fleet signs releases and refreshes the timestamp with.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root

from fleet.updates.errors import UpdateError
from protocol.private_files import create_private

log = logging.getLogger(__name__)

ONLINE_ROLES = ("targets", "snapshot", "timestamp")
PENDING_ROOT = "root.pending.json"
ROOT_LIFETIME = timedelta(days=365)


def load_signer(path: Path) -> CryptoSigner:
    """A signer from a PEM (PKCS#8, unencrypted) private key file."""
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except FileNotFoundError:
        raise UpdateError(f"no key file {path}") from None
    except (OSError, ValueError, TypeError) as exc:
        raise UpdateError(f"cannot read the key {path}: {exc}") from None
    return CryptoSigner(private)


def online_signer(keys_dir: Path, role: str) -> Signer:
    return load_signer(keys_dir / f"{role}.pem")


def init_keys(
    keys_dir: Path, metadata_dir: Path, *, root_keys: int = 3, threshold: int = 2
) -> Path:
    """Make the root keys and the online keys; write root version 1, still unsigned, as
    ``metadata/root.pending.json``. Returns the pending root's path: it takes effect once
    ``threshold`` root keys signed it (``sign_root``)."""
    if not 1 <= threshold <= root_keys <= 16:
        raise UpdateError(f"need 1 <= threshold ({threshold}) <= root keys ({root_keys}) <= 16")
    if (metadata_dir / "1.root.json").exists() or (metadata_dir / PENDING_ROOT).exists():
        raise UpdateError(f"{metadata_dir} already has a root: keys are made once")
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    metadata_dir.mkdir(parents=True, exist_ok=True)
    existing = sorted(p.name for p in keys_dir.glob("*.pem"))
    if existing:
        raise UpdateError(f"{keys_dir} already holds keys ({', '.join(existing)})")
    root = Root(expires=datetime.now(UTC).replace(microsecond=0) + ROOT_LIFETIME)
    root.consistent_snapshot = True
    for n in range(1, root_keys + 1):
        signer = CryptoSigner.generate_ed25519()
        create_private(keys_dir / f"root-{n}.pem", signer.private_bytes)
        root.add_key(signer.public_key, Root.type)
    root.roles[Root.type].threshold = threshold
    for role in ONLINE_ROLES:
        signer = CryptoSigner.generate_ed25519()
        create_private(keys_dir / f"{role}.pem", signer.private_bytes)
        root.add_key(signer.public_key, role)
    pending = metadata_dir / PENDING_ROOT
    Metadata(root).to_file(str(pending))
    log.info("keys in %s; root v1 pending, threshold %d of %d", keys_dir, threshold, root_keys)
    return pending


def latest_root_version(metadata_dir: Path) -> int:
    versions = [
        int(p.name.split(".", 1)[0])
        for p in metadata_dir.glob("*.root.json")
        if p.name.split(".", 1)[0].isdigit()
    ]
    return max(versions, default=0)


def sign_root(metadata_dir: Path, key_file: Path) -> tuple[int, int, bool]:
    """Add one root key's signature to the pending root. Once the threshold is met (of the new
    root, and of the previous root for a rotation) the root takes effect as ``<v>.root.json``.
    Returns (signatures, threshold, published)."""
    pending = metadata_dir / PENDING_ROOT
    try:
        md = Metadata[Root].from_bytes(pending.read_bytes())
    except FileNotFoundError:
        raise UpdateError(f"no pending root in {metadata_dir}: nothing to sign") from None
    signer = load_signer(key_file)
    root = md.signed
    keyid = signer.public_key.keyid
    previous = _previous_root(metadata_dir, root.version)
    allowed = set(root.roles[Root.type].keyids)
    if previous is not None:
        allowed |= set(previous.roles[Root.type].keyids)
    if keyid not in allowed:
        raise UpdateError(f"{key_file} is not a root key of root v{root.version}")
    md.sign(signer, append=True)
    md.to_file(str(pending))
    count = sum(1 for k in md.signatures if k in root.roles[Root.type].keyids)
    threshold = root.roles[Root.type].threshold
    try:
        root.verify_delegate(Root.type, md.signed_bytes, md.signatures)
        if previous is not None:
            previous.verify_delegate(Root.type, md.signed_bytes, md.signatures)
    except UnsignedMetadataError:
        return count, threshold, False
    md.to_file(str(metadata_dir / f"{root.version}.root.json"))
    md.to_file(str(metadata_dir / "root.json"))
    pending.unlink()
    log.info("root v%d published with %d signatures", root.version, count)
    return count, threshold, True


def _previous_root(metadata_dir: Path, version: int) -> Root | None:
    if version <= 1:
        return None
    return (
        Metadata[Root].from_bytes((metadata_dir / f"{version - 1}.root.json").read_bytes()).signed
    )


def propose_root_rotation(keys_dir: Path, metadata_dir: Path, role: str) -> Path:
    """Replace an online role's key (compromised or due): a new key file, and a pending root
    version that names it, to be signed offline with ``sign_root``."""
    if role not in ONLINE_ROLES:
        raise UpdateError(f"only an online role's key rotates here, not {role!r}")
    current = latest_root_version(metadata_dir)
    if current == 0:
        raise UpdateError(f"no root in {metadata_dir} yet: run `ewp release keys init`")
    root = Metadata[Root].from_bytes((metadata_dir / f"{current}.root.json").read_bytes()).signed
    for keyid in list(root.roles[role].keyids):
        root.revoke_key(keyid, role)
    signer = CryptoSigner.generate_ed25519()
    key_file = keys_dir / f"{role}.pem"
    key_file.replace(keys_dir / f"{role}.pem.old")
    create_private(key_file, signer.private_bytes)
    root.add_key(signer.public_key, role)
    root.version = current + 1
    root.expires = datetime.now(UTC).replace(microsecond=0) + ROOT_LIFETIME
    pending = metadata_dir / PENDING_ROOT
    Metadata(root).to_file(str(pending))
    return pending

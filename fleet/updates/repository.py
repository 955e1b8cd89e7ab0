"""The TUF repository of releases, in files: ``<repo>/metadata`` and ``<repo>/targets``.

Built on ``tuf.repository.Repository``: ``open``/``close`` read and write one role's metadata,
``close`` bumps its version and expiry and signs it with the role's online key from the keys
directory. Consistent snapshots: ``<v>.targets.json``, ``<v>.snapshot.json`` and target files
prefixed with their SHA-256 (``agent/1.4.0/<sha256>.bundle.tar``), so a station reading the
repository while the fleet publishes never mixes two versions. The root is not written here:
it changes only through the offline ``sign_root`` step (fleet/updates/keys.py).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.repository import Repository

from fleet.updates.errors import UpdateError
from fleet.updates.keys import online_signer
from protocol.private_files import PRIVATE_MODE, write_atomic
from protocol.updates import TARGET_PATH_RE

log = logging.getLogger(__name__)

METADATA_MODE = PRIVATE_MODE  # only the fleet process reads it, to serve it at /updates/


@dataclass(frozen=True)
class Expiry:
    """How long each online role's metadata is valid. The timestamp is short, so a station
    cut off from the fleet (or fed an old view by an attacker) notices within a day; the fleet
    refreshes it well before (``refresh_timestamp``)."""

    targets: timedelta = timedelta(days=90)
    snapshot: timedelta = timedelta(days=7)
    timestamp: timedelta = timedelta(days=1)

    def of(self, role: str) -> timedelta:
        lifetime: timedelta = getattr(self, role)
        return lifetime


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class FileRepository(Repository):
    """One release repository on disk, signed with the online keys in ``keys_dir``."""

    def __init__(self, repo_dir: Path, keys_dir: Path, expiry: Expiry | None = None) -> None:
        self.repo_dir = repo_dir
        self.metadata_dir = repo_dir / "metadata"
        self.targets_dir = repo_dir / "targets"
        self.keys_dir = keys_dir
        self.expiry = expiry or Expiry()
        if not (self.metadata_dir / "root.json").exists():
            raise UpdateError(
                f"{self.metadata_dir} has no signed root: run `ewp release keys init` and "
                "`ewp release keys sign-root` first"
            )

    # --- tuf.repository.Repository ---

    def _current_path(self, role: str) -> Path:
        return self.metadata_dir / f"{role}.json"

    def open(self, role: str) -> Metadata[Any]:
        path = self._current_path(role)
        if path.exists():
            return Metadata.from_bytes(path.read_bytes())
        if role == Root.type:
            raise UpdateError("the root is changed only by `ewp release keys sign-root`")
        signed: Targets | Snapshot | Timestamp
        if role == Targets.type:
            signed = Targets(expires=_now())
        elif role == Snapshot.type:
            signed = Snapshot(expires=_now())
        elif role == Timestamp.type:
            signed = Timestamp(expires=_now())
        else:
            raise UpdateError(f"no delegated roles in this repository: {role!r}")
        md: Metadata[Any] = Metadata(signed)
        md.unrecognized_fields["_new"] = True  # popped in close(): version 1 stays 1
        return md

    def close(self, role: str, md: Metadata[Any]) -> None:
        if role == Root.type:
            raise UpdateError("the root is changed only by `ewp release keys sign-root`")
        if not md.unrecognized_fields.pop("_new", False):
            md.signed.version += 1
        md.signed.expires = _now() + self.expiry.of(role)
        md.signatures.clear()
        md.sign(online_signer(self.keys_dir, role))
        data = md.to_bytes()
        if role != Timestamp.type:
            write_atomic(
                self.metadata_dir / f"{md.signed.version}.{role}.json", data, mode=METADATA_MODE
            )
        write_atomic(self._current_path(role), data, mode=METADATA_MODE)

    @property
    def targets_infos(self) -> dict[str, MetaFile]:
        return {"targets.json": MetaFile(version=self.targets().version)}

    @property
    def snapshot_info(self) -> MetaFile:
        return MetaFile(version=self.snapshot().version)

    # --- releases ---

    def add_target(self, target_path: str, local_file: Path, custom: dict[str, Any]) -> TargetFile:
        """Copy a file in as a target (hash-prefixed name) and list it in targets metadata;
        ``publish`` makes it visible to stations."""
        if TARGET_PATH_RE.fullmatch(target_path) is None or ".." in target_path.split("/"):
            raise UpdateError(f"not a target path: {target_path!r}")
        info = TargetFile.from_file(target_path, str(local_file), ["sha256"])
        info.unrecognized_fields["custom"] = custom
        directory, _, name = target_path.rpartition("/")
        digest = info.hashes["sha256"]
        dest = self.targets_dir / directory / f"{digest}.{name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(local_file, tmp)
            tmp.replace(dest)
        with self.edit_targets() as targets:
            targets.targets[target_path] = info
        return info

    def publish(self) -> None:
        """New snapshot and timestamp for the current targets."""
        self.do_snapshot()
        self.do_timestamp()

    def refresh_timestamp(self, *, margin: timedelta | None = None) -> bool:
        """Re-sign the timestamp (and the snapshot) when they expire within ``margin`` (a third
        of the timestamp's lifetime by default). The fleet calls this periodically."""
        margin = self.expiry.timestamp / 3 if margin is None else margin
        soon = _now() + margin
        refreshed = False
        if self.snapshot().expires <= soon + self.expiry.timestamp:
            self.do_snapshot(force=True)
            refreshed = True
        if refreshed or self.timestamp().expires <= soon:
            self.do_timestamp(force=True)
            refreshed = True
        return refreshed

    def target_file(self, target_path: str) -> Path:
        """The stored file of a listed target."""
        info = self.targets().targets.get(target_path)
        if info is None:
            raise UpdateError(f"no target {target_path!r} in the repository")
        directory, _, name = target_path.rpartition("/")
        return self.targets_dir / directory / f"{info.hashes['sha256']}.{name}"

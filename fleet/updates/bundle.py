"""The release bundle: one uncompressed tar, ``release.json`` first, then the payload.

An agent release holds ``wheels/*.whl`` (the project's wheel and its locked dependencies); a
firmware release holds ``firmware/*`` (the controller's .mpy files and ``firmware.json``). The
tar is deterministic (sorted names, mtime 0, owner 0) and not compressed: wheels are already
compressed, and an uncompressed tar keeps unchanged members byte-identical between releases, so
a zstd delta against the previous bundle is small (docs/decisions/0050-release-bundle.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fleet.updates.errors import UpdateError
from protocol.updates import VERSION_RE, version_key

MANIFEST = "release.json"
PAYLOAD_DIRS = {"agent": "wheels", "firmware": "firmware"}
MAX_CHANGELOG = 4000


@dataclass(frozen=True)
class ReleaseManifest:
    kind: Literal["agent", "firmware"]
    version: str
    min_upgrade_from: str | None
    changelog: str
    built_at: str
    files: dict[str, str]  # member name -> sha256

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": self.version,
            "min_upgrade_from": self.min_upgrade_from,
            "changelog": self.changelog,
            "built_at": self.built_at,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, data: Any) -> ReleaseManifest:
        try:
            kind = data["kind"]
            if kind not in PAYLOAD_DIRS:
                raise ValueError(f"kind {kind!r}")
            manifest = cls(
                kind=kind,
                version=str(data["version"]),
                min_upgrade_from=data.get("min_upgrade_from"),
                changelog=str(data.get("changelog", "")),
                built_at=str(data.get("built_at", "")),
                files={str(k): str(v) for k, v in dict(data["files"]).items()},
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise UpdateError(f"not a release manifest: {exc}") from None
        manifest.check()
        return manifest

    def check(self) -> None:
        for v in (self.version, self.min_upgrade_from):
            if v is not None and VERSION_RE.fullmatch(v) is None:
                raise UpdateError(f"not a release version: {v!r} (expected e.g. 1.4.2)")
        if self.min_upgrade_from is not None and version_key(self.min_upgrade_from) >= (
            version_key(self.version)
        ):
            raise UpdateError(
                f"min_upgrade_from {self.min_upgrade_from} must be older than {self.version}"
            )
        if len(self.changelog) > MAX_CHANGELOG:
            raise UpdateError(f"changelog longer than {MAX_CHANGELOG} characters")
        prefix = PAYLOAD_DIRS[self.kind] + "/"
        for name in self.files:
            parts = name.split("/")
            if not name.startswith(prefix) or any(p in ("", ".", "..") for p in parts):
                raise UpdateError(f"a {self.kind} bundle member must be under {prefix}: {name!r}")


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_bundle(
    out: Path,
    *,
    kind: Literal["agent", "firmware"],
    version: str,
    files: dict[str, Path],
    changelog: str = "",
    min_upgrade_from: str | None = None,
    built_at: str | None = None,
) -> ReleaseManifest:
    """Write a bundle of ``files`` (member name under the kind's directory -> local file)."""
    prefix = PAYLOAD_DIRS[kind]
    members = {f"{prefix}/{name}": path for name, path in files.items()}
    hashes = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in members.items()}
    manifest = ReleaseManifest(
        kind=kind,
        version=version,
        min_upgrade_from=min_upgrade_from,
        changelog=changelog,
        built_at=built_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        files=dict(sorted(hashes.items())),
    )
    manifest.check()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        data = json.dumps(manifest.to_json(), indent=1, sort_keys=True).encode()
        tar.addfile(_info(MANIFEST, len(data)), io.BytesIO(data))
        for name in sorted(members):
            path = members[name]
            with path.open("rb") as f:
                tar.addfile(_info(name, path.stat().st_size), f)
    tmp.replace(out)
    return manifest


def read_manifest(bundle: Path) -> ReleaseManifest:
    try:
        with tarfile.open(bundle, "r:") as tar:
            member = tar.next()
            if member is None or member.name != MANIFEST or not member.isfile():
                raise UpdateError(f"{bundle}: {MANIFEST} is not the first member")
            f = tar.extractfile(member)
            assert f is not None
            return ReleaseManifest.from_json(json.loads(f.read(1 << 20)))
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise UpdateError(f"{bundle} is not a release bundle: {exc}") from None

"""The published releases, as the repository's signed targets metadata lists them.

A full bundle target carries in its TUF ``custom`` field ``{"ewp": {"kind", "version",
"min_upgrade_from", "changelog", "built_at"}}``; a delta target carries ``{"ewp": {"kind",
"version", "delta_from", "full_target"}}``. Rollouts read this catalog to know what they can
offer a station (``PublishedRelease.delta_from``): it is the same metadata the stations verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root, Targets

from fleet.updates.errors import UpdateError
from protocol.updates import VERSION_RE, version_key

Kind = Literal["agent", "firmware"]
KINDS: tuple[Kind, ...] = ("agent", "firmware")


def full_target_path(kind: str, version: str) -> str:
    return f"{kind}/{version}/bundle.tar"


def delta_target_path(kind: str, version: str, from_version: str) -> str:
    return f"{kind}/{version}/delta-from-{from_version}.zst"


@dataclass(frozen=True)
class DeltaTarget:
    from_version: str
    target: str
    length: int


@dataclass(frozen=True)
class PublishedRelease:
    kind: Kind
    version: str
    min_upgrade_from: str | None
    changelog: str
    built_at: str
    target: str
    length: int
    sha256: str
    deltas: tuple[DeltaTarget, ...]

    def delta_from(self, installed: str) -> DeltaTarget | None:
        """The delta that turns ``installed`` into this release, if one is published."""
        return next((d for d in self.deltas if d.from_version == installed), None)

    def upgrades_from(self, installed: str | None) -> bool:
        """Whether a station running ``installed`` may install this release directly."""
        if self.min_upgrade_from is None or installed is None:
            return True
        return version_key(installed) >= version_key(self.min_upgrade_from)


def _ewp(custom: Any) -> dict[str, Any] | None:
    if not isinstance(custom, dict):
        return None
    ewp = custom.get("ewp")
    return ewp if isinstance(ewp, dict) else None


def load_targets(repo_dir: Path) -> Targets:
    """The current targets metadata, checked against the current root's keys and threshold."""
    metadata_dir = repo_dir / "metadata"
    try:
        root = Metadata[Root].from_bytes((metadata_dir / "root.json").read_bytes()).signed
    except FileNotFoundError:
        raise UpdateError(f"no release repository at {repo_dir} (no signed root)") from None
    path = metadata_dir / "targets.json"
    if not path.exists():
        return Targets()
    md = Metadata[Targets].from_bytes(path.read_bytes())
    try:
        root.verify_delegate(Targets.type, md.signed_bytes, md.signatures)
    except RepositoryError as exc:
        raise UpdateError(f"{path} is not signed by the targets key of the root: {exc}") from None
    return md.signed


def list_releases(repo_dir: Path, kind: Kind | None = None) -> list[PublishedRelease]:
    """Every published release (of ``kind``), oldest version first."""
    targets = load_targets(repo_dir)
    deltas: dict[tuple[str, str], list[DeltaTarget]] = {}
    fulls = []
    for path, info in targets.targets.items():
        meta = _ewp(info.custom)
        if meta is None or meta.get("kind") not in KINDS:
            continue
        version = str(meta.get("version", ""))
        if VERSION_RE.fullmatch(version) is None:
            continue
        if "delta_from" in meta:
            delta = DeltaTarget(str(meta["delta_from"]), path, info.length)
            deltas.setdefault((meta["kind"], version), []).append(delta)
        else:
            fulls.append((path, info, meta, version))
    releases = [
        PublishedRelease(
            kind=meta["kind"],
            version=version,
            min_upgrade_from=meta.get("min_upgrade_from"),
            changelog=str(meta.get("changelog", "")),
            built_at=str(meta.get("built_at", "")),
            target=path,
            length=info.length,
            sha256=info.hashes["sha256"],
            deltas=tuple(
                sorted(
                    deltas.get((meta["kind"], version), []),
                    key=lambda d: version_key(d.from_version),
                )
            ),
        )
        for path, info, meta, version in fulls
        if kind is None or meta["kind"] == kind
    ]
    releases.sort(key=lambda r: (r.kind, version_key(r.version)))
    return releases


def find_release(repo_dir: Path, kind: Kind, version: str) -> PublishedRelease | None:
    return next((r for r in list_releases(repo_dir, kind) if r.version == version), None)


def latest_release(repo_dir: Path, kind: Kind) -> PublishedRelease | None:
    releases = list_releases(repo_dir, kind)
    return releases[-1] if releases else None

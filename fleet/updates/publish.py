"""Publish a release bundle into the TUF repository, with deltas from recent releases."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fleet.updates.bundle import ReleaseManifest, read_manifest
from fleet.updates.catalog import (
    PublishedRelease,
    delta_target_path,
    full_target_path,
    list_releases,
)
from fleet.updates.delta import make_delta
from fleet.updates.errors import UpdateError
from fleet.updates.repository import FileRepository
from protocol.updates import version_key

log = logging.getLogger(__name__)

DELTAS_FROM = 3  # deltas from the last three releases of the same kind
MAX_DELTA_FRACTION = 0.8  # a delta no smaller than this fraction of the bundle is not worth it


@dataclass(frozen=True)
class Published:
    target: str
    length: int
    deltas: dict[str, int]  # from version -> delta length


def publish_release(
    repo: FileRepository, bundle: Path, *, deltas_from: int = DELTAS_FROM
) -> Published:
    """Add ``bundle`` as ``<kind>/<version>/bundle.tar``, deltas from the last ``deltas_from``
    releases it upgrades from, then a new snapshot and timestamp."""
    manifest = read_manifest(bundle)
    existing = list_releases(repo.repo_dir, manifest.kind)
    if any(r.version == manifest.version for r in existing):
        raise UpdateError(
            f"{manifest.kind} {manifest.version} is already published: a release never changes"
        )
    custom = {"ewp": manifest.to_json() | {"files": len(manifest.files)}}
    target = full_target_path(manifest.kind, manifest.version)
    info = repo.add_target(target, bundle, custom)
    new = bundle.read_bytes()
    older = [r for r in existing if _older(r, manifest.version) and _allowed(r, manifest)]
    deltas: dict[str, int] = {}
    for old in older[-deltas_from:] if deltas_from > 0 else []:
        delta = make_delta(repo.target_file(old.target).read_bytes(), new)
        if len(delta) >= MAX_DELTA_FRACTION * len(new):
            log.info("delta from %s is %d bytes: not worth it", old.version, len(delta))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "delta.zst"
            path.write_bytes(delta)
            repo.add_target(
                delta_target_path(manifest.kind, manifest.version, old.version),
                path,
                {
                    "ewp": {
                        "kind": manifest.kind,
                        "version": manifest.version,
                        "delta_from": old.version,
                        "full_target": target,
                    }
                },
            )
        deltas[old.version] = len(delta)
    repo.publish()
    log.info(
        "published %s %s (%d bytes, deltas %s)",
        manifest.kind,
        manifest.version,
        info.length,
        deltas,
    )
    return Published(target, info.length, deltas)


def _older(release: PublishedRelease, version: str) -> bool:
    return version_key(release.version) < version_key(version)


def _allowed(release: PublishedRelease, manifest: ReleaseManifest) -> bool:
    minimum = manifest.min_upgrade_from
    return minimum is None or version_key(release.version) >= version_key(minimum)

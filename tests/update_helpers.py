"""A real release repository for update tests: keys, a root signed by two of three root keys,
and bundles made of small files."""

from __future__ import annotations

from pathlib import Path

from fleet.updates.bundle import write_bundle
from fleet.updates.keys import init_keys, sign_root
from fleet.updates.publish import Published, publish_release
from fleet.updates.repository import Expiry, FileRepository


def make_repository(tmp: Path, expiry: Expiry | None = None) -> FileRepository:
    keys, repo_dir = tmp / "keys", tmp / "repo"
    init_keys(keys, repo_dir / "metadata", root_keys=3, threshold=2)
    sign_root(repo_dir / "metadata", keys / "root-1.pem")
    _, _, published = sign_root(repo_dir / "metadata", keys / "root-3.pem")
    assert published
    return FileRepository(repo_dir, keys, expiry)


def agent_bundle(
    tmp: Path,
    version: str,
    modules: dict[str, bytes],
    *,
    min_upgrade_from: str | None = None,
    changelog: str = "",
) -> Path:
    """A bundle whose ``wheels/`` hold the given files (not real wheels: enough for the
    repository; the updater tests build real wheels)."""
    src = tmp / f"src-{version}"
    src.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, data in modules.items():
        (src / name).write_bytes(data)
        files[name] = src / name
    out = tmp / f"agent-{version}.tar"
    write_bundle(
        out,
        kind="agent",
        version=version,
        files=files,
        changelog=changelog,
        min_upgrade_from=min_upgrade_from,
    )
    return out


def publish_agent(
    repo: FileRepository, tmp: Path, version: str, modules: dict[str, bytes], **kw: str
) -> Published:
    return publish_release(repo, agent_bundle(tmp, version, modules, **kw))

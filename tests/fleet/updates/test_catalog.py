"""The catalog of published releases, read from the repository's signed targets metadata."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Targets

from fleet.updates.catalog import find_release, latest_release, list_releases
from fleet.updates.errors import UpdateError
from tests.update_helpers import make_repository, publish_agent


def _payload(seed: int, size: int = 200_000) -> bytes:
    return bytes((i * seed + i // 7) % 251 for i in range(size))


def test_lists_published_releases_with_their_deltas(tmp_path: Path) -> None:
    repo = make_repository(tmp_path)
    assert list_releases(repo.repo_dir) == []
    base = {"a.whl": _payload(3), "b.whl": _payload(5)}
    publish_agent(repo, tmp_path, "1.0.0", base, changelog="first")
    publish_agent(repo, tmp_path, "1.1.0", base | {"b.whl": _payload(7)}, min_upgrade_from="1.0.0")
    second = publish_agent(repo, tmp_path, "1.2.0", base | {"a.whl": os.urandom(1000)})

    releases = list_releases(repo.repo_dir, "agent")
    assert [r.version for r in releases] == ["1.0.0", "1.1.0", "1.2.0"]
    first, middle, last = releases
    assert first.changelog == "first" and first.deltas == ()
    assert middle.min_upgrade_from == "1.0.0"
    assert [d.from_version for d in last.deltas] == ["1.0.0", "1.1.0"]
    assert last.target == "agent/1.2.0/bundle.tar" == second.target
    assert last.length == second.length == repo.target_file(last.target).stat().st_size
    delta = last.delta_from("1.1.0")
    assert delta is not None and delta.length < last.length / 2
    assert delta.length == second.deltas["1.1.0"]
    assert last.delta_from("0.9.0") is None
    assert middle.upgrades_from("1.0.0") and not middle.upgrades_from("0.9.9")
    assert latest_release(repo.repo_dir, "agent") == last
    assert find_release(repo.repo_dir, "agent", "1.1.0") == middle
    assert list_releases(repo.repo_dir, "firmware") == []


def test_a_release_is_published_once(tmp_path: Path) -> None:
    repo = make_repository(tmp_path)
    publish_agent(repo, tmp_path, "1.0.0", {"a.whl": b"x" * 100})
    with pytest.raises(UpdateError, match="already published"):
        publish_agent(repo, tmp_path, "1.0.0", {"a.whl": b"y" * 100})


def test_targets_not_signed_by_the_root_targets_key_are_refused(tmp_path: Path) -> None:
    repo = make_repository(tmp_path)
    publish_agent(repo, tmp_path, "1.0.0", {"a.whl": b"x" * 100})
    path = repo.metadata_dir / "targets.json"
    md = Metadata[Targets].from_file(str(path))
    md.sign(CryptoSigner.generate_ed25519())  # replaces the signature with an unknown key's
    md.to_file(str(path))
    with pytest.raises(UpdateError, match="not signed by the targets key"):
        list_releases(repo.repo_dir)


def test_no_repository_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UpdateError, match="no release repository"):
        list_releases(tmp_path)

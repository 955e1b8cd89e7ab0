"""HTTPS to a fleet with its own private CA: the updater trusts the CA the station pinned at
provisioning (metadata through ngclient, bundles through the resumable downloader), and
nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.agent.updater.download import Downloader
from edge.agent.updater.errors import DownloadInterrupted
from edge.agent.updater.layout import Layout
from edge.agent.updater.tuf_client import TrustedRepository
from fleet.tls import create_fleet_tls
from fleet.updates.publish import publish_release
from tests.edge.agent.updater.conftest import World
from tests.update_helpers import RepositoryServer, make_repository


def test_metadata_and_bundles_over_https_with_the_pinned_fleet_ca(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "fleet")
    tls = create_fleet_tls(tmp_path / "tls", ["127.0.0.1", "localhost"])
    other = create_fleet_tls(tmp_path / "other-ca", ["127.0.0.1", "localhost"])
    layout = Layout(tmp_path / "station")
    with RepositoryServer(repo.repo_dir, tls=tls) as server:
        world = World(tmp_path / "build", repo, server, layout)
        (tmp_path / "build").mkdir()
        publish_release(repo, world.build("1.1.0"))
        layout.trust_root((repo.metadata_dir / "1.root.json").read_bytes())
        assert server.url.startswith("https://")

        def repository(ca_file: Path | None) -> TrustedRepository:
            return TrustedRepository(
                layout.tuf_dir, f"{server.url}/metadata/", f"{server.url}/targets/", ca_file=ca_file
            )

        # The system's trust store, or another CA, does not know the fleet's CA: refused.
        for ca_file in (None, other.ca_file):
            with pytest.raises(DownloadInterrupted, match=r"(?i)certificate"):
                repository(ca_file).refresh()

        pinned = repository(tls.ca_file)
        info = pinned.target("agent/1.1.0/bundle.tar")
        part = tmp_path / "bundle.tar.part"
        Downloader(ca_file=tls.ca_file).fetch(pinned.url(info), part, info.length)
        assert pinned.verified(info, part)
        with pytest.raises(DownloadInterrupted, match=r"(?i)certificate"):
            Downloader(ca_file=other.ca_file).fetch(pinned.url(info), tmp_path / "x.part", 10)

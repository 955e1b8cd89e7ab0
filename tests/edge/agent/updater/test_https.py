"""The fleet serves its release repository over HTTPS with the certificate of its private CA:
the station's updater checks it against the CA pinned at provisioning (TUF metadata and the
bundle download alike), and refuses a server its pinned CA did not sign."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.agent.updater.download import Downloader
from edge.agent.updater.errors import DownloadInterrupted
from edge.agent.updater.tuf_client import TrustedRepository, tls_verify
from fleet.tls import create_fleet_tls
from fleet.updates.publish import publish_release
from tests.update_helpers import RepositoryServer, agent_bundle, make_repository


def test_the_updater_trusts_the_pinned_fleet_ca_and_only_it(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "fleet")
    published = publish_release(
        repo, agent_bundle(tmp_path / "b", "1.0.0", {"ewp.py": b"VERSION = 1\n" * 400})
    )
    tls = create_fleet_tls(tmp_path / "tls", ["127.0.0.1"])
    other = create_fleet_tls(tmp_path / "other-tls", ["127.0.0.1"])  # another fleet's CA
    tuf_dir = tmp_path / "station" / "tuf"
    tuf_dir.mkdir(parents=True)
    (tuf_dir / "root.json").write_bytes((repo.metadata_dir / "1.root.json").read_bytes())
    with RepositoryServer(repo.repo_dir, tls=tls) as server:
        assert server.url.startswith("https://")
        meta, targets = f"{server.url}/metadata/", f"{server.url}/targets/"

        pinned = tls_verify(tls.ca_file)
        trusted = TrustedRepository(tuf_dir, meta, targets, verify=pinned)
        info = trusted.target(published.target)
        part = Downloader(verify=pinned).fetch(
            trusted.url(info), tmp_path / "bundle.part", info.length
        )
        assert trusted.verified(info, part)

        for verify in (tls_verify(other.ca_file), tls_verify(None)):  # wrong CA, system CAs
            with pytest.raises(DownloadInterrupted, match="CERTIFICATE_VERIFY_FAILED"):
                TrustedRepository(tuf_dir, meta, targets, verify=verify).refresh()
            with pytest.raises(DownloadInterrupted, match="CERTIFICATE_VERIFY_FAILED"):
                Downloader(verify=verify).fetch(
                    trusted.url(info), tmp_path / "other.part", info.length
                )

"""The repository over HTTP: Range and If-Range for resumed downloads, no caching of metadata;
the timestamp re-signed before it expires."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from starlette.testclient import TestClient
from tuf.api.metadata import Metadata, Timestamp

from fleet.updates.repository import Expiry
from fleet.updates.serve import repository_app
from tests.fleet.ops_helpers import fleet_settings
from tests.update_helpers import make_repository, publish_agent


def test_targets_are_served_with_ranges_and_metadata_is_never_cached(tmp_path: Path) -> None:
    repo = make_repository(tmp_path)
    publish_agent(repo, tmp_path, "1.0.0", {"a.whl": bytes(range(256)) * 100})
    stored = repo.target_file("agent/1.0.0/bundle.tar")
    url = "/targets/agent/1.0.0/" + stored.name
    data = stored.read_bytes()
    with TestClient(repository_app(repo.repo_dir)) as client:
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == data
        etag = whole.headers["etag"]
        assert "immutable" in whole.headers["cache-control"]
        part = client.get(url, headers={"Range": "bytes=1000-", "If-Range": etag})
        assert part.status_code == 206 and part.content == data[1000:]
        changed = client.get(url, headers={"Range": "bytes=1000-", "If-Range": '"other"'})
        assert changed.status_code == 200 and changed.content == data
        meta = client.get("/metadata/timestamp.json")
        assert meta.status_code == 200 and meta.headers["cache-control"] == "no-store"
        assert client.get("/metadata/../keys/targets.pem").status_code == 404


def test_the_timestamp_is_re_signed_before_it_expires(tmp_path: Path) -> None:
    repo = make_repository(tmp_path, Expiry(timestamp=timedelta(hours=1)))
    publish_agent(repo, tmp_path, "1.0.0", {"a.whl": b"x" * 100})
    before = repo.timestamp()
    assert not repo.refresh_timestamp()  # fresh: nothing to do
    assert repo.refresh_timestamp(margin=timedelta(hours=2))
    after = Metadata[Timestamp].from_bytes((repo.metadata_dir / "timestamp.json").read_bytes())
    assert after.signed.version == before.version + 1
    assert after.signed.expires >= before.expires
    root = repo.root()
    root.verify_delegate("timestamp", after.signed_bytes, after.signatures)


def test_the_fleet_settings_name_the_repository_and_keys(tmp_path: Path) -> None:
    settings = fleet_settings(
        tmp_path, f'[updates]\nrepository = "{tmp_path / "repo"}"\nkeys = "{tmp_path / "k"}"\n'
    )
    assert settings.updates.repository == tmp_path / "repo"
    assert settings.updates.timestamp_refresh_s == 600.0

"""The fleet's store and secrets are owner-only (0600) whatever the umask, and an older data
directory with looser modes is tightened."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from fleet.bootstrap import SECRET_NAMES, FleetLayout, init_fleet
from fleet.store.db import make_engine, migrate
from protocol.keys import CentralPrivateKey


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_fleet_init_writes_owner_only_secrets(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "fleet-data"
    central = CentralPrivateKey.generate().public_key()
    init_fleet(data_dir, central_key=central)
    layout = FleetLayout(data_dir)
    assert mode(layout.secrets_dir) == 0o700
    for name in SECRET_NAMES:
        assert mode(layout.secret(name)) == 0o600, name
    # A secret left 0644 by an older version keeps its value and loses the loose mode.
    token = layout.secret("admin-token")
    before = token.read_text()
    token.chmod(0o644)
    init_fleet(data_dir, central_key=central)
    assert mode(token) == 0o600 and token.read_text() == before
    assert not [p for p in layout.secrets_dir.iterdir() if p.name.endswith(".tmp")]


def test_the_sqlite_store_and_its_wal_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    database = tmp_path / "fleet.sqlite"
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        assert mode(database) == 0o600
        wal = database.with_name("fleet.sqlite-wal")
        assert wal.exists() and mode(wal) == 0o600
    finally:
        engine.dispose()
    # A store created 0644 by an earlier version is tightened when the fleet opens it.
    database.chmod(0o644)
    make_engine(url).dispose()
    assert mode(database) == 0o600


def test_release_signing_keys_are_owner_only_and_never_overwritten(
    tmp_path: Path, open_umask: None
) -> None:
    from fleet.updates.keys import init_keys, propose_root_rotation, sign_root

    keys, metadata = tmp_path / "keys", tmp_path / "repo" / "metadata"
    init_keys(keys, metadata, root_keys=2, threshold=1)
    sign_root(metadata, keys / "root-1.pem")
    names = sorted(p.name for p in keys.iterdir())
    assert names == ["root-1.pem", "root-2.pem", "snapshot.pem", "targets.pem", "timestamp.pem"]
    assert {mode(keys / name) for name in names} == {0o600}
    before = (keys / "targets.pem").read_bytes()
    propose_root_rotation(keys, metadata, "targets")
    assert mode(keys / "targets.pem") == 0o600 and (keys / "targets.pem").read_bytes() != before
    assert (keys / "targets.pem.old").read_bytes() == before
    assert not [p for p in keys.iterdir() if p.name.endswith(".tmp")]

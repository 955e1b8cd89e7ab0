"""The Alembic history builds exactly the schema the models describe, on both backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

import fleet.store.ops_models
import fleet.store.rollout_models  # noqa: F401
from fleet.store.db import alembic_config, make_engine, migrate
from fleet.store.models import Base
from tests.conftest import BACKENDS, Postgres
from tests.fleet.ops_helpers import heartbeat


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no tables at all: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fleet.sqlite'}")
        yield engine
        engine.dispose()
        return
    server: Postgres = request.getfixturevalue("postgres")
    name, url = server.fresh_database(migrated=False)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        server.cluster.drop_database(name)


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_migrations_match_the_models(empty_engine: Engine) -> None:
    migrate(empty_engine)
    assert differences(empty_engine) == []


def test_every_migration_goes_down_and_up_again(empty_engine: Engine) -> None:
    migrate(empty_engine)
    config = alembic_config(empty_engine.url.render_as_string(hide_password=False))
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrate(empty_engine)
    assert differences(empty_engine) == []


def test_processes_starting_together_migrate_once(empty_engine: Engine) -> None:
    """`ewp fleet serve` and `ewp fleet ingest` started at the same moment both migrate: one
    waits for the other (SQLite's write lock, PostgreSQL's advisory lock) and finds it done."""
    errors: list[BaseException] = []

    def run() -> None:
        engine = make_engine(empty_engine.url.render_as_string(hide_password=False))
        try:
            migrate(engine)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a migration hangs"
    assert errors == []
    assert differences(empty_engine) == []


def test_the_new_running_totals_start_from_what_is_stored(empty_engine: Engine) -> None:
    """Upgrading a fleet that has stations, heartbeats and packets: the latest health comes
    from each station's last heartbeat, the packet totals from its packets."""
    config = alembic_config(empty_engine.url.render_as_string(hide_password=False))
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005a")
    beat = heartbeat("ct-01", queue={"pending": 2, "sending": 1, "pending_bytes": 50,
                                     "oldest_pending_age_s": 120.0},
                     disk={"free_bytes": 25, "total_bytes": 100})  # fmt: skip
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    with empty_engine.begin() as connection:
        for sid, last in (("ct-01", beat.model_dump_json()), ("ct-02", None)):
            connection.execute(
                text(
                    "INSERT INTO stations (station_id, name, kind, state, created_at, online, "
                    "last_seen_at, last_heartbeat, tags, operators) VALUES (:s, :s, 'center', "
                    "'active', :now, true, :now, :beat, '[]', '[]')"
                ),
                {"s": sid, "now": now, "beat": last},
            )
        for seq in (1, 2, 3):
            connection.execute(
                text(
                    "INSERT INTO packets (packet_id, station_id, seq, sha256, size, content_type, "
                    "created_at, received_at, path, resends, state) VALUES (:p, 'ct-01', :seq, "
                    "'x', 100, 'x', 'x', :now, 'x', :resends, 'received')"
                ),
                {"p": f"{seq:032x}", "seq": seq, "now": now, "resends": seq - 1},
            )
    migrate(empty_engine)
    with empty_engine.connect() as connection:
        totals = connection.execute(text("SELECT * FROM station_packet_counts")).all()
        latest = connection.execute(
            text("SELECT station_id, waiting, disk_used_pct FROM station_latest_health")
        ).all()
    assert [tuple(row) for row in totals] == [("ct-01", 3, 300, 3, 3)]
    assert [tuple(row) for row in latest] == [("ct-01", 3, 75.0)]

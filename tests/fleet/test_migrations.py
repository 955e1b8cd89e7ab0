"""The Alembic history builds exactly the schema the models describe, on both backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

import fleet.store.ops_models  # noqa: F401  (every table on Base)
from fleet.store.db import alembic_config, make_engine, migrate
from fleet.store.models import Base
from tests.conftest import BACKENDS, Postgres


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

"""Open the fleet database and bring its schema up to date (Alembic)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from protocol.private_files import PRIVATE_MODE, make_private

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(database_url: str, *, read_only: bool = False) -> Engine:
    """The store's engine (``read_only``: see ``read_only_engine``)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            if not read_only:
                _owner_only(Path(url.database))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            _wal(cursor)
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 30000")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front: two ingest workers completing the same
            # packet then serialise instead of failing with "database is locked" on upgrade,
            # and what a transaction read stays true until it commits (fleet/store/locking.py).
            # Readers begin a snapshot (deferred): they never wait for the write lock.
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        # pysqlite's own transaction handling must be off for BEGIN IMMEDIATE to work.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return engine.execution_options(postgresql_readonly=True) if read_only else engine


def _owner_only(database: Path) -> None:
    """The store holds password hashes, sessions, personal-data hashes and the audit log: it is
    created 0600 (SQLite gives its -wal and -shm files the database's mode), and a store made
    with looser modes by an earlier version is taken down to 0600."""
    make_private(database)
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            database.with_name(database.name + suffix).chmod(PRIVATE_MODE)


def _wal(cursor: sqlite3.Cursor) -> None:
    """WAL mode. Turning it on for a new database needs the file to itself, and SQLite answers
    "database is locked" at once, without its busy timeout, while another connection (another
    fleet process starting) holds a lock: try again for as long as that timeout."""
    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def read_only_engine(engine: Engine) -> Engine:
    """For requests that only read (the dashboard's). SQLite: an engine of its own whose
    transactions begin without the write lock (in WAL mode a reader never waits for a writer,
    nor a writer for it) and where any write fails (``query_only``). PostgreSQL: the same
    connections, in READ ONLY transactions (readers never waited there)."""
    if engine.dialect.name == "sqlite":
        return make_engine(engine.url.render_as_string(hide_password=False), read_only=True)
    return engine.execution_options(postgresql_readonly=True)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


# Any fixed number: the key of the advisory lock that serialises migrations on PostgreSQL.
MIGRATION_LOCK_KEY = 0x657770_6D6967  # "ewp" "mig"


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (a no-op when it is current).

    Several processes may start at once (``ewp fleet serve`` and ``ewp fleet ingest`` on other
    machines): the first migrates, the others wait and find the schema current. SQLite's
    ``BEGIN IMMEDIATE`` already serialises them; on PostgreSQL a transaction-scoped advisory
    lock does (without it concurrent CREATE TABLEs block each other or fail on duplicates).
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def relax_durability(session: Session) -> None:
    """Let this transaction's commit return before its changes are on disk, for rows that may
    be lost in a crash (a later durable commit writes them out with its own). PostgreSQL:
    ``synchronous_commit = off`` for this transaction (never a corrupt database, only the last
    such commits undone). SQLite fixes the sync level before a transaction begins: a no-op."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def session_factory(engine: Engine, info: dict[str, object] | None = None) -> sessionmaker[Session]:
    """Sessions of ``engine``; ``info`` is given to each (the audit key: fleet/audit.py)."""
    return sessionmaker(engine, expire_on_commit=False, info=info)

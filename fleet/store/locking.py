"""Row locks and get-or-create that hold on SQLite and on PostgreSQL alike.

On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (fleet/store/db.py), so
writers run one at a time and a read-modify-write cannot interleave with another. PostgreSQL
runs them concurrently under READ COMMITTED: two transactions may read the same row, both
decide, and the later write silently undoes the earlier (a lost update), or both insert the
same new row and one fails on the key. The functions here close those gaps:

- ``locked`` reads a row with ``SELECT ... FOR UPDATE`` (a no-op on SQLite, which has no row
  locks and needs none), so whoever comes second waits and then sees the first one's commit;
- ``ensure`` inserts a row if it is missing with ``INSERT ... ON CONFLICT DO NOTHING`` (both
  dialects), so a row that must exist before it is locked never makes two callers collide;
- ``is_transient`` recognises the errors worth trying again from the start (a deadlock the
  server broke, a serialisation failure, SQLite's busy timeout).

Lock order, to keep deadlocks away: a station's row before its other rows (liveness,
configuration, reconciliation), alerts before the audit head, and the audit head last of all
(it serialises every audited change, so it is held for as short a time as possible).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

T = TypeVar("T")
log = logging.getLogger(__name__)
TRANSIENT_ATTEMPTS = 5

# PostgreSQL SQLSTATEs that mean "nothing was done: run the transaction again".
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
    }
)


def locked(session: Session, model: type[T], key: Any) -> T | None:
    """The row with this primary key, locked until the transaction ends (fresh from the
    database even if the session had it already)."""
    return session.get(model, key, with_for_update=True, populate_existing=True)


def ensure(session: Session, model: type[Any], values: Mapping[str, Any]) -> bool:
    """Insert ``values`` as a row of ``model`` unless its primary key exists already; True if
    this call inserted it."""
    table = inspect(model).local_table
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"no upsert for {dialect}")
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def upsert(session: Session, model: type[Any], values: Mapping[str, Any]) -> Any:
    """``INSERT values``, for ``.on_conflict_do_update(...)`` (both dialects' statement)."""
    table = inspect(model).local_table
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).values(**values)
    if dialect == "sqlite":
        return sqlite.insert(table).values(**values)
    raise NotImplementedError(f"no upsert for {dialect}")  # pragma: no cover


def replace(session: Session, model: type[Any], values: Mapping[str, Any]) -> None:
    """Insert ``values`` as a row of ``model``, or overwrite the row with its primary key
    (``INSERT ... ON CONFLICT DO UPDATE``, both dialects): one statement, no lost update."""
    keys = [column.name for column in inspect(model).local_table.primary_key.columns]
    changes = {name: value for name, value in values.items() if name not in keys}
    statement = upsert(session, model, values)
    session.execute(statement.on_conflict_do_update(index_elements=keys, set_=changes))


def locked_or_created(
    session: Session, model: type[T], key: Any, values: Mapping[str, Any]
) -> tuple[T, bool]:
    """The row, locked; created from ``values`` (which include the key) if it was missing.
    Returns it and whether this call created it."""
    row = locked(session, model, key)
    if row is not None:
        return row, False
    created = ensure(session, model, values)
    row = locked(session, model, key)
    assert row is not None, f"{model.__name__} {key!r} vanished right after its insert"
    return row, created


def writers_serialise(session: Session) -> bool:
    """True where write transactions run one at a time (SQLite, BEGIN IMMEDIATE): what one
    of them read stays true until it commits."""
    return session.get_bind().dialect.name == "sqlite"


def serialised(session: Session, name: str) -> None:
    """Let one transaction at a time (in every process) past this point for ``name``, until
    it ends: a PostgreSQL transaction-scoped advisory lock; SQLite's writers are serial."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"ewp:{name}".encode()).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def is_transient(error: BaseException) -> bool:
    """A database error after which the whole transaction can simply be run again."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate in TRANSIENT_SQLSTATES:
        return True
    message = str(original).lower()
    return "database is locked" in message or "deadlock detected" in message


def run_again_if_transient(
    what: str, work: Callable[[], T], *, attempts: int = TRANSIENT_ATTEMPTS
) -> T:
    """``work()``, run again (after a short random pause) when the database broke its
    transaction off (a deadlock the server broke, a serialisation failure, a busy SQLite):
    it was rolled back whole, so running it again is safe. ``work`` must be one transaction, or
    several that are each safe to run again."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as exc:
            if not is_transient(exc) or attempt == attempts:
                raise
            log.info("%s run again (%s)", what, exc.orig)
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")

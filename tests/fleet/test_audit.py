"""The hash-chained audit log: admin actions and security events, tampering detected."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from ewp.local_fleet import FleetStack
from fleet import audit
from fleet.store.db import make_engine, session_factory
from fleet.store.models import AuditEntry, AuditHead


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def fill(sessions: sessionmaker[Session], n: int = 5) -> None:
    with sessions() as session:
        for i in range(n):
            audit.record(
                session,
                actor="cli:ops",
                action="station.add",
                target=f"ct-{i:02d}",
                detail={"kind": "center"},
            )
        session.commit()


def test_an_intact_chain_verifies(sessions: sessionmaker[Session]) -> None:
    fill(sessions)
    with sessions() as session:
        result = audit.verify(session)
    assert (result.ok, result.entries) == (True, 5)


@pytest.mark.parametrize(
    ("tamper", "problem", "bad_id"),
    [
        (
            update(AuditEntry).where(AuditEntry.id == 3).values(actor="someone-else"),
            "entry 3 was altered",
            3,
        ),
        (
            update(AuditEntry).where(AuditEntry.id == 2).values(detail='{"kind":"mobile"}'),
            "entry 2 was altered",
            2,
        ),
        (delete(AuditEntry).where(AuditEntry.id == 4), "entry 4 is missing", 4),
        (delete(AuditEntry).where(AuditEntry.id == 5), "end was cut off", 5),
        (
            update(AuditEntry).where(AuditEntry.id == 3).values(prev_hash="0" * 64),
            "does not follow",
            3,
        ),
    ],
    ids=["actor", "detail", "deleted", "truncated", "relinked"],
)
def test_any_tampering_is_detected(
    sessions: sessionmaker[Session], tamper: object, problem: str, bad_id: int
) -> None:
    fill(sessions)
    with sessions() as session:
        session.execute(tamper)  # type: ignore[call-overload]
        session.commit()
        result = audit.verify(session)
    assert not result.ok
    assert problem in (result.problem or "")
    assert result.first_bad_id == bad_id


def test_a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link(
    sessions: sessionmaker[Session],
) -> None:
    fill(sessions)
    with sessions() as session:
        entry = session.get(AuditEntry, 2)
        assert entry is not None
        entry.target = "ct-99"
        entry.hash = audit.entry_hash(entry.prev_hash, entry)
        session.commit()
        result = audit.verify(session)
    assert not result.ok and result.first_bad_id == 3


def test_fleet_actions_are_audited_and_the_cli_verifies(fleet_stack: FleetStack) -> None:
    fleet_stack.add_station("mu-44", "mobile")
    assert fleet_stack.context is not None
    with fleet_stack.context.sessions() as session:
        actions = [(e.actor, e.action, e.target) for e in session.scalars(select(AuditEntry))]
    assert ("admin-token", "station.add", "mu-44") in actions
    ewp = str(Path(sys.executable).with_name("ewp"))
    ok = subprocess.run(
        [ewp, "fleet", "audit", "verify", "--config", str(fleet_stack.settings_path)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    with fleet_stack.context.sessions() as session:
        session.execute(update(AuditHead).values(last_id=AuditHead.last_id + 1))
        session.commit()
    bad = subprocess.run(
        [ewp, "fleet", "audit", "verify", "--config", str(fleet_stack.settings_path)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "cut off" in json.loads(bad.stdout)["problem"]

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


# -- the keyed chain (decision 0043) -------------------------------------------------------------

KEY = b"k" * 43
OTHER_KEY = b"o" * 43


@pytest.fixture
def keyed(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions as the fleet's context makes them: with the audit key."""
    engine = make_engine(database_url)
    yield session_factory(engine, {audit.AUDIT_KEY: KEY})
    engine.dispose()


def rebuild(session: Session, start_id: int, key: bytes | None = None) -> None:
    """What someone with write access to the database alone can do: change entries, then
    recompute every link from there on and the head (without the audit key, or with a key of
    their own)."""
    previous = session.get(AuditEntry, start_id - 1)
    prev_hash = previous.hash if previous is not None else audit.GENESIS
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.id >= start_id).order_by(AuditEntry.id)
    ).all()
    for entry in rows:
        entry.prev_hash = prev_hash
        entry.hash = audit.entry_hash(prev_hash, entry, key)
        prev_hash = entry.hash
    head = session.get(AuditHead, 1)
    assert head is not None
    head.last_hash = prev_hash
    session.commit()


def test_a_keyed_chain_verifies_only_with_its_key(keyed: sessionmaker[Session]) -> None:
    fill(keyed)
    with keyed() as session:
        assert audit.verify(session, KEY) == audit.Verification(True, 5)
        assert not audit.verify(session, OTHER_KEY).ok
        unkeyed = audit.verify(session)  # without a key the first keyed entry cannot check
        assert not unkeyed.ok and unkeyed.first_bad_id == 1


@pytest.mark.parametrize("start", [1, 3, 5], ids=["whole chain", "from the middle", "newest"])
@pytest.mark.parametrize("attacker_key", [None, OTHER_KEY], ids=["no key", "own key"])
def test_a_chain_rebuilt_with_database_access_alone_is_detected(
    keyed: sessionmaker[Session], start: int, attacker_key: bytes | None
) -> None:
    fill(keyed)
    with keyed() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == start).values(actor="nobody"))
        rebuild(session, start, attacker_key)
        # The old, unkeyed verification is fooled: every link is consistent.
        if attacker_key is None:
            assert audit.verify(session).ok is (start == 1)
        result = audit.verify(session, KEY)
    assert not result.ok
    assert result.first_bad_id == start or (start == 1 and result.first_bad_id == 5)
    assert "key" in (result.problem or "") or "altered" in (result.problem or "")


def test_entries_from_before_the_key_still_verify_and_cannot_follow_keyed_ones(
    sessions: sessionmaker[Session], keyed: sessionmaker[Session]
) -> None:
    fill(sessions, 3)  # a fleet from before audit keys
    fill(keyed, 2)
    with keyed() as session:
        assert audit.verify(session, KEY) == audit.Verification(True, 5)
    fill(sessions, 1)  # a writer without the key after keyed entries
    with keyed() as session:
        result = audit.verify(session, KEY)
    assert not result.ok and result.first_bad_id == 6 and "not keyed" in (result.problem or "")


def test_the_audit_key_is_made_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "audit-key"
    key, created = audit.ensure_key(path)
    again, created_again = audit.ensure_key(path)
    assert created and not created_again and key == again and len(key) >= 32
    assert path.stat().st_mode & 0o777 == 0o600


def _verify_cli(stack: FleetStack, *extra: str) -> subprocess.CompletedProcess[str]:
    ewp = str(Path(sys.executable).with_name("ewp"))
    return subprocess.run(
        [ewp, "fleet", "audit", "verify", "--config", str(stack.settings_path), *extra],
        capture_output=True,
        text=True,
    )


def test_the_cli_finds_a_rebuilt_chain_and_a_cut_end_against_a_kept_head(
    fleet_stack: FleetStack,
) -> None:
    for n in range(3):
        fleet_stack.add_station(f"mu-5{n}", "mobile")
    assert fleet_stack.context is not None
    key_file = fleet_stack.context.audit_key_path
    assert key_file.stat().st_mode & 0o777 == 0o600
    with fleet_stack.context.sessions() as session:
        first = session.get(AuditEntry, 1)
        assert first is not None and first.action == "audit.key-created"
    ok = _verify_cli(fleet_stack)
    assert ok.returncode == 0, ok.stderr
    kept_head = json.loads(ok.stdout)["head"]
    # Someone with the database alone cuts the newest entries off and points the head back:
    # every remaining link is keyed and consistent; only the head kept elsewhere shows it.
    with fleet_stack.context.sessions() as session:
        last_id = int(kept_head.split(":")[0])
        earlier = session.get(AuditEntry, last_id - 2)
        assert earlier is not None
        session.execute(delete(AuditEntry).where(AuditEntry.id > earlier.id))
        session.execute(update(AuditHead).values(last_id=earlier.id, last_hash=earlier.hash))
        session.commit()
    assert _verify_cli(fleet_stack).returncode == 0
    cut = _verify_cli(fleet_stack, "--expect", kept_head)
    assert cut.returncode == 1 and "cut short or rolled back" in json.loads(cut.stdout)["problem"]
    # ... then rewrites an entry and rebuilds the chain without the key.
    with fleet_stack.context.sessions() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(target="mu-99"))
        rebuild(session, 2)
    bad = _verify_cli(fleet_stack)
    assert bad.returncode == 1 and "tampered" in bad.stderr
    assert json.loads(bad.stdout)["first_bad_id"] == 2
    # Without the key file there is nothing to verify against: a clear refusal.
    key_file.rename(key_file.with_name("audit-key.moved"))
    try:
        missing = _verify_cli(fleet_stack)
    finally:
        key_file.with_name("audit-key.moved").rename(key_file)
    assert missing.returncode == 2 and "audit key" in json.loads(missing.stdout)["problem"]

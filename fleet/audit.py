"""The audit log: every admin action and security event, in a hash chain.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical
content (id, time, actor, action, target, detail). ``audit_head`` holds the newest id and hash;
an append locks it (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's writers serialise anyway),
so concurrent appends serialise and the chain never forks. The lock is held until the caller
commits: append last in a transaction, after the rows it audits. Changing, deleting or
inserting any row, or cutting the log short, breaks the chain, and ``verify`` (``ewp fleet
audit verify``) says where.

Entries are added in the caller's transaction: the change and its audit entry commit together.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.store.locking import locked_or_created
from fleet.store.models import AuditEntry, AuditHead, utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
Detail = dict[str, str | int | float | bool | None]


def _canonical(
    entry_id: int, at: datetime, actor: str, action: str, target: str, detail: str
) -> bytes:
    return json.dumps(
        [entry_id, at.isoformat(timespec="microseconds"), actor, action, target, detail],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    content = _canonical(entry.id, entry.at, entry.actor, entry.action, entry.target, entry.detail)
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    detail: Detail | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction (the caller commits)."""
    # Created by the first append ever; two first appends at once must not both insert it.
    head, _ = locked_or_created(
        session, AuditHead, 1, {"id": 1, "last_id": 0, "last_hash": GENESIS}
    )
    entry = AuditEntry(
        id=head.last_id + 1,
        at=utcnow(),
        actor=actor,
        action=action,
        target=target,
        detail=json.dumps(detail or {}, sort_keys=True, separators=(",", ":")),
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(head.last_hash, entry)
    session.add(entry)
    head.last_id, head.last_hash = entry.id, entry.hash
    log.info("audit: %s %s %s by %s", action, target, detail or "", actor)
    return entry


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str | None = None
    first_bad_id: int | None = None


def verify(session: Session, batch: int = 1000) -> Verification:
    """Walk the chain from the start; the first broken link is reported."""
    head = session.get(AuditHead, 1)
    expected_prev, expected_id, count = GENESIS, 1, 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            if entry.id != expected_id:
                return Verification(False, count, f"entry {expected_id} is missing", expected_id)
            if entry.prev_hash != expected_prev:
                return Verification(
                    False, count, f"entry {entry.id} does not follow entry {entry.id - 1}", entry.id
                )
            if entry_hash(expected_prev, entry) != entry.hash:
                return Verification(False, count, f"entry {entry.id} was altered", entry.id)
            expected_prev, expected_id, count = entry.hash, entry.id + 1, count + 1
            last_id = entry.id
    if head is None:
        if count:
            return Verification(False, count, "the chain's head record is missing", None)
        return Verification(True, 0)
    if head.last_id != count or head.last_hash != expected_prev:
        return Verification(
            False,
            count,
            f"the log ends at entry {count} but entries up to "
            f"{head.last_id} were written: the end was cut off",
            count + 1,
        )
    return Verification(True, count)

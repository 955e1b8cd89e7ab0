"""The audit log: every admin action and security event, in a keyed hash chain.

Each entry's hash is HMAC-SHA256, keyed with the fleet's audit key, over the previous entry's
hash and the entry's own canonical content (id, time, actor, action, target, detail). The key
is a file beside the other secrets (``secrets/audit-key``), never in the database: someone who
can write the database but not read that file cannot rebuild the chain after changing it, and
``verify`` finds the first entry that is not keyed with the fleet's key (decision 0043). The
key travels with the sessions (``session.info["audit_key"]``, set by the fleet's context).
Entries written before a fleet had a key are plain SHA-256 and still verify; once one entry is
keyed, every later one must be, and so must the newest. ``audit_head`` holds the newest id and hash;
an append locks it (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's writers serialise anyway),
so concurrent appends serialise and the chain never forks. The lock is held until the caller
commits: append last in a transaction, after the rows it audits. Changing, deleting or
inserting any row, or cutting the log short, breaks the chain, and ``verify`` (``ewp fleet
audit verify``) says where.

Entries are added in the caller's transaction: the change and its audit entry commit together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.store.locking import locked_or_created
from fleet.store.models import AuditEntry, AuditHead, utcnow
from protocol.private_files import create_private_once

log = logging.getLogger(__name__)

GENESIS = "0" * 64
Detail = dict[str, str | int | float | bool | None]
AUDIT_KEY = "audit_key"  # the key's name in Session.info
AUDIT_KEY_FILE = "audit-key"  # in the data directory's secrets/


def _canonical(
    entry_id: int, at: datetime, actor: str, action: str, target: str, detail: str
) -> bytes:
    return json.dumps(
        [entry_id, at.isoformat(timespec="microseconds"), actor, action, target, detail],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def entry_hash(prev_hash: str, entry: AuditEntry, key: bytes | None = None) -> str:
    """HMAC-SHA256 with the audit key; plain SHA-256 without one (a fleet from before keys)."""
    content = _canonical(entry.id, entry.at, entry.actor, entry.action, entry.target, entry.detail)
    message = prev_hash.encode() + content
    if key is not None:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def ensure_key(path: Path) -> tuple[bytes, bool]:
    """The fleet's audit key, made (once, 0600) if there is none yet; returns it and whether
    this call made it."""
    created = create_private_once(path, (secrets.token_urlsafe(32) + "\n").encode())
    return load_key(path), created


def load_key(path: Path) -> bytes:
    """The audit key from its file (FileNotFoundError when there is none)."""
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < 32:
        raise ValueError(f"the audit key in {path} is too short: it must be 32 characters or more")
    return text.encode()


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
    key = session.info.get(AUDIT_KEY)
    entry.hash = entry_hash(head.last_hash, entry, key if isinstance(key, bytes) else None)
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


def verify(session: Session, key: bytes | None = None, batch: int = 1000) -> Verification:
    """Walk the chain from the start; the first broken link is reported. With the fleet's key,
    an entry hashed without it after a keyed one, or a newest entry not keyed, is tampering:
    the chain was rebuilt by someone without the key."""
    head = session.get(AuditHead, 1)
    expected_prev, expected_id, count = GENESIS, 1, 0
    last_id = 0
    keyed_from: int | None = None
    newest_keyed = False
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
            newest_keyed = key is not None and hmac.compare_digest(
                entry_hash(expected_prev, entry, key), entry.hash
            )
            if not newest_keyed:
                if entry_hash(expected_prev, entry) != entry.hash:
                    return Verification(False, count, f"entry {entry.id} was altered", entry.id)
                if keyed_from is not None:
                    return Verification(
                        False,
                        count,
                        f"entry {entry.id} is not keyed with the audit key although entries from "
                        f"{keyed_from} on are: the log was rewritten without the key",
                        entry.id,
                    )
            elif keyed_from is None:
                keyed_from = entry.id
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
    if key is not None and count and not newest_keyed:
        return Verification(
            False,
            count,
            f"the newest entry ({count}) is not keyed with the audit key: the log was rebuilt "
            "without the key (or the key file is not this fleet's)",
            count,
        )
    return Verification(True, count)

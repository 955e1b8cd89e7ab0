"""The quarantine: where a message that could not be handled goes, instead of coming back.

A message whose handling raised something other than a refusal (a bug, a value the database
would not take, a transaction the database kept breaking off) is tried a bounded number of
times (fleet/ingest/routes.py); then it is kept here with the station, topic and reason, an
audit entry and the station's ``station-misbehaving`` alert, counted in /metrics
(``ewp_ingest_quarantined``), and acknowledged to the broker: it is never delivered again, and
the messages behind it flow on.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy.orm import Session, sessionmaker

from fleet import audit
from fleet.store.models import QuarantinedMessage

security = logging.getLogger("ewp.security")

EXCERPT_BYTES = 1024


def quarantine(
    sessions: sessionmaker[Session],
    station_id: str,
    topic: str,
    payload: bytes,
    reason: str,
    detail: str,
) -> int:
    """Keep the message with why (commits); returns its quarantine id."""
    security.error(
        "quarantined a message from %s on %s (%d bytes): %s: %s",
        station_id,
        topic,
        len(payload),
        reason,
        detail[:500],
    )
    with sessions() as session:
        row = QuarantinedMessage(
            station_id=station_id[:63],
            topic=topic[:300],
            reason=reason[:64],
            detail=detail[:2000],
            size=len(payload),
            sha256=hashlib.sha256(payload).hexdigest(),
            excerpt=bytes(payload[:EXCERPT_BYTES]),
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor="fleet:ingest",
            action="security.quarantined",
            target=station_id[:63],
            detail={"quarantine_id": row.id, "topic": topic[:300], "reason": reason[:64]},
        )
        session.commit()
        return row.id

"""Flagging a misbehaving station: one ``station-misbehaving`` alert, raised once.

Ingest flags a station whose messages were quarantined, that ran over a budget (bytes or ids of
unfinished packets, refusals a minute) or that sent a packet sealed to the wrong key. The alert
shows on the dashboard with the station and goes to the webhook like any other (fleet/alerts/);
its detail says what the station did last. It is not cleared by a rule: it stays raised, so an
operator looks at the station (and revokes it if it was stolen).
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from fleet.alerts.raising import sync
from fleet.alerts.rules import Condition
from fleet.ops_settings import AlertSettings, RuleName
from fleet.store.models import utcnow

log = logging.getLogger(__name__)
security = logging.getLogger("ewp.security")

RULE: RuleName = "station-misbehaving"


def raise_flag(
    sessions: sessionmaker[Session],
    station_id: str,
    kind: str,
    summary: str,
    *,
    settings: AlertSettings | None = None,
) -> None:
    """Raise (or update) the station's ``station-misbehaving`` alert; commits."""
    security.warning("station %s flagged: %s: %s", station_id, kind, summary)
    condition = Condition(
        RULE,
        station_id,
        f"station {station_id} misbehaves: {summary}"[:300],
        {"kind": kind, "summary": summary[:300]},
    )
    with sessions() as session:
        sync(
            session,
            [condition],
            rules=[RULE],
            now=utcnow(),
            settings=settings or AlertSettings(),
            station_id=station_id,
        )
        session.commit()

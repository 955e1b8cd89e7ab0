"""Raising, clearing and acknowledging alerts: one active alert per rule and station, each
change with its webhook notification in the same transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet import audit
from fleet.alerts.rules import RULE_FUNCTIONS, SEVERITY, Condition, active_key, gather
from fleet.errors import NotFoundError
from fleet.ops_settings import AlertSettings
from fleet.store.locking import locked
from fleet.store.ops_models import Alert, AlertNotification

log = logging.getLogger(__name__)

AUDITED_RULES: frozenset[str] = frozenset({"tamper", "reconciliation-gap", "station-misbehaving"})


@dataclass
class Changes:
    raised: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)


def alert_json(alert: Alert) -> dict[str, object]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "station_id": alert.station_id,
        "severity": alert.severity,
        "summary": alert.summary,
        "detail": json.loads(alert.detail),
        "state": "active" if alert.cleared_at is None else "cleared",
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by,
    }


def _notify(session: Session, alert: Alert, event: str, *, now: datetime, webhook: bool) -> None:
    if not webhook:
        return
    session.flush()  # the alert's id
    notification = AlertNotification(
        alert_id=alert.id, event=event, payload="", next_attempt_at=now, created_at=now
    )
    session.add(notification)
    session.flush()
    notification.payload = json.dumps(
        {"v": 1, "id": notification.id, "event": event, "alert": alert_json(alert)},
        ensure_ascii=False,
        sort_keys=True,
    )


def sync(
    session: Session,
    conditions: Iterable[Condition],
    *,
    rules: Iterable[str],
    now: datetime,
    settings: AlertSettings,
    station_id: str | None = None,
) -> Changes:
    """Make the active alerts of ``rules`` (for one station, or all) match ``conditions``.

    The caller commits. Disabled rules raise nothing (and clear what they had raised).
    """
    rules = set(rules)
    webhook = settings.webhook.url is not None
    wanted = {
        active_key(c.rule, c.station_id): c
        for c in conditions
        if settings.enabled(c.rule) and c.rule in rules
    }
    query = select(Alert).where(Alert.active_key.is_not(None), Alert.rule.in_(rules))
    if station_id is not None:
        query = query.where(Alert.station_id == station_id)
    # Locked (in id order: no deadlock between two evaluations): on PostgreSQL a second
    # evaluation waits, then finds an alert the first one cleared no longer active, instead
    # of clearing (and notifying) it a second time.
    query = query.order_by(Alert.id).with_for_update()
    current = {a.active_key or "": a for a in session.scalars(query)}
    changes = Changes()
    for key, condition in wanted.items():
        alert = current.get(key)
        detail = json.dumps(condition.detail, sort_keys=True, default=str)
        if alert is not None:
            if alert.detail != detail or alert.summary != condition.summary:
                alert.detail, alert.summary, alert.updated_at = detail, condition.summary, now
            continue
        alert = Alert(
            rule=condition.rule,
            station_id=condition.station_id,
            active_key=key,
            severity=SEVERITY[condition.rule],
            summary=condition.summary[:300],
            detail=detail,
            raised_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(alert)
        except IntegrityError:
            continue  # another fleet process raised it a moment ago: still raised once
        _notify(session, alert, "raised", now=now, webhook=webhook)
        if condition.rule in AUDITED_RULES:
            audit.record(
                session,
                actor="fleet:alerts",
                action=f"alert.raise.{condition.rule}",
                target=condition.station_id,
                detail={"alert_id": alert.id, **condition.detail},
            )
        log.warning("alert raised: %s", condition.summary)
        changes.raised.append(alert)
    for key, alert in current.items():
        if key in wanted:
            continue
        alert.active_key = None
        alert.cleared_at = alert.updated_at = now
        _notify(session, alert, "cleared", now=now, webhook=webhook)
        log.info("alert cleared: %s", alert.summary)
        changes.cleared.append(alert)
    return changes


def evaluate(
    session: Session,
    *,
    now: datetime,
    settings: AlertSettings,
    station_id: str | None = None,
) -> Changes:
    """Run every rule (for one station, or all) and sync the alerts. Caller commits."""
    inputs = gather(session, now=now, settings=settings, station_id=station_id)
    conditions = [c for rule in RULE_FUNCTIONS.values() for c in rule(inputs)]
    return sync(
        session,
        conditions,
        rules=RULE_FUNCTIONS,
        now=now,
        settings=settings,
        station_id=station_id,
    )


class AlertNotFoundError(NotFoundError, LookupError):
    pass


def acknowledge(
    session: Session,
    alert_id: int,
    *,
    actor: str,
    note: str | None,
    now: datetime,
    settings: AlertSettings,
) -> Alert:
    """An operator has seen it (audited). Acknowledging twice changes nothing. Caller commits."""
    alert = locked(session, Alert, alert_id)  # two operators at once: audited once
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    if alert.acknowledged_at is not None:
        return alert
    alert.acknowledged_at, alert.acknowledged_by = now, actor
    alert.acknowledged_note = note[:500] if note else None
    alert.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="alert.acknowledge",
        target=alert.station_id,
        detail={"alert_id": alert.id, "rule": alert.rule, "note": alert.acknowledged_note},
    )
    _notify(session, alert, "acknowledged", now=now, webhook=settings.webhook.url is not None)
    return alert


def active_counts(session: Session) -> dict[tuple[str, str], int]:
    """Active alerts by (rule, severity), for the metrics endpoint."""
    rows = session.execute(
        select(Alert.rule, Alert.severity, func.count())
        .where(Alert.active_key.is_not(None))
        .group_by(Alert.rule, Alert.severity)
    ).all()
    return {(rule, severity): count for rule, severity, count in rows}

"""Alerts: the list, one alert, acknowledgement, webhook deliveries and the rules in force."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.alerts import raising
from fleet.api.ops_schemas import AlertPublic, NotificationPublic
from fleet.context import FleetContext
from fleet.ops_settings import AlertSettings
from fleet.services.lookup import found
from fleet.store.ops_models import Alert, AlertNotification

AlertState = Literal["active", "cleared", "all"]
DeliveryState = Literal["pending", "delivered", "failed"]


def list_alerts(
    session: Session,
    *,
    state: AlertState = "active",
    station_id: str | None = None,
    rule: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AlertPublic]:
    """Newest first."""
    query = select(Alert).order_by(Alert.id.desc())
    if state == "active":
        query = query.where(Alert.cleared_at.is_(None))
    elif state == "cleared":
        query = query.where(Alert.cleared_at.is_not(None))
    if station_id is not None:
        query = query.where(Alert.station_id == station_id)
    if rule is not None:
        query = query.where(Alert.rule == rule)
    return [AlertPublic.of(a) for a in session.scalars(query.limit(limit).offset(offset))]


def rules(context: FleetContext) -> AlertSettings:
    """The rules in force (thresholds, service hours, webhook policy; never the secret)."""
    webhook = context.settings.alerts.webhook.model_copy(update={"secret": None})
    return context.settings.alerts.model_copy(update={"webhook": webhook})


def list_notifications(
    session: Session, *, state: DeliveryState | None = None, limit: int = 100
) -> list[NotificationPublic]:
    """Webhook deliveries, newest first."""
    query = select(AlertNotification).order_by(AlertNotification.id.desc())
    if state is not None:
        query = query.where(AlertNotification.state == state)
    return [NotificationPublic.of(n) for n in session.scalars(query.limit(limit))]


def notifications_of(
    session: Session, alert_ids: set[int], *, newest: int = 1000
) -> dict[int, list[NotificationPublic]]:
    """What the webhook was asked to deliver for these alerts (among the newest deliveries)."""
    found: dict[int, list[NotificationPublic]] = {}
    for n in list_notifications(session, limit=newest):
        if n.alert_id in alert_ids:
            found.setdefault(n.alert_id, []).append(n)
    return found


def get_alert(session: Session, alert_id: int) -> AlertPublic:
    return AlertPublic.of(found(session, Alert, alert_id, f"no alert {alert_id}"))


def acknowledge(
    session: Session, context: FleetContext, alert_id: int, *, actor: str, note: str | None
) -> AlertPublic:
    """Someone is on it (audited). Acknowledging again changes nothing."""
    alert = raising.acknowledge(
        session,
        alert_id,
        actor=actor,
        note=note,
        now=context.ops.clock(),
        settings=context.settings.alerts,
    )
    session.commit()
    return AlertPublic.of(alert)

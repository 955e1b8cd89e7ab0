"""/api/v1/alerts: active and past alerts, acknowledgement, webhook deliveries, the rules."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import select

from fleet.alerts.raising import AlertNotFoundError, acknowledge
from fleet.api.deps import Context, DbSession, Operator, ReadSession, Viewer
from fleet.api.ops_schemas import AcknowledgeRequest, AlertPublic, NotificationPublic
from fleet.api.schemas import errors
from fleet.ops_settings import AlertSettings
from fleet.store.ops_models import Alert, AlertNotification

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=errors(401, 403, 404))
AlertId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=list[AlertPublic])
def list_alerts(
    session: ReadSession,
    caller: Viewer,
    state: Literal["active", "cleared", "all"] = "active",
    station_id: str | None = None,
    rule: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
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


@router.get("/rules", response_model=AlertSettings)
def get_rules(context: Context, caller: Viewer) -> AlertSettings:
    """The rules in force (thresholds, service hours, webhook policy; never the secret)."""
    webhook = context.settings.alerts.webhook.model_copy(update={"secret": None})
    return context.settings.alerts.model_copy(update={"webhook": webhook})


@router.get("/notifications", response_model=list[NotificationPublic])
def list_notifications(
    session: ReadSession,
    caller: Viewer,
    state: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[NotificationPublic]:
    """Webhook deliveries, newest first: what is still pending, what failed and why."""
    query = select(AlertNotification).order_by(AlertNotification.id.desc())
    if state is not None:
        query = query.where(AlertNotification.state == state)
    return [NotificationPublic.of(n) for n in session.scalars(query.limit(limit))]


@router.get("/{alert_id}", response_model=AlertPublic)
def get_alert(alert_id: AlertId, session: ReadSession, caller: Viewer) -> AlertPublic:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return AlertPublic.of(alert)


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge_alert(
    alert_id: AlertId,
    session: DbSession,
    context: Context,
    caller: Operator,
    body: AcknowledgeRequest | None = None,
) -> AlertPublic:
    """Someone is on it (audited). Acknowledging again changes nothing."""
    try:
        alert = acknowledge(
            session,
            alert_id,
            actor=caller.name,
            note=body.note if body else None,
            now=context.ops.clock(),
            settings=context.settings.alerts,
        )
    except AlertNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    session.commit()
    return AlertPublic.of(alert)

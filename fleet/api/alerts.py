"""/api/v1/alerts: active and past alerts, acknowledgement, webhook deliveries, the rules
(``fleet/services/alerts.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fleet.api.deps import AlertId, Context, DbSession, Operator, ReadSession, Viewer
from fleet.api.ops_schemas import AcknowledgeRequest, AlertPublic, NotificationPublic
from fleet.api.schemas import errors
from fleet.ops_settings import AlertSettings
from fleet.services import alerts
from fleet.services.alerts import AlertState, DeliveryState

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=errors(401, 403, 404))


@router.get("", response_model=list[AlertPublic])
def list_alerts(
    session: ReadSession,
    caller: Viewer,
    state: AlertState = "active",
    station_id: str | None = None,
    rule: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[AlertPublic]:
    """Newest first."""
    return alerts.list_alerts(
        session, state=state, station_id=station_id, rule=rule, limit=limit, offset=offset
    )


@router.get("/rules", response_model=AlertSettings)
def get_rules(context: Context, caller: Viewer) -> AlertSettings:
    """The rules in force (thresholds, service hours, webhook policy; never the secret)."""
    return alerts.rules(context)


@router.get("/notifications", response_model=list[NotificationPublic])
def list_notifications(
    session: ReadSession,
    caller: Viewer,
    state: DeliveryState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[NotificationPublic]:
    """Webhook deliveries, newest first: what is still pending, what failed and why."""
    return alerts.list_notifications(session, state=state, limit=limit)


@router.get("/{alert_id}", response_model=AlertPublic)
def get_alert(alert_id: AlertId, session: ReadSession, caller: Viewer) -> AlertPublic:
    return alerts.get_alert(session, alert_id)


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge_alert(
    alert_id: AlertId,
    session: DbSession,
    context: Context,
    caller: Operator,
    body: AcknowledgeRequest | None = None,
) -> AlertPublic:
    """Someone is on it (audited). Acknowledging again changes nothing."""
    return alerts.acknowledge(
        session, context, alert_id, actor=caller.name, note=body.note if body else None
    )

"""The dashboard's alerts (``/ui/alerts``): the list with its filters and webhook deliveries,
and acknowledging one (operators; audited)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from fleet.api.deps import AlertId, Context, DbSession
from fleet.ops_settings import RULES
from fleet.services import alerts
from fleet.services.alerts import AlertState
from fleet.web.access import Form, Lang, OperatorPage, ViewerPage, safe_next
from fleet.web.rendering import is_htmx, render

router = APIRouter(include_in_schema=False)


@router.get("/ui/alerts")
def alerts_page(
    request: Request,
    lang: Lang,
    caller: ViewerPage,
    session: DbSession,
    context: Context,
    state: AlertState = "active",
    rule: str = "",
    station: str = "",
) -> HTMLResponse:
    chosen_rule = rule.strip()[:40] or None
    chosen_station = station.strip()[:63] or None
    found = alerts.list_alerts(
        session, state=state, station_id=chosen_station, rule=chosen_rule, limit=200
    )
    return render(
        request,
        "alerts.html",
        lang,
        caller,
        alerts=found,
        notifications=alerts.notifications_of(session, {a.id for a in found}),
        webhook=alerts.rules(context).webhook.url is not None,
        rules=RULES,
        state=state,
        rule=chosen_rule or "",
        station=chosen_station or "",
    )


@router.post("/ui/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: AlertId,
    request: Request,
    lang: Lang,
    form: Form,
    caller: OperatorPage,
    session: DbSession,
    context: Context,
) -> Response:
    """Acknowledge (audited); htmx gets the updated row, a plain form the list."""
    note = form.get("note", "").strip()[:500] or None
    alert = alerts.acknowledge(session, context, alert_id, actor=caller.principal.name, note=note)
    if not is_htmx(request):
        return RedirectResponse(
            safe_next(form.get("next") or "/ui/alerts"), status_code=status.HTTP_303_SEE_OTHER
        )
    return render(
        request,
        "alert_row.html",
        lang,
        caller,
        alert=alert,
        notifications=alerts.notifications_of(session, {alert.id}),
        webhook=context.settings.alerts.webhook.url is not None,
    )

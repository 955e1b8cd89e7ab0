"""The dashboard's pages (``/ui/...``): server-rendered with Jinja2, htmx for in-place updates.

Routes stay thin: they call the API's own route functions (``fleet/api/*``), which call the
fleet's services, so a page shows exactly what the API answers and is authorised the same
way — the page checks the caller's role first (``fleet/web/access.py``), then the API function
does its work. What a role may not use is hidden or disabled in the page and refused (403) by
the route.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api import alerts as alerts_api
from fleet.api import auth as auth_api
from fleet.api import configuration as config_api
from fleet.api import packets as packets_api
from fleet.api import reconciliation as reconciliation_api
from fleet.api import station_health as health_api
from fleet.api import stations as stations_api
from fleet.api.access_schemas import LoginRequest
from fleet.api.deps import Context, DbSession
from fleet.api.ops_schemas import AcknowledgeRequest, NotificationPublic, TagMembers
from fleet.api.schemas import StationPublic
from fleet.context import FleetContext
from fleet.errors import FleetError, NotFoundError
from fleet.ops_settings import RULES
from fleet.roles import Principal, Role
from fleet.store.models import Station
from fleet.web import charts, thailand_map
from fleet.web.access import (
    CSRF_FIELD,
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    Form,
    Lang,
    LoginRequiredError,
    OperatorPage,
    PageError,
    ReleaseManagerPage,
    SignedInPage,
    ViewerPage,
    WebCaller,
    language,
    login_csrf_ok,
    login_csrf_token,
    login_url,
    safe_next,
    set_login_csrf,
)
from fleet.web.i18n import Language, Translator, duration, label, size, translate
from protocol.reference_data import provinces

log = logging.getLogger(__name__)
security = logging.getLogger("ewp.security")

HERE = Path(__file__).parent
BANGKOK = ZoneInfo("Asia/Bangkok")
HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
}
RANGES: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,39}$")  # as the registry's tags
TARGET_RE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,62}$")  # a tag or a station id

router = APIRouter(include_in_schema=False)
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
T = TypeVar("T")


# -- rendering ---------------------------------------------------------------------------------


def when(moment: datetime | str | None) -> str:
    """A moment in Bangkok time, ``2026-11-26 14:05``."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return str(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BANGKOK).strftime("%Y-%m-%d %H:%M")


def render(
    request: Request,
    template: str,
    lang: Language,
    caller: WebCaller | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    t = Translator(lang)
    html = _templates.get_template(template).render(
        request_path=request.url.path,
        request_query=str(request.url.query),
        lang=lang,
        t=t,
        label=t.label,
        when=when,
        duration=lambda s: duration(s, lang),
        size=size,
        caller=caller,
        user=caller.principal if caller else None,
        csrf=caller.csrf_token if caller else "",
        csrf_field=CSRF_FIELD,
        csrf_header_json=json.dumps({"X-CSRF-Token": caller.csrf_token}) if caller else "{}",
        OPERATOR=Role.OPERATOR,
        RELEASE_MANAGER=Role.RELEASE_MANAGER,
        is_htmx=request.headers.get("hx-request") == "true",
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def _api(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """An API route function; its 404 becomes the dashboard's not-found page."""
    try:
        return call(*args, **kwargs)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise PageError(404, "error-not-found", what=str(exc.detail)) from None
        raise


def _optional(call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """An API route function whose 404 means "nothing yet"."""
    try:
        return call(*args, **kwargs)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            return None
        raise


def install(app: FastAPI) -> None:
    """Mount the dashboard on the fleet's app: pages, static files, error pages."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)
        target = login_url(exc.next_url) + ("&ended=1" if exc.ended else "")
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        lang = language(request)
        values = dict(exc.values)
        if exc.key == "error-forbidden":
            values = {k: label("role", str(v), lang) for k, v in values.items()}
        return render(
            request,
            "error.html",
            lang,
            None,
            status_code=exc.status_code,
            message=translate(exc.key, lang, **values),
        )

    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(PageError, page_error)


def fleet_error_page(request: Request, error: FleetError, status_code: int) -> Response:
    """A fleet error on a dashboard page (``fleet/api/error_handler.py`` decides the status)."""
    lang = language(request)
    key = "error-not-found" if isinstance(error, NotFoundError) else "error-refused"
    message = translate(key, lang, what=str(error), reason=str(error))
    return render(request, "error.html", lang, None, status_code=status_code, message=message)


# -- login, logout, language -------------------------------------------------------------------


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/ui/login")
def login_page(
    request: Request,
    lang: Lang,
    context: Context,
    next: str = "/ui/",
    ended: bool = False,
    out: bool = False,
) -> HTMLResponse:
    notice = "session-ended" if ended else "logged-out" if out else None
    return _login_form(request, lang, context, next_url=safe_next(next), notice=notice)


def _login_form(
    request: Request,
    lang: Language,
    context: FleetContext,
    *,
    next_url: str,
    notice: str | None = None,
    problem: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """The login page with its own CSRF token, in the form and in a cookie."""
    token = login_csrf_token(request)
    answer = render(
        request,
        "login.html",
        lang,
        None,
        status_code=status_code,
        next=next_url,
        notice=notice,
        problem=problem,
        username=username,
        login_csrf=token,
    )
    set_login_csrf(answer, token, secure=context.settings.secure_cookies)
    return answer


@router.post("/ui/login")
def login(
    request: Request, lang: Lang, form: Form, session: DbSession, context: Context
) -> Response:
    """The API's login (same lock-out, audit and cookies), then on to the page asked for."""
    next_url = safe_next(form.get("next"))
    username = form.get("username", "").strip()
    if not login_csrf_ok(request, form, context.settings.service.public_url):
        security.warning("login form for %r without a valid login CSRF token", username[:64])
        return _login_form(
            request,
            lang,
            context,
            next_url=next_url,
            problem=translate("error-csrf", lang),
            status_code=403,
        )
    answer = RedirectResponse(next_url, status_code=status.HTTP_303_SEE_OTHER)
    answer.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    try:
        body = LoginRequest(username=username, password=form.get("password", ""))
        auth_api.login(body, request, answer, session, context)
    except (ValidationError, HTTPException) as exc:
        locked = isinstance(exc, HTTPException) and exc.status_code == 429
        retry = (exc.headers or {}).get("Retry-After", "") if isinstance(exc, HTTPException) else ""
        return _login_form(
            request,
            lang,
            context,
            next_url=next_url,
            problem=translate("login-locked", lang, seconds=retry)
            if locked
            else translate("login-failed", lang),
            username=username,
            status_code=429 if locked else 401,
        )
    return answer


@router.post("/ui/logout")
def logout(caller: SignedInPage, session: DbSession) -> Response:
    answer = RedirectResponse("/ui/login?out=1", status_code=status.HTTP_303_SEE_OTHER)
    auth_api.logout(caller.principal, session, answer)
    return answer


@router.get("/ui/lang/{choice}")
def switch_language(choice: Literal["th", "en"], next: str = "/ui/") -> RedirectResponse:
    """Remember the language in a cookie (a year) and go back to the page."""
    answer = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    answer.set_cookie(LANG_COOKIE, choice, max_age=365 * 86400, samesite="lax", path="/")
    return answer


# -- overview ----------------------------------------------------------------------------------


def _display_state(registry_state: str | None, health_state: str) -> str:
    if registry_state == "awaiting_claim":
        return "awaiting-claim"
    return health_state


@router.get("/ui/")
def overview(
    request: Request, lang: Lang, caller: ViewerPage, session: DbSession, context: Context
) -> HTMLResponse:
    who = caller.principal
    fleet = health_api.get_fleet_health(session, context, who)
    healths = health_api.every_station_health(session, context)
    registry = context.view("registry", _registry).get(session, context.ops.clock())
    active = alerts_api.list_alerts(
        session, who, state="active", station_id=None, rule=None, limit=10, offset=0
    )
    rows = []
    spots = []
    for health in healths:
        station = registry.get(health.station_id)
        state = _display_state(station.state if station else None, health.state)
        province = station.province if station else None
        rows.append({"health": health, "station": station, "state": state})
        province_name = (province.th if lang == "th" else province.en) if province else ""
        spots.append(
            thailand_map.StationSpot(
                station_id=health.station_id,
                state=state,
                kind=health.kind,
                latitude=health.position.latitude if health.position else None,
                longitude=health.position.longitude if health.position else None,
                province=province.code if province else None,
                title=" · ".join(
                    p for p in (health.station_id, label("state", state, lang), province_name) if p
                ),
            )
        )
    if len(rows) > OVERVIEW_ROWS:  # a national fleet: the stations that need attention first
        rows = sorted(rows, key=_urgency)[:OVERVIEW_ROWS]
    unplaced: list[str] = []
    if len(spots) > thailand_map.MARKERS_MAX:

        def group_title(code: str, count: int, not_online: int) -> str:
            name = provinces()[code].th if lang == "th" else provinces()[code].en
            return translate("map-province-group", lang, province=name, n=count, off=not_online)

        markers = thailand_map.place_by_province(spots, group_title)
    else:
        markers, unplaced = thailand_map.place(spots)
    awaiting = sum(1 for s in registry.values() if s.state == "awaiting_claim")
    return render(
        request,
        "overview.html",
        lang,
        caller,
        fleet=fleet,
        awaiting=awaiting,
        never_seen=max(0, fleet.stations.never_seen - awaiting),
        rows=rows,
        rows_total=len(healths),
        active=active,
        outline=thailand_map.outline(),
        capitals=thailand_map.capitals(),
        markers=markers,
        unplaced=unplaced,
    )


OVERVIEW_ROWS = 200
_STATE_URGENCY = {"offline": 0, "never-seen": 1, "online": 2, "awaiting-claim": 3, "revoked": 4}


def _urgency(row: dict[str, Any]) -> tuple[int, float, str]:
    """Offline first, then the oldest backlog; the station id breaks ties."""
    health = row["health"]
    backlog = health.queue.oldest_waiting_age_s if health.queue else None
    return (_STATE_URGENCY.get(row["state"], 5), -(backlog or 0.0), health.station_id)


def _registry(session: Session, now: datetime) -> dict[str, StationPublic]:
    stations = session.scalars(select(Station).order_by(Station.station_id))
    return {s.station_id: StationPublic.of(s) for s in stations}


def warm_fleet_views(context: FleetContext) -> None:
    """Build the overview's fleet-wide views once at start-up, so that the first admin of a
    large fleet does not wait for them (fleet/fleet_view.py)."""
    try:
        with context.sessions() as session:
            health_api.every_station_health(session, context)
            context.view("registry", _registry).get(session, context.ops.clock())
    except Exception:
        log.exception("building the fleet views at start-up failed; the first request will")


# -- station -----------------------------------------------------------------------------------


def _health_charts(points: list[Any]) -> list[charts.Chart]:
    def series(attribute: str, factor: float = 1.0) -> list[tuple[datetime, float | None]]:
        values = []
        for p in points:
            value = getattr(p, attribute)
            values.append((p.at, None if value is None else value * factor))
        return values

    return [
        charts.line_chart("chart-queue", series("queue_waiting"), floor=0),
        charts.line_chart("chart-oldest", series("oldest_waiting_age_s", 1 / 60), floor=0),
        charts.line_chart("chart-disk", series("disk_free_pct"), floor=0, ceiling=100),
        charts.line_chart("chart-cpu", series("cpu_temperature_c")),
        charts.line_chart("chart-battery", series("battery_v")),
    ]


@router.get("/ui/stations/{station_id}")
def station_page(
    station_id: str,
    request: Request,
    lang: Lang,
    caller: ViewerPage,
    session: DbSession,
    context: Context,
    range: Literal["24h", "7d", "30d"] = "24h",
) -> HTMLResponse:
    who = caller.principal
    station = _api(stations_api.get_station, station_id, who, session)
    health = health_api.get_station_health(station_id, session, context, who)
    # Whole seconds (what the API's times accept), the span exactly the range chosen.
    until = (context.ops.clock() + timedelta(seconds=1)).astimezone(UTC).replace(microsecond=0)
    history = health_api.get_station_health_history(
        station_id,
        session,
        context,
        who,
        since=(until - RANGES[range]).strftime("%Y-%m-%dT%H:%M:%SZ"),
        until=until.strftime("%Y-%m-%dT%H:%M:%SZ"),
        resolution="auto",
    )
    alerts = alerts_api.list_alerts(
        session, who, state="all", station_id=station_id, rule=None, limit=20, offset=0
    )
    packets = packets_api.list_packets(
        who, session, station_id=station_id, limit=20, offset=0, newest_first=True
    )
    reconciliation = _optional(
        reconciliation_api.get_station_reconciliation,
        station_id,
        session,
        who,
        since=None,
        gaps_only=False,
    )
    config = config_api.get_effective(station_id, session, who)
    notifications = _notifications(session, who, {a.id for a in alerts})
    return render(
        request,
        "station.html",
        lang,
        caller,
        station=station,
        state=_display_state(station.state, health.state),
        health=health,
        history=history,
        charts=_health_charts(history.points),
        range=range,
        ranges=list(RANGES),
        alerts=alerts,
        notifications=notifications,
        packets=packets,
        reconciliation=reconciliation,
        config=config,
        config_json=json.dumps(config.config, indent=2, ensure_ascii=False)
        if config.config is not None
        else None,
    )


# -- alerts ------------------------------------------------------------------------------------


def _notifications(
    session: DbSession, who: Principal, alert_ids: set[int]
) -> dict[int, list[NotificationPublic]]:
    """What the webhook was asked to deliver for these alerts (the newest 1000 deliveries)."""
    found: dict[int, list[NotificationPublic]] = {}
    for n in alerts_api.list_notifications(session, who, state=None, limit=1000):
        if n.alert_id in alert_ids:
            found.setdefault(n.alert_id, []).append(n)
    return found


def _alerts_view(
    request: Request,
    lang: Lang,
    caller: WebCaller,
    session: DbSession,
    context: Context,
    *,
    state: Literal["active", "cleared", "all"],
    rule: str | None,
    station: str | None,
) -> HTMLResponse:
    who = caller.principal
    alerts = alerts_api.list_alerts(
        session, who, state=state, station_id=station, rule=rule, limit=200, offset=0
    )
    notifications = _notifications(session, who, {a.id for a in alerts})
    rules = alerts_api.get_rules(context, who)
    return render(
        request,
        "alerts.html",
        lang,
        caller,
        alerts=alerts,
        notifications=notifications,
        webhook=rules.webhook.url is not None,
        rules=RULES,
        state=state,
        rule=rule or "",
        station=station or "",
    )


@router.get("/ui/alerts")
def alerts_page(
    request: Request,
    lang: Lang,
    caller: ViewerPage,
    session: DbSession,
    context: Context,
    state: Literal["active", "cleared", "all"] = "active",
    rule: str = "",
    station: str = "",
) -> HTMLResponse:
    return _alerts_view(
        request,
        lang,
        caller,
        session,
        context,
        state=state,
        rule=rule.strip()[:40] or None,
        station=station.strip()[:63] or None,
    )


@router.post("/ui/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: alerts_api.AlertId,
    request: Request,
    lang: Lang,
    form: Form,
    caller: OperatorPage,
    session: DbSession,
    context: Context,
) -> Response:
    """Acknowledge (the API's, audited); htmx gets the updated row, a plain form the list."""
    note = form.get("note", "").strip()[:500] or None
    alert = _api(
        alerts_api.acknowledge_alert,
        alert_id,
        session,
        context,
        caller.principal,
        body=AcknowledgeRequest(note=note),
    )
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(
            safe_next(form.get("next") or "/ui/alerts"), status_code=status.HTTP_303_SEE_OTHER
        )
    return render(
        request,
        "alert_row.html",
        lang,
        caller,
        alert=alert,
        notifications=_notifications(session, caller.principal, {alert.id}),
        webhook=context.settings.alerts.webhook.url is not None,
    )


# -- configuration -----------------------------------------------------------------------------


@router.get("/ui/config")
def config_page(
    request: Request, lang: Lang, caller: ViewerPage, session: DbSession
) -> HTMLResponse:
    who = caller.principal
    return render(
        request,
        "config.html",
        lang,
        caller,
        layers=config_api.list_layers(session, who),
        tags=config_api.list_tags(session, who),
        stations=config_api.list_station_configs(session, who, drifted=False),
        history=config_api.history(session, who, scope=None, target=None, limit=50),
    )


Scope = Literal["fleet", "tag", "station"]


def _layer_url(scope: Scope, target: str) -> str:
    return "/ui/config/fleet" if scope == "fleet" else f"/ui/config/{scope}/{target}"


def _layer_page(
    request: Request,
    lang: Language,
    caller: WebCaller,
    session: DbSession,
    scope: Scope,
    target: str,
    *,
    status_code: int = 200,
    document: str | None = None,
    problems: list[str] | None = None,
    message: str | None = None,
    members_text: str | None = None,
) -> HTMLResponse:
    who = caller.principal
    if scope == "tag" and not TAG_RE.match(target):
        raise PageError(404, "error-not-found", what=f"tag {target}")
    getter = {
        "fleet": lambda: config_api.get_fleet_layer(session, who),
        "tag": lambda: config_api.get_tag_layer(target, session, who),
        "station": lambda: config_api.get_station_layer(target, session, who),
    }[scope]
    if scope == "station":
        _api(stations_api.get_station, target, who, session)
    layer = _optional(getter)
    if document is None:
        document = json.dumps(layer.document if layer else {}, indent=2, ensure_ascii=False)
    members = None
    if scope == "tag":
        found = [tag for tag in config_api.list_tags(session, who) if tag.tag == target]
        members = found[0].stations if found else []
    history = config_api.history(session, who, scope=scope, target=target, limit=20)
    return render(
        request,
        "config_layer.html",
        lang,
        caller,
        status_code=status_code,
        scope=scope,
        target=target,
        action=_layer_url(scope, target),
        layer=layer,
        document=document,
        problems=problems or [],
        message=message,
        members=members,
        members_text=members_text if members_text is not None else " ".join(members or []),
        history=history,
    )


def _problems(exc: HTTPException, lang: Language) -> list[str]:
    """The API's 422 (one entry per problem, ``loc`` naming the key) as sentences."""
    if not isinstance(exc.detail, list):
        return [str(exc.detail)]
    lines = []
    for item in exc.detail:
        key = ".".join(str(part) for part in item.get("loc", [])[1:]) or "(layer)"
        values = {"key": key, "problem": item.get("msg", "")}
        if item.get("station_id"):
            station = item["station_id"]
            lines.append(translate("layer-problem-station", lang, station=station, **values))
        else:
            lines.append(translate("layer-problem", lang, **values))
    return lines


@router.get("/ui/config/fleet")
def fleet_layer_page(
    request: Request, lang: Lang, caller: ViewerPage, session: DbSession
) -> HTMLResponse:
    return _layer_page(request, lang, caller, session, "fleet", "*")


@router.get("/ui/config/open")
def open_layer(
    caller: ViewerPage, scope: Literal["tag", "station"] = "tag", target: str = ""
) -> RedirectResponse:
    """The form "layer for a tag / station" on the configuration page."""
    name = target.strip().lower()
    if not TARGET_RE.match(name):
        raise PageError(404, "error-not-found", what=target[:64])
    return RedirectResponse(f"/ui/config/{scope}/{name}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/ui/config/{scope}/{target}")
def layer_page(
    scope: Literal["tag", "station"],
    target: str,
    request: Request,
    lang: Lang,
    caller: ViewerPage,
    session: DbSession,
) -> HTMLResponse:
    return _layer_page(request, lang, caller, session, scope, target)


def _save_layer(
    request: Request,
    lang: Language,
    form: dict[str, str],
    caller: WebCaller,
    session: DbSession,
    context: Context,
    scope: Scope,
    target: str,
) -> HTMLResponse:
    """Save or remove a layer through the API's functions; a refusal names the keys."""
    who = caller.principal
    text = form.get("document", "")
    removing = form.get("action") == "delete"

    def refused(problems: list[str]) -> HTMLResponse:
        """The form again, with what was typed and why it was refused (422)."""
        return _layer_page(
            request,
            lang,
            caller,
            session,
            scope,
            target,
            status_code=422,
            document=text,
            problems=problems,
        )

    document: dict[str, Any] | None = None
    if not removing:
        problem = None
        try:
            parsed = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            problem = translate("layer-not-json", lang, error=str(exc))
        else:
            if not isinstance(parsed, dict):
                problem = translate("layer-not-object", lang)
        if problem is not None:
            return refused([problem])
        document = parsed
    try:
        if scope == "fleet":
            change = (
                config_api.delete_fleet_layer(session, context, who)
                if document is None
                else config_api.put_fleet_layer(document, session, context, who)
            )
        elif scope == "tag":
            change = (
                config_api.delete_tag_layer(target, session, context, who)
                if document is None
                else config_api.put_tag_layer(target, document, session, context, who)
            )
        else:
            change = (
                config_api.delete_station_layer(target, session, context, who)
                if document is None
                else config_api.put_station_layer(target, document, session, context, who)
            )
    except HTTPException as exc:
        if exc.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT:
            return refused(_problems(exc, lang))
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise PageError(404, "error-not-found", what=str(exc.detail)) from None
        raise
    changed = ", ".join(s.station_id for s in change.stations) or translate("none", lang)
    if change.layer is None:
        message = translate("layer-deleted", lang, stations=changed)
    else:
        message = translate("layer-saved", lang, version=change.layer.version, stations=changed)
    return _layer_page(request, lang, caller, session, scope, target, message=message)


@router.post("/ui/config/fleet")
def save_fleet_layer(
    request: Request,
    lang: Lang,
    form: Form,
    caller: ReleaseManagerPage,
    session: DbSession,
    context: Context,
) -> HTMLResponse:
    return _save_layer(request, lang, form, caller, session, context, "fleet", "*")


@router.post("/ui/config/{scope}/{target}")
def save_layer(
    scope: Literal["tag", "station"],
    target: str,
    request: Request,
    lang: Lang,
    form: Form,
    caller: ReleaseManagerPage,
    session: DbSession,
    context: Context,
) -> HTMLResponse:
    return _save_layer(request, lang, form, caller, session, context, scope, target)


@router.post("/ui/config/tag/{tag}/members")
def save_members(
    tag: str,
    request: Request,
    lang: Lang,
    form: Form,
    caller: ReleaseManagerPage,
    session: DbSession,
    context: Context,
) -> HTMLResponse:
    """Exactly these stations carry the tag (the API's ``PUT .../members``)."""
    text = form.get("stations", "")
    stations = [s for s in re.split(r"[\s,]+", text) if s]
    try:
        config_api.put_tag_members(
            tag, TagMembers(stations=stations), session, context, caller.principal
        )
    except (HTTPException, ValidationError) as exc:
        problems = (
            _problems(exc, lang) if isinstance(exc, HTTPException) else [str(exc.errors()[0])]
        )
        return _layer_page(
            request,
            lang,
            caller,
            session,
            "tag",
            tag,
            status_code=422,
            problems=problems,
            members_text=text,
        )
    return _layer_page(
        request, lang, caller, session, "tag", tag, message=translate("members-saved", lang)
    )

"""How a dashboard page is drawn: the templates (Jinja2, autoescaped), the security headers,
Bangkok time, and the error pages (a fleet error, a page error, a login to go to)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from fleet.errors import FleetError, NotFoundError
from fleet.roles import Role
from fleet.web.access import (
    CSRF_FIELD,
    LoginRequiredError,
    PageError,
    WebCaller,
    language,
    login_url,
)
from fleet.web.i18n import Language, Translator, duration, label, size, translate

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
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


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


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def display_state(registry_state: str | None, health_state: str) -> str:
    """What the dashboard calls a station's state: its health, or awaiting its claim."""
    if registry_state == "awaiting_claim":
        return "awaiting-claim"
    return health_state


# -- error answers -----------------------------------------------------------------------------


def _error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    lang = language(request)
    return render(request, "error.html", lang, None, status_code=status_code, message=message)


async def login_required(request: Request, exc: Exception) -> Response:
    """No live session: to the login page (htmx: ``HX-Redirect``), then back here."""
    assert isinstance(exc, LoginRequiredError)
    target = login_url(exc.next_url) + ("&ended=1" if exc.ended else "")
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


async def page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    lang = language(request)
    values = dict(exc.values)
    if exc.key == "error-forbidden":
        values = {k: label("role", str(v), lang) for k, v in values.items()}
    return _error_page(request, exc.status_code, translate(exc.key, lang, **values))


def fleet_error_page(request: Request, error: FleetError, status_code: int) -> Response:
    """A fleet error on a dashboard page (``fleet/api/error_handler.py`` chose the status)."""
    lang = language(request)
    if isinstance(error, NotFoundError):
        message = translate("error-not-found", lang, what=str(error))
    else:
        message = translate("error-refused", lang, reason=str(error))
    return _error_page(request, status_code, message)

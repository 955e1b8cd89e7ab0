"""Who is looking at the dashboard, in which language, and whether a form may change anything.

The dashboard uses the API's web sessions (``fleet/access/sessions.py``): the ``ewp_session``
cookie set by a login (here or ``POST /api/v1/auth/login``). Pages are for browsers, so they
take no bearer tokens. A request without a live session is sent to the login page (htmx
requests get ``HX-Redirect``). Requests that change something must carry the session's CSRF
token, in the ``X-CSRF-Token`` header (htmx adds it to every request from ``hx-headers`` on
the page's body) or in a ``csrf_token`` form field (plain forms); it is checked against the
hash stored with the session, exactly as the API checks it. A role too low for a route is a
403 page: the pages hide what a role cannot use, and the server refuses it all the same.

The login form has no session yet, so it carries a token of its own (login CSRF: a page of
another site must not log a browser into someone else's account). The login page sets it in
the ``ewp_login_csrf`` cookie (HttpOnly, SameSite=Strict, path ``/ui/login``) and in the form;
a login is taken only when both are there and equal, and when an ``Origin`` header, if the
browser sent one, names this site.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Depends, Request, Response

from fleet.access import sessions as web_sessions
from fleet.access.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from fleet.api.deps import SAFE_METHODS, Context
from fleet.roles import Principal, Role
from fleet.web.i18n import Language, parse_language

LANG_COOKIE = "ewp_lang"
POLL_HEADER = "X-Ewp-Poll"  # sent by a page refreshing itself (htmx polling)
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 256 * 1024  # a configuration layer is a few KB
LOGIN_CSRF_COOKIE = "ewp_login_csrf"
LOGIN_CSRF_AGE_S = 3600


class LoginRequiredError(Exception):
    """No live web session: the handler sends the browser to the login page."""

    def __init__(self, next_url: str, *, ended: bool = False) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.ended = ended


class PageError(Exception):
    """Shown as an error page: a message key of ``fleet/web/i18n.py`` and its values."""

    def __init__(self, status_code: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status_code = status_code
        self.key = key
        self.values = values


@dataclass(frozen=True)
class WebCaller:
    principal: Principal
    csrf_token: str  # echoed into forms and hx-headers

    def may(self, role: Role) -> bool:
        return self.principal.may(role)


def language(request: Request) -> Language:
    """The ``ewp_lang`` cookie, else the browser's first preference (Thai or English)."""
    chosen = parse_language(request.cookies.get(LANG_COOKIE))
    if chosen is not None:
        return chosen
    preferred = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "th" if preferred.startswith("th") else "en"


Lang = Annotated[Language, Depends(language)]


async def form_fields(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (no multipart: no uploads here)."""
    if request.method in SAFE_METHODS:
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PageError(413, "error-too-large")
    text = body.decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True, max_num_fields=50).items()}


Form = Annotated[dict[str, str], Depends(form_fields)]


def safe_next(target: str | None) -> str:
    """Only paths of this site (no open redirect to another host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


def login_csrf_token(request: Request) -> str:
    """The login form's token: the browser's current one, or a new one."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return current if 32 <= len(current) <= 64 else secrets.token_urlsafe(32)


def set_login_csrf(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_AGE_S,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/ui/login",
    )


def login_csrf_ok(request: Request, form: dict[str, str], public_url: str) -> bool:
    """The form's token matches the cookie, and the request comes from this site's pages: an
    ``Origin``, when sent, names the host asked for or the service's public URL (a reverse
    proxy may pass another ``Host``)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    field = form.get(CSRF_FIELD, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), field.encode()):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {request.headers.get("host", ""), urlsplit(public_url).netloc}
    return origin != "null" and urlsplit(origin).netloc in ours


def login_url(next_url: str) -> str:
    return f"/ui/login?next={quote(safe_next(next_url), safe='/')}"


def web_caller(request: Request, context: Context, form: Form) -> WebCaller:
    """The logged-in user, or LoginRequiredError; for a change, the CSRF token is checked."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    next_url = here if request.method in SAFE_METHODS else "/ui/"
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise LoginRequiredError(next_url)
    with context.sessions() as session:
        # A page refreshing itself is not someone using the dashboard: an unattended screen
        # still logs out after session_idle_minutes.
        polling = request.headers.get(POLL_HEADER) == "1"
        found = web_sessions.resolve(session, session_id, context.session_policy, touch=not polling)
        if found is None:
            raise LoginRequiredError(next_url, ended=True)
        row, user = found
        if request.method not in SAFE_METHODS:
            presented = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
            if not web_sessions.csrf_matches(row, presented):
                raise PageError(403, "error-csrf")
        principal = Principal(
            user.username,
            Role.parse(user.role),
            via="session",
            user_id=user.id,
            session_hash=row.id_hash,
        )
    return WebCaller(principal, request.cookies.get(CSRF_COOKIE, ""))


def require(needed: Role) -> Callable[[WebCaller], WebCaller]:
    def check(caller: Annotated[WebCaller, Depends(web_caller)]) -> WebCaller:
        if not caller.may(needed):
            raise PageError(
                403, "error-forbidden", role=caller.principal.role.label, needed=needed.label
            )
        return caller

    return check


SignedInPage = Annotated[WebCaller, Depends(web_caller)]  # any role, central included
ViewerPage = Annotated[WebCaller, Depends(require(Role.VIEWER))]
OperatorPage = Annotated[WebCaller, Depends(require(Role.OPERATOR))]
ReleaseManagerPage = Annotated[WebCaller, Depends(require(Role.RELEASE_MANAGER))]

"""Logging in and out of the dashboard, and its language (``fleet/services/access.py``: the
API's login, with the same lock-out, audit and cookies)."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from fleet.api.access_schemas import LoginRequest
from fleet.api.deps import (
    Context,
    DbSession,
    clear_session_cookies,
    client_of,
    set_session_cookies,
)
from fleet.context import FleetContext
from fleet.errors import LockedOutError, LoginRefusedError
from fleet.services import access
from fleet.web.access import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    Form,
    Lang,
    SignedInPage,
    login_csrf_ok,
    login_csrf_token,
    safe_next,
    set_login_csrf,
)
from fleet.web.i18n import Language, translate
from fleet.web.rendering import render

security = logging.getLogger("ewp.security")
router = APIRouter(include_in_schema=False)


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
    try:
        body = LoginRequest(username=username, password=form.get("password", ""))
        new = access.login(session, context, body.username, body.password, client_of(request))
    except (ValidationError, LoginRefusedError, LockedOutError) as exc:
        wait = exc.retry_after if isinstance(exc, LockedOutError) else None
        return _login_form(
            request,
            lang,
            context,
            next_url=next_url,
            problem=translate("login-failed", lang)
            if wait is None
            else translate("login-locked", lang, seconds=wait),
            username=username,
            status_code=401 if wait is None else 429,
        )
    answer = RedirectResponse(next_url, status_code=status.HTTP_303_SEE_OTHER)
    answer.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    set_session_cookies(answer, context, new)
    return answer


@router.post("/ui/logout")
def logout(caller: SignedInPage, session: DbSession) -> Response:
    answer = RedirectResponse("/ui/login?out=1", status_code=status.HTTP_303_SEE_OTHER)
    access.logout(session, caller.principal)
    clear_session_cookies(answer)
    return answer


@router.get("/ui/lang/{choice}")
def switch_language(choice: Literal["th", "en"], next: str = "/ui/") -> RedirectResponse:
    """Remember the language in a cookie (a year) and go back to the page."""
    answer = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    answer.set_cookie(LANG_COOKIE, choice, max_age=365 * 86400, samesite="lax", path="/")
    return answer

"""The kiosk's web app: server-rendered pages (Jinja2 with its i18n extension, htmx vendored),
on 127.0.0.1, for Chromium in kiosk mode (docs/kiosk.md).

One page, ``/``, shows the screen the workflow is on (edge/agent/kiosk/flow.py); forms post and
come back to it (post/redirect/get), so a reload always shows where the operator is. While the
station works (finger on the sensor, capture, saving) the screen part polls ``/screen`` and is
swapped only when something changed; the status bar polls ``/status``. Captured images are
served from memory with ``Cache-Control: no-store``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from edge.agent.application_status import ApplicationStatusStore
from edge.agent.capture_console import Declared, ExceptionReason, KeepBest
from edge.agent.i18n import (
    APPLICANT_LANGUAGES,
    APPLICANT_PROMPTS,
    POSITIONS,
    REASONS,
    ApplicantLanguage,
    Language,
    position_name,
    prompt,
    reason_name,
    render,
    status_name,
)
from edge.agent.kiosk.access import COOKIE, CSRF_FIELD, CSRF_HEADER, KioskAccess
from edge.agent.kiosk.flow import KioskFlow, KioskState
from edge.agent.kiosk.status import StatusReader
from protocol.enrolment import APPLICANT_FIELDS, APPLICATION_KINDS, Application
from protocol.reference_data import job_types, nationalities, provinces

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LANG_COOKIE = "ewp_kiosk_lang"
MAX_FORM_BYTES = 16 * 1024
BANGKOK = ZoneInfo("Asia/Bangkok")
NO_STORE = {"Cache-Control": "no-store"}
LONG_POLL_S = 10.0
LONG_POLL_STEP_S = 0.01
WALK_IN_FIELDS = (
    "application_number",
    "kind",
    *APPLICANT_FIELDS,
    "juristic_id",
    "employer_name",
    "job_type",
    "work_province",
)
# What the applicant is told, from the workflow's guidance (the applicant catalog's keys).
APPLICANT_PROMPT = {
    "place-finger": "place-finger",
    "lift-finger": "lift-finger",
    "finger-good": "good",
    "iris-good": "good",
    "finger-low-quality": "try-again",
    "finger-unreadable": "try-again",
    "iris-low-quality": "try-again",
    "iris-not-found": "try-again",
    "duplicate-finger": "wrong-finger",
    "look-at-camera": "look-at-light",
}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("edge.agent.kiosk", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    # The callables come with each render (the reader's language): see ``Kiosk.page``.
    env.install_null_translations()  # type: ignore[attr-defined]
    return env


class Kiosk:
    def __init__(
        self,
        flow: KioskFlow,
        access: KioskAccess,
        status: StatusReader,
        *,
        language: Language = "th",
    ) -> None:
        self.flow = flow
        self.access = access
        self.status = status
        self.language = language
        self.env = _environment()
        self.statuses: ApplicationStatusStore | None = None

    # -- rendering -------------------------------------------------------------------------

    def staff_language(self, request: Request) -> Language:
        chosen = request.cookies.get(LANG_COOKIE)
        return chosen if chosen in ("th", "en") else self.language  # type: ignore[return-value]

    def context(self, request: Request, state: KioskState) -> dict[str, Any]:
        lang = self.staff_language(request)
        session = request.cookies.get(COOKIE, "")
        applicant: ApplicantLanguage = state.applicant_language
        policy = self.flow.agent.capture_policy
        plan = [*policy.fingers, *(f"{e}-eye" for e in policy.eyes)]

        def gettext(key: str, **params: object) -> str:
            return render(key, lang, **params)

        def applicant_prompt(key: str, **params: object) -> str:
            return prompt(key, applicant, **params)

        guidance = state.guidance
        prompt_key = APPLICANT_PROMPT.get(guidance.key, "wait") if guidance else "wait"
        prompt_params = {}
        if prompt_key in ("place-finger", "wrong-finger") and guidance is not None:
            prompt_params["finger"] = str(guidance.params.get("finger", ""))
        return {
            "lang": lang,
            "other_lang": "en" if lang == "th" else "th",
            "gettext": gettext,
            "ngettext": lambda s, p, n, **kw: gettext(s if n == 1 else p, **kw),
            "p": applicant_prompt,
            "applicant_lang": applicant,
            "applicant_prompt_key": prompt_key,
            "applicant_prompt_params": prompt_params,
            "applicant_languages": APPLICANT_LANGUAGES,
            "language_name": lambda code: prompt("language-name", code),
            "position": lambda code: position_name(code, lang),
            "reason": lambda code: reason_name(code, lang),
            "reasons": REASONS,
            "state": state,
            "plan": plan,
            "positions": POSITIONS,
            "policy": policy,
            "csrf": self.access.csrf(session),
            "csrf_field": CSRF_FIELD,
            "csrf_header": CSRF_HEADER,
            "bar": self.status.read(),
            "age": lambda seconds: _age(seconds, lang),
            "clock": lambda ts: datetime.fromtimestamp(ts, BANGKOK).strftime("%H:%M"),
            "size": _size,
            "nationalities": nationalities(),
            "job_types": job_types(),
            "provinces": provinces(),
            "kinds": APPLICATION_KINDS,
            "asset_version": self.flow.agent.software_version,
            "status_label": lambda status: status_name(status, lang),
            "operators": self.flow.agent.operators.list() if state.screen == "login" else [],
            "searched": None,
            "found": None,
        }

    def page(self, request: Request, template: str, status: int = 200, **extra: Any) -> Response:
        state = self.flow.snapshot()
        context = self.context(request, state)
        context.update(extra)
        html = self.env.get_template(template).render(context, request_path=request.url.path)
        return HTMLResponse(html, status_code=status, headers=NO_STORE)

    # -- the application status store (its own connection, on the web thread) -----------

    def application_status(self, number: str) -> tuple[str, str] | None:
        if self.statuses is None:
            self.statuses = ApplicationStatusStore(self.flow.agent.settings.station.data_dir)
        found = self.statuses.get(number)
        if found is None:
            return None
        at = datetime.fromisoformat(found.at.replace("Z", "+00:00")).astimezone(BANGKOK)
        return found.status, at.strftime("%Y-%m-%d %H:%M")


def _age(seconds: float | None, lang: Language) -> str:
    if seconds is None:
        return "-"
    units = {"en": ("min", "h", "d"), "th": ("นาที", "ชม.", "วัน")}[lang]
    if seconds < 3600:
        return f"{seconds / 60:.0f} {units[0]}"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} {units[1]}"
    return f"{seconds / 86400:.0f} {units[2]}"


def _size(count: int) -> str:
    gb = count / 1024**3
    return f"{gb:.1f} GB" if gb >= 1 else f"{count / 1024**2:.0f} MB"


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    text = body.decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True, max_num_fields=40).items()}


def _back() -> RedirectResponse:
    return RedirectResponse("/", status_code=303)


def _acting(act: Callable[[], object]) -> Callable[[], Awaitable[Response]]:
    """An endpoint that calls ``act`` and goes back to the kiosk's page."""

    async def endpoint() -> Response:
        act()
        return _back()

    return endpoint


def build_app(kiosk: Kiosk) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # The web thread's own connections, closed on the thread that opened them.
        kiosk.status.close()
        if kiosk.statuses is not None:
            kiosk.statuses.close()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    flow, access = kiosk.flow, kiosk.access

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if not access.host_ok(request.headers.get("host")):
            return Response("wrong host", status_code=421)
        path = request.url.path
        if path.startswith("/static/") or path in ("/unlock", "/ping"):
            response = cast(Response, await call_next(request))
        else:
            session = request.cookies.get(COOKIE)
            if not access.valid(session):
                lang = kiosk.staff_language(request)
                body = kiosk.env.get_template("locked.html").render(
                    gettext=lambda key, **kw: render(key, lang, **kw), lang=lang
                )
                return HTMLResponse(body, status_code=401, headers=NO_STORE)
            if request.method == "POST":
                token = request.headers.get(CSRF_HEADER)
                if token is None:
                    token = (await _form(request)).get(CSRF_FIELD)
                if not access.csrf_ok(cast(str, session), token):
                    return kiosk.page(request, "expired.html", status=403)
            if path not in ("/status", "/screen"):
                flow.check_idle()
                if request.method == "POST":
                    flow.touch()
            response = cast(Response, await call_next(request))
        # Pages and images are never stored. The app's CSS and scripts are named with the
        # software version (``?v=``), so an update brings new ones; until then they are kept.
        static = path.startswith("/static/")
        response.headers.setdefault(
            "Cache-Control", "max-age=31536000, immutable" if static else "no-store"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'"
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/ping")
    async def ping() -> Response:
        return Response("ok", media_type="text/plain")

    @app.get("/unlock")
    async def unlock(key: str = "") -> Response:
        session = access.unlock(key)
        if session is None:
            return HTMLResponse(
                kiosk.env.get_template("locked.html").render(
                    gettext=lambda k, **kw: render(k, kiosk.language, **kw), lang=kiosk.language
                ),
                status_code=401,
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, session, httponly=True, samesite="strict", path="/")
        return response

    @app.get("/")
    async def index(request: Request) -> Response:
        return kiosk.page(request, "index.html")

    @app.get("/static-page")
    async def static_page(request: Request) -> Response:
        """A page with no state behind it: the baseline of the render benchmark."""
        return HTMLResponse("<!doctype html><title>ewp</title><p>ok</p>", headers=NO_STORE)

    @app.get("/prompts")
    async def prompts(request: Request, lang: str = "en") -> Response:
        """Every applicant prompt in one language, as the capture screen shows them (for a
        translator's review on the real screen, and the glyph-coverage test)."""
        chosen = lang if lang in APPLICANT_LANGUAGES else "en"
        texts = [prompt(key, chosen, finger="right-index") for key in APPLICANT_PROMPTS] + [
            position_name(code, chosen, "applicant") for code in POSITIONS
        ]
        return kiosk.page(request, "prompts.html", prompt_lang=chosen, texts=texts)

    @app.get("/screen")
    async def screen(request: Request, v: int = -1) -> Response:
        """The screen part once it differs from version ``v``: held open up to LONG_POLL_S so
        a change (a quality, the next finger) is on screen as soon as it happens."""
        deadline = time.monotonic() + LONG_POLL_S
        while flow.version == v:
            if time.monotonic() > deadline or await request.is_disconnected():
                return Response(status_code=204)
            await asyncio.sleep(LONG_POLL_STEP_S)
        return kiosk.page(request, "screen_update.html")

    @app.get("/status")
    async def status(request: Request) -> Response:
        if flow.check_idle():
            return Response(status_code=204, headers={"HX-Refresh": "true"})
        return kiosk.page(request, "status_bar.html")

    @app.post("/lang")
    async def staff_language(request: Request) -> Response:
        chosen = (await _form(request)).get("lang")
        response = _back()
        if chosen in ("th", "en"):
            response.set_cookie(LANG_COOKIE, chosen, samesite="strict", max_age=365 * 86400)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        flow.login(form.get("operator_id", "").strip()[:32], form.get("pin", "").strip()[:12])
        return _back()

    @app.post("/find")
    async def find(request: Request) -> Response:
        if flow.logged_in:
            flow.find((await _form(request)).get("number", "")[:40])
        return _back()

    @app.get("/walk-in")
    async def walk_in_form(request: Request) -> Response:
        if not flow.logged_in:
            return _back()
        return kiosk.page(request, "walk_in.html", values={}, errors={})

    @app.post("/walk-in")
    async def walk_in(request: Request) -> Response:
        if not flow.logged_in:
            return _back()
        form = await _form(request)
        values = {name: form.get(name, "").strip()[:100] for name in WALK_IN_FIELDS}
        application, errors = _application(values)
        if application is None:
            return kiosk.page(request, "walk_in.html", status=422, values=values, errors=errors)
        flow.choose(application)
        return _back()

    @app.post("/status-search")
    async def status_search(request: Request) -> Response:
        number = (await _form(request)).get("number", "").strip().upper()[:40]
        found = kiosk.application_status(number) if number else None
        return kiosk.page(request, "index.html", searched=number, found=found)

    @app.post("/declare")
    async def declare(request: Request) -> Response:
        form = await _form(request)
        position, reason = form.get("position", ""), form.get("reason", "")
        if position in POSITIONS and reason in REASONS:
            flow.declare(position, cast(ExceptionReason, reason), form.get("note", "")[:200])
        return _back()

    @app.post("/undeclare")
    async def undeclare(request: Request) -> Response:
        flow.undeclare((await _form(request)).get("position", ""))
        return _back()

    @app.post("/applicant-language")
    async def applicant_language(request: Request) -> Response:
        chosen = (await _form(request)).get("lang", "")
        if chosen in APPLICANT_LANGUAGES:
            flow.set_applicant_language(chosen)
        return _back()

    @app.post("/resolve")
    async def resolve(request: Request) -> Response:
        choice = (await _form(request)).get("choice", "")
        if choice == "keep":
            flow.answer(KeepBest())
        elif choice in REASONS:
            flow.answer(Declared(cast(ExceptionReason, choice), "operator's choice at the kiosk"))
        return _back()

    @app.get("/image/{position}.png")
    async def image(position: str) -> Response:
        shown = flow.snapshot().shown.get(position)
        if shown is None:
            return Response(status_code=404, headers=NO_STORE)
        return Response(shown.png, media_type="image/png", headers=NO_STORE)

    # Buttons that only tell the flow to act, then show the kiosk again.
    for path, act in {
        "/logout": flow.logout,
        "/capture": flow.start_capture,
        "/submit": flow.submit,
        "/next": flow.next_applicant,
        "/cancel": flow.cancel,
    }.items():
        app.add_api_route(path, _acting(act), methods=["POST"])
    return app


def _application(values: dict[str, str]) -> tuple[Application | None, dict[str, str]]:
    """The walk-in form as an Application (the packet's own rules), or a message per field."""
    data = {
        "application_number": values["application_number"].upper(),
        "kind": values["kind"],
        "applicant": {name: values[name] for name in APPLICANT_FIELDS}
        | {"nationality": values["nationality"].upper(), "sex": values["sex"] or "X"},
        "employer": {"juristic_id": values["juristic_id"], "name": values["employer_name"]},
        "job_type": values["job_type"],
        "work_province": values["work_province"],
    }
    try:
        return Application.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            name = loc[-1] if loc else "application_number"
            if loc[:1] == ["employer"]:
                name = "juristic_id" if name == "juristic_id" else "employer_name"
            if name not in WALK_IN_FIELDS:
                name = loc[1] if len(loc) > 1 and loc[1] in WALK_IN_FIELDS else "application_number"
            errors.setdefault(name, str(error["msg"]).removeprefix("Value error, "))
        return None, errors

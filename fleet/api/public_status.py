"""The public application-status page: an applicant enters application number and passport
number and sees the status, in Thai or English. ``GET /status`` (the form), ``POST /status``
(the answer, server-rendered with Jinja2) and ``POST /api/v1/public/application-status`` (JSON).

No login. Lookups are rate-limited per client address (``[status_page]``), and an unknown
application and a wrong passport number get the very same answer. The passport number is sent
in the body, never in a URL (URLs end up in logs), and is never stored.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from fleet import application_status
from fleet.api.deps import Context, DbSession
from fleet.api.ops_schemas import PublicStatus, PublicStatusQuery
from fleet.application_status import LABELS
from fleet.context import FleetContext
from fleet.store.ops_models import ApplicationRecord

router = APIRouter(prefix="/public", tags=["public"])
page_router = APIRouter(include_in_schema=False)

Lang = Literal["th", "en"]
BANGKOK = ZoneInfo("Asia/Bangkok")
NOT_FOUND = {
    "en": "No application matches this application number and passport number. Please check "
    "both and try again.",
    "th": "ไม่พบคำขอที่ตรงกับเลขที่คำขอและเลขที่หนังสือเดินทางนี้ กรุณาตรวจสอบแล้วลองอีกครั้ง",
}
TOO_MANY = {
    "en": "Too many attempts from your connection. Please wait a minute and try again.",
    "th": "มีการตรวจสอบจากการเชื่อมต่อของท่านมากเกินไป กรุณารอสักครู่แล้วลองใหม่",
}
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Check your work permit application",
        "application_number": "Application number",
        "passport_number": "Passport number",
        "check": "Check",
        "status": "Status",
        "reason": "Reason",
        "updated": "Last updated",
        "switch": "ภาษาไทย",
        "privacy": "Your passport number is used only to check this request; it is not kept.",
    },
    "th": {
        "title": "ตรวจสอบสถานะคำขอใบอนุญาตทำงาน",
        "application_number": "เลขที่คำขอ",
        "passport_number": "เลขที่หนังสือเดินทาง",
        "check": "ตรวจสอบ",
        "status": "สถานะ",
        "reason": "เหตุผล",
        "updated": "ปรับปรุงล่าสุด",
        "switch": "English",
        "privacy": "เลขที่หนังสือเดินทางใช้เพื่อตรวจสอบคำขอนี้เท่านั้น และไม่มีการจัดเก็บ",
    },
}
HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def _enabled(context: FleetContext) -> None:
    if not context.settings.status_page.enabled:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _updated(moment: datetime) -> str:
    return moment.astimezone(BANGKOK).strftime("%Y-%m-%d %H:%M")


def _public(record: ApplicationRecord) -> PublicStatus:
    labels = LABELS[record.status]
    return PublicStatus(
        application_number=record.application_number,
        status=record.status,
        status_en=labels["en"],
        status_th=labels["th"],
        reason=record.reason,
        updated_at=record.status_at,
    )


def _page(
    lang: Lang,
    *,
    code: int = 200,
    application_number: str = "",
    record: ApplicationRecord | None = None,
    problem: str | None = None,
    retry_after: float | None = None,
) -> HTMLResponse:
    result = None
    if record is not None:
        labels = LABELS[record.status]
        result = {
            "status": record.status,
            "label": labels[lang],
            "other_label": labels["en" if lang == "th" else "th"],
            "reason": record.reason,
            "updated": _updated(record.status_at),
        }
    html = _templates.get_template("public_status.html").render(
        lang=lang,
        other_lang="en" if lang == "th" else "th",
        t=TEXT[lang],
        application_number=application_number,
        result=result,
        problem=problem,
    )
    headers = dict(HEADERS)
    if retry_after is not None:
        headers["retry-after"] = str(max(1, round(retry_after)))
    return HTMLResponse(html, status_code=code, headers=headers)


@page_router.get("/status", response_class=HTMLResponse)
def status_form(context: Context, lang: Lang = "th") -> HTMLResponse:
    _enabled(context)
    return _page(lang)


@page_router.post("/status", response_class=HTMLResponse)
async def status_answer(request: Request, context: Context, session: DbSession) -> HTMLResponse:
    _enabled(context)
    body = (await request.body())[:4096].decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body, max_num_fields=10).items()}
    lang: Lang = "en" if form.get("lang") == "en" else "th"
    number = form.get("application_number", "").strip()[:40]
    passport = form.get("passport_number", "").strip()[:40]
    wait = context.ops.status_limiter.allow(_client(request))
    if wait:
        return _page(lang, code=429, application_number=number, problem=TOO_MANY[lang],
                     retry_after=wait)  # fmt: skip
    record = None
    if number and passport:  # scrypt: off the event loop
        record = await run_in_threadpool(application_status.lookup, session, number, passport)
    if record is None:
        return _page(lang, application_number=number, problem=NOT_FOUND[lang])
    return _page(lang, application_number=number, record=record)


@router.post(
    "/application-status",
    response_model=PublicStatus,
    responses={404: {"description": "no application matches"}, 429: {"description": "slow down"}},
)
def public_status(
    body: PublicStatusQuery, request: Request, context: Context, session: DbSession
) -> PublicStatus | JSONResponse:
    """An applicant's lookup (no login; rate-limited per client address)."""
    _enabled(context)
    wait = context.ops.status_limiter.allow(_client(request))
    if wait:
        return JSONResponse(
            {"detail": TOO_MANY["en"], "detail_th": TOO_MANY["th"]},
            status_code=429,
            headers={**HEADERS, "retry-after": str(max(1, round(wait)))},
        )
    record = application_status.lookup(session, body.application_number, body.passport_number)
    if record is None:
        return JSONResponse(
            {"detail": NOT_FOUND["en"], "detail_th": NOT_FOUND["th"]},
            status_code=404,
            headers=HEADERS,
        )
    return _public(record)

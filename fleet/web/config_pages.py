"""The dashboard's configuration pages (``/ui/config...``): the layers, the tags, the drift of
each station, and editing a layer or a tag's members (release managers; audited). A refused
change shows the form again with what was typed and why, one sentence per key."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from fleet.api.deps import Context, DbSession
from fleet.api.ops_schemas import TagMembers
from fleet.configuration.layers import FLEET, ConfigRefusedError, Problem
from fleet.context import FleetContext
from fleet.errors import UnknownStationError
from fleet.services import configuration, stations
from fleet.web.access import Form, Lang, PageError, ReleaseManagerPage, ViewerPage, WebCaller
from fleet.web.i18n import Language, translate
from fleet.web.rendering import render

router = APIRouter(include_in_schema=False)
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,39}$")  # as the registry's tags
TARGET_RE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,62}$")  # a tag or a station id
Scope = Literal["fleet", "tag", "station"]


@dataclass(frozen=True)
class LayerPage:
    """What a layer's page is drawn with: the request, who asks, in which language, the
    session, the form sent (empty to look) and the fleet."""

    request: Request
    lang: Language
    caller: WebCaller
    session: Session
    form: dict[str, str]
    context: FleetContext


def _looking(
    request: Request, lang: Lang, caller: ViewerPage, session: DbSession, context: Context
) -> LayerPage:
    return LayerPage(request, lang, caller, session, {}, context)


def _editing(
    request: Request,
    lang: Lang,
    form: Form,
    caller: ReleaseManagerPage,
    session: DbSession,
    context: Context,
) -> LayerPage:
    return LayerPage(request, lang, caller, session, form, context)


Looking = Annotated[LayerPage, Depends(_looking)]
Editing = Annotated[LayerPage, Depends(_editing)]


@router.get("/ui/config")
def config_page(
    request: Request, lang: Lang, caller: ViewerPage, session: DbSession
) -> HTMLResponse:
    return render(
        request,
        "config.html",
        lang,
        caller,
        layers=configuration.list_layers(session),
        tags=configuration.list_tags(session),
        stations=configuration.station_configs(session),
        history=configuration.history(session, limit=50),
    )


def _layer_url(scope: Scope, target: str) -> str:
    return "/ui/config/fleet" if scope == "fleet" else f"/ui/config/{scope}/{target}"


def _layer_page(
    page: LayerPage,
    scope: Scope,
    target: str,
    *,
    status_code: int = 200,
    document: str | None = None,
    problems: list[str] | None = None,
    message: str | None = None,
    members_text: str | None = None,
) -> HTMLResponse:
    session = page.session
    if scope == "tag" and not TAG_RE.match(target):
        raise PageError(404, "error-not-found", what=f"tag {target}")
    if scope == "station":
        stations.station_row(session, target)
    layer = configuration.find_layer(session, scope, target)
    if document is None:
        document = json.dumps(layer.document if layer else {}, indent=2, ensure_ascii=False)
    members = configuration.tag_members(session, target) if scope == "tag" else None
    return render(
        page.request,
        "config_layer.html",
        page.lang,
        page.caller,
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
        history=configuration.history(session, scope=scope, target=target, limit=20),
    )


def _sentences(problems: list[Problem], lang: Language) -> list[str]:
    """A refusal's problems (one per key) as sentences."""
    lines = []
    for p in problems:
        values = {"key": p.key or "(layer)", "problem": p.problem}
        if p.station_id:
            lines.append(translate("layer-problem-station", lang, station=p.station_id, **values))
        else:
            lines.append(translate("layer-problem", lang, **values))
    return lines


@router.get("/ui/config/fleet")
def fleet_layer_page(page: Looking) -> HTMLResponse:
    return _layer_page(page, "fleet", FLEET)


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
def layer_page(scope: Literal["tag", "station"], target: str, page: Looking) -> HTMLResponse:
    return _layer_page(page, scope, target)


def _parsed(text: str, lang: Language) -> dict[str, Any] | str:
    """The layer typed in the form, or why it is no layer."""
    try:
        parsed = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        return translate("layer-not-json", lang, error=str(exc))
    return parsed if isinstance(parsed, dict) else translate("layer-not-object", lang)


def _save_layer(page: LayerPage, scope: Scope, target: str) -> HTMLResponse:
    """Save or remove a layer; a refusal names the keys."""
    lang, form = page.lang, page.form
    text = form.get("document", "")

    def refused(problems: list[str]) -> HTMLResponse:
        """The form again, with what was typed and why it was refused (422)."""
        return _layer_page(
            page,
            scope,
            target,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            document=text,
            problems=problems,
        )

    document = None if form.get("action") == "delete" else _parsed(text, lang)
    if isinstance(document, str):
        return refused([document])
    try:
        change = configuration.change_layer(
            page.session, page.context, scope, target, document, actor=page.caller.principal.name
        )
    except ConfigRefusedError as exc:
        return refused(_sentences(exc.problems, lang))
    changed = ", ".join(s.station_id for s in change.stations) or translate("none", lang)
    if change.layer is None:
        message = translate("layer-deleted", lang, stations=changed)
    else:
        message = translate("layer-saved", lang, version=change.layer.version, stations=changed)
    return _layer_page(page, scope, target, message=message)


@router.post("/ui/config/fleet")
def save_fleet_layer(page: Editing) -> HTMLResponse:
    return _save_layer(page, "fleet", FLEET)


@router.post("/ui/config/{scope}/{target}")
def save_layer(scope: Literal["tag", "station"], target: str, page: Editing) -> HTMLResponse:
    return _save_layer(page, scope, target)


@router.post("/ui/config/tag/{tag}/members")
def save_members(tag: str, page: Editing) -> HTMLResponse:
    """Exactly these stations carry the tag."""
    lang = page.lang
    text = page.form.get("stations", "")
    try:
        members = TagMembers(stations=[s for s in re.split(r"[\s,]+", text) if s])
        configuration.set_tag_members(
            page.session, page.context, tag, members.stations, actor=page.caller.principal.name
        )
    except (ValidationError, ConfigRefusedError, UnknownStationError) as exc:
        if isinstance(exc, ValidationError):
            problems = [str(exc.errors()[0])]
        elif isinstance(exc, ConfigRefusedError):
            problems = _sentences(exc.problems, lang)
        else:
            problems = [str(exc)]
        return _layer_page(
            page,
            "tag",
            tag,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            problems=problems,
            members_text=text,
        )
    return _layer_page(page, "tag", tag, message=translate("members-saved", lang))

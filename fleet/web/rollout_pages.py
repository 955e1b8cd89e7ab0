"""The dashboard's rollout pages: the list, and one rollout (phases, per-station state, why it
halted, the soak comparison), with pause, resume, cancel, approve and roll back for release
managers. They call the rollout service (``fleet/services/rollouts.py``) as the API does; a
refusal shows the rollout again with why, at the status the API would answer."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from fleet.api.deps import Context, DbSession, ReadSession
from fleet.api.error_handler import status_of
from fleet.errors import NotFoundError
from fleet.services import rollouts
from fleet.updates import rollout_views
from fleet.updates.rollouts import RolloutError
from fleet.web.access import Lang, ReleaseManagerPage, ViewerPage
from fleet.web.i18n import translate
from fleet.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/ui/rollouts")
def rollouts_page(
    request: Request, lang: Lang, caller: ViewerPage, session: ReadSession
) -> HTMLResponse:
    return render(
        request,
        "rollouts.html",
        lang,
        caller,
        rollouts=rollout_views.list_rollouts(session, limit=200),
    )


def _rollout_page(
    request: Request,
    lang: Lang,
    caller: ViewerPage,
    session: ReadSession | DbSession,
    rollout_id: str,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = rollout_views.view(session, rollout_id)
    return render(
        request,
        "rollout.html",
        lang,
        caller,
        status_code=status_code,
        view=view,
        r=view.rollout,
        problem=problem,
        actions=_actions(view.rollout.state, view.rollout.rollback_of is not None),
    )


def _actions(state: str, is_rollback: bool) -> list[str]:
    actions = {
        "running": ["pause", "cancel"],
        "paused": ["resume", "cancel"],
        "waiting-approval": ["approve", "pause", "cancel"],
    }.get(state, [])
    return actions if is_rollback else [*actions, "rollback"]


@router.get("/ui/rollouts/{rollout_id}")
def rollout_page(
    rollout_id: str, request: Request, lang: Lang, caller: ViewerPage, session: ReadSession
) -> HTMLResponse:
    return _rollout_page(request, lang, caller, session, rollout_id)


@router.post("/ui/rollouts/{rollout_id}/{action}", response_model=None)
def rollout_action(
    rollout_id: str,
    action: str,
    request: Request,
    lang: Lang,
    caller: ReleaseManagerPage,
    session: DbSession,
    context: Context,
) -> HTMLResponse | RedirectResponse:
    """Pause, resume, cancel, approve or roll back, then back to the rollout (the rollback's
    page for a rollback)."""
    who = caller.principal.name
    target = rollout_id
    try:
        if action == "rollback":
            target = rollouts.roll_back(session, context, rollout_id, actor=who)
        else:
            rollouts.act(session, context, rollout_id, action, actor=who)
    except RolloutError as exc:
        if isinstance(exc, NotFoundError):
            raise
        reason = translate("rollout-refused", lang, reason=str(exc))
        return _rollout_page(
            request,
            lang,
            caller,
            session,
            rollout_id,
            problem=reason,
            status_code=status_of(exc) or status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return RedirectResponse(f"/ui/rollouts/{target}", status_code=status.HTTP_303_SEE_OTHER)

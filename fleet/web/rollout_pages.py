"""The dashboard's rollout pages: the list, and one rollout (phases, per-station state, why it
halted, the soak comparison), with pause, resume, cancel, approve and roll back for release
managers. They call the rollout service (fleet/updates/rollouts.py) as the API does, and use
the API's one error mapping (``fleet.api.rollouts.http_error``)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from fleet.api import rollouts as rollouts_api
from fleet.api.deps import Context, DbSession, ReadSession
from fleet.updates import rollout_views, rollouts
from fleet.updates.rollouts import RolloutError, UnknownRolloutError
from fleet.web.access import Lang, PageError, ReleaseManagerPage, ViewerPage
from fleet.web.i18n import translate
from fleet.web.pages import render

router = APIRouter(include_in_schema=False)
ACTIONS = {
    "pause": rollouts.pause,
    "resume": rollouts.resume,
    "cancel": rollouts.cancel,
    "approve": rollouts.approve,
}


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
    try:
        view = rollout_views.view(session, rollout_id)
    except UnknownRolloutError as exc:
        raise PageError(404, "error-not-found", what=str(exc)) from None
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
    who, now = caller.principal.name, context.ops.clock()
    target = rollout_id
    try:
        if action == "rollback":
            target = rollouts.roll_back(
                session, rollout_id, catalog=context.release_catalog, actor=who, now=now
            ).rollout_id
        elif action in ACTIONS:
            ACTIONS[action](session, rollout_id, actor=who, now=now)
        else:
            raise PageError(404, "error-not-found", what=action)
        session.commit()
    except RolloutError as exc:
        session.rollback()
        error: HTTPException = rollouts_api.http_error(exc)
        if error.status_code == status.HTTP_404_NOT_FOUND:
            raise PageError(404, "error-not-found", what=str(exc)) from None
        reason = translate("rollout-refused", lang, reason=str(exc))
        return _rollout_page(
            request,
            lang,
            caller,
            session,
            rollout_id,
            problem=reason,
            status_code=error.status_code,
        )
    context.rollouts.wake()
    return RedirectResponse(f"/ui/rollouts/{target}", status_code=status.HTTP_303_SEE_OTHER)

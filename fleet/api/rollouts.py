"""/api/v1/rollouts: software rollouts — create, follow, pause, resume, cancel, approve, roll
back. Changes need the release-manager role and are audited (fleet/updates/rollouts.py); the
rollout engine acts on them at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.orm import Session

from fleet.api.deps import Context, DbSession, ReadSession, ReleaseManager, Viewer
from fleet.api.rollout_schemas import (
    RollbackCreate,
    RolloutCreate,
    RolloutPublic,
    RolloutSummary,
    summary_of,
)
from fleet.api.schemas import errors
from fleet.context import FleetContext
from fleet.roles import Principal
from fleet.store.rollout_models import Rollout
from fleet.updates import rollout_views, rollouts
from fleet.updates.rollouts import RolloutConflictError, RolloutError, UnknownRolloutError

router = APIRouter(prefix="/rollouts", tags=["rollouts"], responses=errors(401, 403))


def http_error(exc: RolloutError) -> HTTPException:
    """One mapping for the API and the dashboard."""
    if isinstance(exc, UnknownRolloutError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, RolloutConflictError):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


def _public(session: Session, rollout_id: str) -> RolloutPublic:
    try:
        return RolloutPublic.of(rollout_views.view(session, rollout_id))
    except RolloutError as exc:
        raise http_error(exc) from None


@router.get("")
def list_rollouts(
    session: ReadSession,
    caller: Viewer,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RolloutSummary]:
    """Newest first."""
    found = rollout_views.list_rollouts(session, limit=limit, offset=offset)
    return [summary_of(r) for r in found]


@router.get("/{rollout_id}", responses=errors(404))
def get_rollout(rollout_id: str, session: ReadSession, caller: Viewer) -> RolloutPublic:
    """The rollout, its phases (with the soak comparison) and every targeted station's state;
    ``halt_reason`` says why a halted rollout stopped."""
    return _public(session, rollout_id)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409, 422))
def create_rollout(
    body: RolloutCreate, session: DbSession, context: Context, caller: ReleaseManager
) -> RolloutPublic:
    try:
        release = rollouts.resolve_release(
            context.release_catalog, body.component, body.version, body.target
        )
        rollout = rollouts.create(
            session,
            release=release,
            selector=body.selector,
            plan=body.plan,
            actor=caller.name,
            now=context.ops.clock(),
        )
        session.commit()
    except RolloutError as exc:
        raise http_error(exc) from None
    context.rollouts.wake()
    return _public(session, rollout.rollout_id)


def _change(
    session: Session,
    context: FleetContext,
    caller: Principal,
    rollout_id: str,
    change: Callable[..., Rollout],
) -> RolloutPublic:
    try:
        change(session, rollout_id, actor=caller.name, now=context.ops.clock())
        session.commit()
    except RolloutError as exc:
        raise http_error(exc) from None
    context.rollouts.wake()
    return _public(session, rollout_id)


@router.post("/{rollout_id}/pause", responses=errors(404, 409))
def pause_rollout(
    rollout_id: str, session: DbSession, context: Context, caller: ReleaseManager
) -> RolloutPublic:
    """No new offers, no phase changes, no timeouts until resumed."""
    return _change(session, context, caller, rollout_id, rollouts.pause)


@router.post("/{rollout_id}/resume", responses=errors(404, 409))
def resume_rollout(
    rollout_id: str, session: DbSession, context: Context, caller: ReleaseManager
) -> RolloutPublic:
    return _change(session, context, caller, rollout_id, rollouts.resume)


@router.post("/{rollout_id}/cancel", responses=errors(404, 409))
def cancel_rollout(
    rollout_id: str, session: DbSession, context: Context, caller: ReleaseManager
) -> RolloutPublic:
    """Offers not yet installed are cancelled; stations not yet offered never are."""
    return _change(session, context, caller, rollout_id, rollouts.cancel)


@router.post("/{rollout_id}/approve", responses=errors(404, 409))
def approve_rollout(
    rollout_id: str, session: DbSession, context: Context, caller: ReleaseManager
) -> RolloutPublic:
    """Start the next phase of a rollout waiting for approval."""
    return _change(session, context, caller, rollout_id, rollouts.approve)


@router.post(
    "/{rollout_id}/rollback", status_code=status.HTTP_201_CREATED, responses=errors(404, 409, 422)
)
def rollback_rollout(
    rollout_id: str,
    body: RollbackCreate,
    session: DbSession,
    context: Context,
    caller: ReleaseManager,
) -> RolloutPublic:
    """A new rollout of the previous version to every station this one offered its release
    to (downgrade allowed); this one is cancelled first if it is still going."""
    try:
        back = rollouts.roll_back(
            session,
            rollout_id,
            catalog=context.release_catalog,
            actor=caller.name,
            now=context.ops.clock(),
            version=body.version,
            target=body.target,
            timeout_s=body.timeout_s,
        )
        session.commit()
    except RolloutError as exc:
        raise http_error(exc) from None
    context.rollouts.wake()
    return _public(session, back.rollout_id)

"""Software rollouts as the API and the dashboard change them: each change is committed and
wakes the rollout engine (``fleet/updates/engine.py``) at once. The rollouts themselves are
``fleet/updates/rollouts.py``; their views ``fleet/updates/rollout_views.py``."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from fleet.api.rollout_schemas import RolloutCreate, RolloutPublic
from fleet.context import FleetContext
from fleet.errors import NotFoundError
from fleet.store.rollout_models import Rollout
from fleet.updates import rollout_views, rollouts

ACTIONS: dict[str, Callable[..., Rollout]] = {
    "pause": rollouts.pause,
    "resume": rollouts.resume,
    "cancel": rollouts.cancel,
    "approve": rollouts.approve,
}


def get_rollout(session: Session, rollout_id: str) -> RolloutPublic:
    return RolloutPublic.of(rollout_views.view(session, rollout_id))


def _done(session: Session, context: FleetContext) -> None:
    session.commit()
    context.rollouts.wake()


def create(session: Session, context: FleetContext, body: RolloutCreate, *, actor: str) -> str:
    """A new rollout of a catalogued (or named) release; returns its id."""
    release = rollouts.resolve_release(
        context.release_catalog, body.component, body.version, body.target
    )
    rollout = rollouts.create(
        session,
        release=release,
        selector=body.selector,
        plan=body.plan,
        actor=actor,
        now=context.ops.clock(),
    )
    _done(session, context)
    return rollout.rollout_id


def act(
    session: Session, context: FleetContext, rollout_id: str, action: str, *, actor: str
) -> None:
    """Pause, resume, cancel or approve (the next phase)."""
    change = ACTIONS.get(action)
    if change is None:
        raise NotFoundError(f"no rollout action {action}")
    try:
        change(session, rollout_id, actor=actor, now=context.ops.clock())
    except Exception:
        session.rollback()
        raise
    _done(session, context)


def roll_back(
    session: Session,
    context: FleetContext,
    rollout_id: str,
    *,
    actor: str,
    version: str | None = None,
    target: str | None = None,
    timeout_s: float | None = None,
) -> str:
    """A new rollout of the previous version to every station this one offered its release
    to; returns its id."""
    try:
        back = rollouts.roll_back(
            session,
            rollout_id,
            catalog=context.release_catalog,
            actor=actor,
            now=context.ops.clock(),
            version=version,
            target=target,
            timeout_s=timeout_s,
        )
    except Exception:
        session.rollback()
        raise
    _done(session, context)
    return back.rollout_id

"""/api/v1/rollouts: software rollouts — create, follow, pause, resume, cancel, approve, roll
back. Changes need the release-manager role and are audited (fleet/updates/rollouts.py); the
rollout engine acts on them at once (``fleet/services/rollouts.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from fleet.api.deps import Context, DbSession, ReadSession, ReleaseManager, Viewer
from fleet.api.rollout_schemas import (
    RollbackCreate,
    RolloutCreate,
    RolloutPublic,
    RolloutSummary,
    summary_of,
)
from fleet.api.schemas import errors
from fleet.services import rollouts
from fleet.updates import rollout_views

router = APIRouter(prefix="/rollouts", tags=["rollouts"], responses=errors(401, 403))


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
    return rollouts.get_rollout(session, rollout_id)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409, 422))
def create_rollout(
    body: RolloutCreate, session: DbSession, context: Context, caller: ReleaseManager
) -> RolloutPublic:
    rollout_id = rollouts.create(session, context, body, actor=caller.name)
    return rollouts.get_rollout(session, rollout_id)


# Pause, resume, cancel and approve: one route each, alike but for the action.
ACTIONS: dict[str, str | None] = {
    "pause": "No new offers, no phase changes, no timeouts until resumed.",
    "resume": None,
    "cancel": "Offers not yet installed are cancelled; stations not yet offered never are.",
    "approve": "Start the next phase of a rollout waiting for approval.",
}


def _action_route(action: str, doc: str | None) -> None:
    def route(
        rollout_id: str, session: DbSession, context: Context, caller: ReleaseManager
    ) -> RolloutPublic:
        rollouts.act(session, context, rollout_id, action, actor=caller.name)
        return rollouts.get_rollout(session, rollout_id)

    route.__name__ = route.__qualname__ = f"{action}_rollout"
    route.__doc__ = doc
    router.post(f"/{{rollout_id}}/{action}", responses=errors(404, 409))(route)


for _action, _doc in ACTIONS.items():
    _action_route(_action, _doc)


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
    back = rollouts.roll_back(
        session,
        context,
        rollout_id,
        actor=caller.name,
        version=body.version,
        target=body.target,
        timeout_s=body.timeout_s,
    )
    return rollouts.get_rollout(session, back)

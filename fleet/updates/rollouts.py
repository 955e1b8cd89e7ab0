"""Rollouts as the admin sees them: create, pause, resume, cancel, approve, roll back, view.

These change the rollout's rows and append to the audit log in the caller's transaction (the
caller commits); the rollout engine (fleet/updates/engine.py) does the rest at its next tick:
offers, timeouts, soak checks, phase changes. The API, the CLI and the dashboard all call
these functions, so each says and refuses the same things.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet import audit
from fleet.errors import ConflictError, InvalidError, NotFoundError
from fleet.store.models import Station
from fleet.store.ops_models import StationTag
from fleet.store.rollout_models import Rollout, RolloutPhase, RolloutStation
from fleet.updates.plan import PhasePlan, RolloutPlan, Selector, assign_phases
from fleet.updates.release import Release, ReleaseCatalog, ReleaseRef
from protocol.updates import FINAL_STATES, ROLLOUT_ID_RE, VERSION_RE, version_key

log = logging.getLogger(__name__)

ACTIVE_STATES = ("running", "paused", "waiting-approval")
# A station's rollout state that counts against the error threshold.
FAILED_STATES = frozenset({"failed", "rolled-back", "refused", "timed-out"})
# Reached by the station (or decided by the fleet): nothing more will happen to it.
DONE_STATES = FINAL_STATES | {"timed-out", "skipped"}


class RolloutError(InvalidError):
    """A rollout request that cannot be honoured (its message says why)."""


class UnknownRolloutError(NotFoundError, RolloutError):
    pass


class RolloutConflictError(ConflictError, RolloutError):
    """The rollout is not in a state that allows this (e.g. resuming a completed rollout)."""


def resolve_release(
    catalog: ReleaseCatalog | None, component: str, version: str, target: str | None
) -> Release:
    """The release to roll out: the catalogue's when it lists it (a ``target`` given too must
    match), else the target named by hand."""
    found = catalog.find(component, version) if catalog is not None else None
    if found is not None:
        if target is not None and target != found.target:
            raise RolloutError(
                f"{component} {version} is published as {found.target}, not {target}"
            )
        return found
    if target is None:
        raise RolloutError(
            f"{component} {version} is not a published release: publish it first "
            "(`ewp release publish`), or name its TUF target (--target)"
        )
    return ReleaseRef(component, version, target)


def station_tags(session: Session, station_ids: list[str]) -> dict[str, set[str]]:
    """A station's tags for rollouts: its registry tags, its configuration tags and its kind
    (``mobile`` or ``center``), so a window for ``mobile`` needs no tagging."""
    tags: dict[str, set[str]] = {station_id: set() for station_id in station_ids}
    for start in range(0, len(station_ids), 500):
        chunk = station_ids[start : start + 500]
        for station in session.scalars(select(Station).where(Station.station_id.in_(chunk))):
            tags[station.station_id].update(json.loads(station.tags or "[]"))
            tags[station.station_id].add(station.kind)
        for station_id, tag in session.execute(
            select(StationTag.station_id, StationTag.tag).where(StationTag.station_id.in_(chunk))
        ):
            tags[station_id].add(tag)
    return tags


def resolve_targets(session: Session, selector: Selector) -> list[Station]:
    """The active stations a selector names, online ones first (they make better canaries),
    then by station id. Listed stations that are unknown or not active are refused."""
    if selector.stations:
        found = {
            s.station_id: s
            for s in session.scalars(
                select(Station).where(Station.station_id.in_(selector.stations))
            )
        }
        bad = [s for s in selector.stations if s not in found or found[s].state != "active"]
        if bad:
            raise RolloutError(
                f"not active stations (unknown, awaiting their claim, or revoked): "
                f"{', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}"
            )
        stations = list(found.values())
    else:
        stations = list(session.scalars(select(Station).where(Station.state == "active")))
        if selector.tags:
            tags = station_tags(session, [s.station_id for s in stations])
            wanted = set(selector.tags)
            stations = [s for s in stations if tags[s.station_id] & wanted]
    if not stations:
        raise RolloutError(f"{selector.describe()}: no active station is targeted")
    return sorted(stations, key=lambda s: (not s.online, s.station_id))


def new_rollout_id(component: str, version: str) -> str:
    plain = version.split("+", 1)[0].lower().replace(".", "-")
    stem = "".join(c if c.isalnum() or c == "-" else "-" for c in f"{component}-{plain}")
    return f"{stem[:31]}-{secrets.token_hex(4)}"


def _busy_stations(session: Session, station_ids: list[str]) -> dict[str, str]:
    """Targeted stations another active rollout still has an update in flight for (each
    station has one ``update`` topic: one offer at a time)."""
    busy: dict[str, str] = {}
    rows = session.execute(
        select(RolloutStation.station_id, RolloutStation.rollout_id, RolloutStation.state)
        .join(Rollout, Rollout.rollout_id == RolloutStation.rollout_id)
        .where(Rollout.state.in_(ACTIVE_STATES))
    )
    wanted = set(station_ids)
    for station_id, rollout_id, state in rows:
        if station_id in wanted and state not in DONE_STATES:
            busy[station_id] = rollout_id
    return busy


def create(
    session: Session,
    *,
    release: Release,
    selector: Selector,
    plan: RolloutPlan,
    actor: str,
    now: datetime,
    allow_downgrade: bool = False,
    rollback_of: str | None = None,
    rollout_id: str | None = None,
) -> Rollout:
    """A new running rollout: its stations assigned to phases; the engine starts phase one."""
    if release.component not in ("agent", "firmware"):
        raise RolloutError(f"unknown component {release.component!r}: agent or firmware")
    try:
        version_key(release.version)
    except ValueError as exc:
        raise RolloutError(str(exc)) from None
    rollout_id = rollout_id or new_rollout_id(release.component, release.version)
    if not ROLLOUT_ID_RE.fullmatch(rollout_id):
        raise RolloutError(f"rollout id {rollout_id!r}: up to 40 characters of a-z, 0-9 and -")
    if session.get(Rollout, rollout_id) is not None:
        raise RolloutConflictError(f"rollout {rollout_id} exists already")
    stations = resolve_targets(session, selector)
    ids = [s.station_id for s in stations]
    busy = _busy_stations(session, ids)
    if busy:
        first = sorted(busy.items())[:5]
        raise RolloutConflictError(
            "stations still updating in another rollout (wait, or cancel it): "
            + ", ".join(f"{s} ({r})" for s, r in first)
        )
    phases = assign_phases(plan, ids)
    rollout = Rollout(
        rollout_id=rollout_id,
        component=release.component,
        version=release.version,
        target=release.target,
        allow_downgrade=allow_downgrade,
        rollback_of=rollback_of,
        selector=selector.model_dump_json(exclude_defaults=True),
        plan=plan.model_dump_json(),
        state="running",
        current_phase=0,
        created_at=now,
        created_by=actor,
        updated_at=now,
    )
    session.add(rollout)
    session.flush()
    for index, phase in enumerate(plan.phases):
        session.add(
            RolloutPhase(rollout_id=rollout_id, index=index, name=phase.name, state="pending")
        )
    for station_id in ids:
        session.add(
            RolloutStation(
                rollout_id=rollout_id,
                station_id=station_id,
                phase=phases[station_id],
                state="pending",
                bytes_done=0,
                bytes_total=0,
                delta=False,
                offer="none",
                offer_dirty=False,
            )
        )
    sizes = Counter(phases.values())
    audit.record(
        session,
        actor=actor,
        action="rollout-create",
        target=rollout_id,
        detail={
            "component": release.component,
            "version": release.version,
            "target": selector.describe(),
            "stations": len(ids),
            "phases": ", ".join(f"{p.name}: {sizes.get(i, 0)}" for i, p in enumerate(plan.phases)),
            "rollback_of": rollback_of,
        },
    )
    log.info("rollout %s of %s %s to %d stations", rollout_id, release.component,
             release.version, len(ids))  # fmt: skip
    return rollout


def get(session: Session, rollout_id: str) -> Rollout:
    rollout = session.get(Rollout, rollout_id)
    if rollout is None:
        raise UnknownRolloutError(f"no rollout {rollout_id!r} (`ewp release rollout list`)")
    return rollout


def _in_state(rollout: Rollout, allowed: tuple[str, ...], doing: str) -> None:
    if rollout.state not in allowed:
        raise RolloutConflictError(
            f"rollout {rollout.rollout_id} is {rollout.state}: cannot {doing} it"
        )


def pause(session: Session, rollout_id: str, *, actor: str, now: datetime) -> Rollout:
    """No new offers, no phase changes and no timeouts until resumed; offers already sent
    stay (a station mid-install finishes)."""
    rollout = get(session, rollout_id)
    _in_state(rollout, ("running", "waiting-approval"), "pause")
    rollout.state, rollout.updated_at = "paused", now
    audit.record(session, actor=actor, action="rollout-pause", target=rollout_id)
    return rollout


def resume(session: Session, rollout_id: str, *, actor: str, now: datetime) -> Rollout:
    rollout = get(session, rollout_id)
    _in_state(rollout, ("paused",), "resume")
    phase = session.get(RolloutPhase, (rollout_id, rollout.current_phase))
    waiting = phase is not None and phase.state == "waiting-approval"
    # The time paused does not count against the stations' timeouts (``updated_at``: paused).
    paused_for = now - rollout.updated_at
    for row in session.scalars(
        select(RolloutStation).where(
            RolloutStation.rollout_id == rollout_id, RolloutStation.offered_at.is_not(None)
        )
    ):
        if row.state not in DONE_STATES and row.offered_at is not None:
            row.offered_at += paused_for
    rollout.state, rollout.updated_at = ("waiting-approval" if waiting else "running"), now
    audit.record(session, actor=actor, action="rollout-resume", target=rollout_id)
    return rollout


def end_offers(session: Session, rollout_id: str, *, now: datetime) -> int:
    """Cancel the offers of stations not done yet; stations never offered are skipped."""
    cancelled = 0
    for row in session.scalars(
        select(RolloutStation).where(RolloutStation.rollout_id == rollout_id)
    ):
        if row.state in DONE_STATES:
            continue
        if row.state in ("pending", "waiting-window"):
            row.state, row.finished_at = "skipped", now
        elif row.offer == "install":
            row.offer, row.offer_dirty = "cancel", True
            cancelled += 1
    return cancelled


def cancel(session: Session, rollout_id: str, *, actor: str, now: datetime) -> Rollout:
    rollout = get(session, rollout_id)
    _in_state(rollout, ACTIVE_STATES, "cancel")
    cancelled = end_offers(session, rollout_id, now=now)
    rollout.state, rollout.updated_at, rollout.finished_at = "cancelled", now, now
    audit.record(
        session,
        actor=actor,
        action="rollout-cancel",
        target=rollout_id,
        detail={"offers_cancelled": cancelled},
    )
    return rollout


def approve(session: Session, rollout_id: str, *, actor: str, now: datetime) -> Rollout:
    """Start the next phase of a rollout waiting for approval."""
    rollout = get(session, rollout_id)
    _in_state(rollout, ("waiting-approval",), "approve")
    phase = session.get(RolloutPhase, (rollout_id, rollout.current_phase))
    assert phase is not None
    phase.state, phase.approved_by, phase.finished_at = "passed", actor, now
    rollout.current_phase += 1
    rollout.state, rollout.updated_at = "running", now
    audit.record(
        session,
        actor=actor,
        action="rollout-approve",
        target=rollout_id,
        detail={"phase": phase.name},
    )
    return rollout


def previous_version(session: Session, rollout_id: str) -> str | None:
    """The version most of a rollout's offered stations ran before it."""
    versions = Counter(
        v
        for v in session.scalars(
            select(RolloutStation.from_version).where(
                RolloutStation.rollout_id == rollout_id,
                RolloutStation.from_version.is_not(None),
            )
        )
        if v is not None and VERSION_RE.fullmatch(v)  # a heartbeat's version is not trusted
    )
    return versions.most_common(1)[0][0] if versions else None


def rollback(
    session: Session,
    rollout_id: str,
    *,
    release: Release,
    actor: str,
    now: datetime,
    timeout_s: float | None = None,
) -> Rollout:
    """A rollout of ``release`` (the previous version) to every station the rollout offered
    its release to, in one phase, downgrade allowed. The rollout is cancelled first if it is
    still going."""
    original = get(session, rollout_id)
    if original.rollback_of is not None:
        raise RolloutConflictError(f"{rollout_id} is itself a rollback: roll forward instead")
    if release.component != original.component:
        raise RolloutError(
            f"rollout {rollout_id} updates {original.component}, not {release.component}"
        )
    if original.state in ACTIVE_STATES:
        cancel(session, rollout_id, actor=actor, now=now)
    station_ids = list(
        session.scalars(
            select(RolloutStation.station_id)
            .where(
                RolloutStation.rollout_id == rollout_id,
                RolloutStation.offered_at.is_not(None),
            )
            .order_by(RolloutStation.phase, RolloutStation.station_id)
        )
    )
    if not station_ids:
        raise RolloutConflictError(f"rollout {rollout_id} offered its release to no station")
    first = RolloutPlan.model_validate_json(original.plan).phases[0]
    plan = RolloutPlan(
        phases=[
            PhasePlan(
                name="rollback",
                rest=True,
                success_threshold=0.5,
                error_threshold=0.99,
                timeout_s=timeout_s or first.timeout_s,
                soak_s=0,
            )
        ]
    )
    rollback_id = f"{rollout_id[:36]}-rb"
    if session.get(Rollout, rollback_id) is not None:
        rollback_id = f"{rollout_id[:31]}-rb-{secrets.token_hex(2)}"
    return create(
        session,
        release=release,
        selector=Selector(stations=station_ids),
        plan=plan,
        actor=actor,
        now=now,
        allow_downgrade=True,
        rollback_of=rollout_id,
        rollout_id=rollback_id,
    )


def roll_back(
    session: Session,
    rollout_id: str,
    *,
    catalog: ReleaseCatalog | None,
    actor: str,
    now: datetime,
    version: str | None = None,
    target: str | None = None,
    timeout_s: float | None = None,
) -> Rollout:
    """``rollback`` to ``version``, by default the version most offered stations ran before,
    resolved through the catalogue (or ``target``)."""
    original = get(session, rollout_id)
    back_to = version or previous_version(session, rollout_id)
    if back_to is None:
        raise RolloutConflictError(
            f"rollout {rollout_id}: no station reported what it ran before; name the version "
            "to go back to"
        )
    release = resolve_release(catalog, original.component, back_to, target)
    return rollback(session, rollout_id, release=release, actor=actor, now=now, timeout_s=timeout_s)

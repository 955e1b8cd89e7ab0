"""The rollout engine: moves every running rollout on, one tick at a time.

A tick, for each running rollout, in one transaction:

1. the current phase starts (its stations become due);
2. a due station whose maintenance window is open gets its offer (``UpdateOffer``, retained
   on its ``update`` topic, ``install_before`` the window's end); a closed window leaves it
   ``waiting-window``;
3. a station offered longer ago than the phase's ``timeout_s`` that has not reached a final
   state counts as failed (``timed-out``, its offer cancelled) — a station offline since the
   rollout began too: its retained offer waits at the broker, and the clock runs;
4. more failures than the phase's ``error_threshold`` halt the whole rollout; every offer not
   yet installed is cancelled, no further station gets one;
5. once every station of the phase is done, at least ``success_threshold`` of them healthy
   starts the soak; otherwise the rollout halts;
6. after ``soak_s`` the soak check (fleet/updates/soak.py) passes the phase or halts the
   rollout naming the measure; a passed phase starts the next one, or waits for approval.

Then the offers decided are published (after the commit: a crash between the two re-publishes
them next tick, ``offer_dirty``). Station reports arrive through fleet/updates/status_ingest.py
and wake the engine. Every decision is in the audit log (actor ``rollout-engine``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleet import audit
from fleet.store.models import Station
from fleet.store.rollout_models import Rollout, RolloutPhase, RolloutStation
from fleet.updates import soak
from fleet.updates.plan import PhasePlan, RolloutPlan, RolloutSettings, window_for
from fleet.updates.release import ReleaseCatalog
from fleet.updates.rollouts import DONE_STATES, FAILED_STATES, end_offers, station_tags
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.updates import VERSION_RE, UpdateOffer

log = logging.getLogger(__name__)

ACTOR = "rollout-engine"


class OfferPublisher(Protocol):
    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None: ...


class RolloutEngine:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: RolloutSettings,
        *,
        clock: Callable[[], datetime],
        publisher: Callable[[], OfferPublisher] | None = None,
        catalog: ReleaseCatalog | None = None,
        read_sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self.sessions = sessions
        # Sessions that only read (on SQLite they never wait for the write lock, which every
        # status report from ingest takes): fleet/store/db.py ``read_only_engine``.
        self.read_sessions = read_sessions or sessions
        self.settings = settings
        self.clock = clock
        self._publisher = publisher
        self.catalog = catalog
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one tick at a time

    # -- the loop ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Tick soon (a station reported, an admin changed a rollout)."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.clear()  # a wake during the tick makes the next one start at once
            try:
                self.tick()
            except Exception:
                log.exception("rollout engine tick failed; trying again shortly")
            self._wake.wait(self.settings.tick_interval_s)

    def tick(self) -> None:
        with self._lock:
            with self.read_sessions() as session:
                ids = list(
                    session.scalars(select(Rollout.rollout_id).where(Rollout.state == "running"))
                )
                session.rollback()
            for rollout_id in ids:
                with self.sessions() as session:
                    rollout = session.get(Rollout, rollout_id, with_for_update=True)
                    if rollout is not None and rollout.state == "running":
                        self._advance(session, rollout, self.clock())
                    session.commit()
            self.publish_offers()

    # -- one rollout ------------------------------------------------------------------------

    def _advance(self, session: Session, rollout: Rollout, now: datetime) -> None:
        plan = RolloutPlan.model_validate_json(rollout.plan)
        while rollout.state == "running":
            index = rollout.current_phase
            phase = session.get(RolloutPhase, (rollout.rollout_id, index))
            assert phase is not None
            spec = plan.phases[index]
            members = list(
                session.scalars(
                    select(RolloutStation)
                    .where(
                        RolloutStation.rollout_id == rollout.rollout_id,
                        RolloutStation.phase == index,
                    )
                    .order_by(RolloutStation.station_id)
                    .with_for_update()  # a report for one of them waits for this decision
                )
            )
            if phase.state == "pending":
                phase.state, phase.started_at = "running", now
                self._audit(session, rollout, "rollout-phase-start", phase=phase.name,
                            stations=len(members))  # fmt: skip
            if phase.state == "running":
                self._offer(session, rollout, plan, members, now)
                self._time_out(session, rollout, spec, members, now)
                if self._check_errors(session, rollout, phase, spec, members, now):
                    return
                if not all(m.state in DONE_STATES for m in members):
                    return
                healthy = sum(1 for m in members if m.state == "healthy")
                if members and healthy / len(members) < spec.success_threshold:
                    self._halt(
                        session,
                        rollout,
                        phase,
                        now,
                        f"phase {phase.name}: {healthy} of {len(members)} stations healthy, "
                        f"below the success threshold of {spec.success_threshold:.0%}",
                    )
                    return
                if not members:  # a small fleet leaves a phase empty: nothing to soak
                    self._phase_passed(session, rollout, plan, phase, spec, now)
                    continue
                phase.state, phase.soak_started_at = "soaking", now
                self._audit(session, rollout, "rollout-soak-start", phase=phase.name,
                            healthy=healthy, soak_s=spec.soak_s)  # fmt: skip
            if phase.state == "soaking":
                assert phase.soak_started_at is not None
                if now < phase.soak_started_at + timedelta(seconds=spec.soak_s):
                    return
                if spec.soak_s > 0 and not self._soak_passes(
                    session, rollout, plan, phase, members, now
                ):
                    return
                self._phase_passed(session, rollout, plan, phase, spec, now)
            elif phase.state in ("waiting-approval", "passed", "failed"):
                return

    def _offer(
        self,
        session: Session,
        rollout: Rollout,
        plan: RolloutPlan,
        members: list[RolloutStation],
        now: datetime,
    ) -> None:
        due = [m for m in members if m.state in ("pending", "waiting-window")]
        if not due:
            return
        tags = station_tags(session, [m.station_id for m in due])
        for member in due:
            open_, _until = window_for(tags[member.station_id], self.settings.windows, now)
            if not open_:
                if member.state != "waiting-window":
                    member.state = "waiting-window"
                    self._audit(session, rollout, "rollout-station-wait-window",
                                station=member.station_id)  # fmt: skip
                continue
            station = session.get(Station, member.station_id)
            if station is not None:
                running = (
                    station.software_version
                    if rollout.component == "agent"
                    else station.firmware_version
                )
                # From heartbeats: used (for a delta) only if it is a release version.
                if running is not None and VERSION_RE.fullmatch(running):
                    member.from_version = running
            member.state, member.offered_at = "offered", now
            member.offer, member.offer_dirty = "install", True
            self._audit(session, rollout, "rollout-station-offer", station=member.station_id,
                        from_version=member.from_version)  # fmt: skip

    def _time_out(
        self,
        session: Session,
        rollout: Rollout,
        spec: PhasePlan,
        members: list[RolloutStation],
        now: datetime,
    ) -> None:
        limit = timedelta(seconds=spec.timeout_s)
        for member in members:
            if member.state in DONE_STATES or member.offered_at is None:
                continue
            if now - member.offered_at < limit:
                continue
            member.state, member.finished_at = "timed-out", now
            member.reason = (
                f"no final report within {spec.timeout_s:.0f} s of the offer"
                + (f" (last: {member.reported_at.isoformat()})" if member.reported_at else "")
            )[:300]
            member.offer, member.offer_dirty = "cancel", True
            self._audit(session, rollout, "rollout-station-timeout", station=member.station_id,
                        timeout_s=spec.timeout_s)  # fmt: skip

    def _check_errors(
        self,
        session: Session,
        rollout: Rollout,
        phase: RolloutPhase,
        spec: PhasePlan,
        members: list[RolloutStation],
        now: datetime,
    ) -> bool:
        failed = [m for m in members if m.state in FAILED_STATES]
        if not members or len(failed) / len(members) <= spec.error_threshold:
            return False
        first = sorted(failed, key=lambda m: m.finished_at or now)[0]
        self._halt(
            session,
            rollout,
            phase,
            now,
            f"phase {phase.name}: {len(failed)} of {len(members)} stations failed, above the "
            f"error threshold of {spec.error_threshold:.0%} ({first.station_id}: "
            f"{first.state}{': ' + first.reason if first.reason else ''})",
        )
        return True

    def _soak_passes(
        self,
        session: Session,
        rollout: Rollout,
        plan: RolloutPlan,
        phase: RolloutPhase,
        members: list[RolloutStation],
        now: datetime,
    ) -> bool:
        assert phase.soak_started_at is not None
        since = phase.soak_started_at
        updated = [m.station_id for m in members if m.state == "healthy"]
        later = list(
            session.scalars(
                select(RolloutStation.station_id).where(
                    RolloutStation.rollout_id == rollout.rollout_id,
                    RolloutStation.phase > phase.index,
                )
            )
        )
        cfg = plan.soak
        updated_m, n_updated = soak.group_measures(session, updated, since, now, cfg.min_samples)
        base_m, n_base = soak.group_measures(session, later, since, now, cfg.min_samples)
        kind = "not-updated"
        if n_base == 0:
            # Nobody left to compare with: the same stations before their update.
            assert phase.started_at is not None
            before = phase.started_at - (now - since)
            base_m, n_base = soak.group_measures(
                session, updated, before, phase.started_at, cfg.min_samples
            )
            kind = "before-update"
        result = soak.SoakResult(
            soak.compare(updated_m, base_m, margin=cfg.margin, tolerance=cfg.tolerance_of),
            n_updated,
            n_base,
            kind,
        )
        phase.soak_result = json.dumps(result.as_json())
        regression = result.regression
        if regression is None:
            return True
        rollout.halt_measure = regression.measure
        self._halt(
            session,
            rollout,
            phase,
            now,
            f"phase {phase.name}: soak check failed on {regression.measure}: updated stations "
            f"{regression.updated:.3g} against {regression.baseline:.3g} on the {kind} "
            f"stations (margin {cfg.margin:.0%})",
        )
        return False

    def _phase_passed(
        self,
        session: Session,
        rollout: Rollout,
        plan: RolloutPlan,
        phase: RolloutPhase,
        spec: PhasePlan,
        now: datetime,
    ) -> None:
        last = phase.index == len(plan.phases) - 1
        if spec.approval and not last:
            phase.state = "waiting-approval"
            rollout.state, rollout.updated_at = "waiting-approval", now
            self._audit(session, rollout, "rollout-wait-approval", phase=phase.name)
            return
        phase.state, phase.finished_at = "passed", now
        self._audit(session, rollout, "rollout-phase-pass", phase=phase.name)
        if last:
            rollout.state, rollout.finished_at, rollout.updated_at = "completed", now, now
            self._audit(session, rollout, "rollout-complete")
        else:
            rollout.current_phase += 1
            rollout.updated_at = now

    def _halt(
        self, session: Session, rollout: Rollout, phase: RolloutPhase, now: datetime, reason: str
    ) -> None:
        phase.state, phase.finished_at = "failed", now
        rollout.state, rollout.halt_reason = "halted", reason
        rollout.updated_at = rollout.finished_at = now
        cancelled = end_offers(session, rollout.rollout_id, now=now)
        log.warning("rollout %s halted: %s", rollout.rollout_id, reason)
        self._audit(session, rollout, "rollout-halt", reason=reason[:500],
                    measure=rollout.halt_measure, offers_cancelled=cancelled)  # fmt: skip

    @staticmethod
    def _audit(
        session: Session, rollout: Rollout, action: str, **detail: str | int | float | None
    ) -> None:
        audit.record(session, actor=ACTOR, action=action, target=rollout.rollout_id, detail=detail)

    # -- publishing -------------------------------------------------------------------------

    def offer_of(
        self, rollout: Rollout, row: RolloutStation, tags: set[str], now: datetime
    ) -> UpdateOffer:
        _open, until = window_for(tags, self.settings.windows, now)
        delta_target = None
        if self.catalog is not None and row.from_version and row.offer == "install":
            delta_target = self.catalog.delta_target(
                rollout.component, row.from_version, rollout.version
            )
        plan = RolloutPlan.model_validate_json(rollout.plan)
        return UpdateOffer.model_validate(
            {
                "rollout_id": rollout.rollout_id,
                "action": row.offer,
                "component": rollout.component,
                "version": rollout.version,
                "target": rollout.target,
                "delta_target": delta_target,
                "delta_from": row.from_version if delta_target else None,
                "allow_downgrade": rollout.allow_downgrade,
                "install_before": utc_timestamp(until) if until else None,
                "health_deadline_s": plan.health_deadline_s,
                "issued_at": utc_timestamp(now),
            }
        )

    def publish_offers(self) -> int:
        """Publish (or clear) every offer decided and not yet published; a broker that does not
        answer leaves them for the next tick. No transaction is held while publishing."""
        if self._publisher is None:
            return 0
        now = self.clock()
        outgoing: list[tuple[str, str, str, bytes]] = []
        with self.read_sessions() as session:
            rows = list(session.scalars(select(RolloutStation).where(RolloutStation.offer_dirty)))
            if not rows:
                return 0
            tags = station_tags(session, sorted({r.station_id for r in rows}))
            for row in rows:
                rollout = session.get(Rollout, row.rollout_id)
                assert rollout is not None
                if row.offer == "cleared":
                    payload = b""  # an empty retained message removes the retained offer
                else:
                    payload = self.offer_of(rollout, row, tags[row.station_id], now).to_payload()
                outgoing.append((row.rollout_id, row.station_id, row.offer, payload))
            session.rollback()
        published: list[tuple[str, str, str]] = []
        try:
            publisher = self._publisher()
            for rollout_id, station_id, offer, payload in outgoing:
                topic = topics.UPDATE.for_station(station_id)
                publisher.publish(topic, payload, qos=topics.UPDATE.qos, retain=True)
                published.append((rollout_id, station_id, offer))
        except Exception as exc:
            log.warning("update offers not all published (%s); retrying next tick", exc)
        with self.sessions() as session:
            for rollout_id, station_id, offer in published:
                done = session.get(RolloutStation, (rollout_id, station_id))
                if done is not None and done.offer == offer:  # not changed meanwhile
                    done.offer_dirty = False
            session.commit()
        return len(published)

"""Rollouts over simulated stations on a real broker: the must-show scenarios of issue 10 §4.

Each station is a broker client with its own credentials; the fleet publishes offers with its
publisher and reads reports through a real ingest worker. Time (timeouts, windows, soak) is a
fake clock moved by the test.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from fleet.store.models import AuditEntry
from fleet.updates.plan import PhasePlan, RolloutPlan
from simulators.station_updates import Regression, UpdateBehaviour
from tests.fleet.updates.conftest import RolloutRig
from tests.fleet.updates.station_links import wait_for

THREE_PHASES = RolloutPlan(
    phases=[
        PhasePlan(name="canary", stations=1, soak_s=0),
        PhasePlan(name="early", percent=40, soak_s=0),
        PhasePlan(name="rest", rest=True, soak_s=0),
    ]
)


def _audit_actions(rig: RolloutRig, rollout_id: str) -> list[str]:
    with rig.ops.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target == rollout_id)
                .order_by(AuditEntry.id)
            )
        )


def test_a_failing_canary_halts_and_no_other_station_gets_the_release(
    rollout_rig: RolloutRig,
) -> None:
    rig = rollout_rig
    rig.station("st-01", behaviour=UpdateBehaviour.FAIL_HEALTH)  # online first: the canary
    others = [rig.station(f"st-0{n}") for n in range(2, 6)]
    rollout_id = rig.create(THREE_PHASES)

    rig.tick_until(lambda: rig.rollout(rollout_id).state == "halted", "the rollout to halt")

    rollout = rig.rollout(rollout_id)
    assert rollout.halt_reason is not None
    assert "canary" in rollout.halt_reason and "rolled-back" in rollout.halt_reason
    assert "health check failed" in rollout.halt_reason
    states = rig.states(rollout_id)
    assert states["st-01"] == "rolled-back"
    assert all(states[link.station_id] == "skipped" for link in others)
    # The canary got exactly one offer, and its retained offer was then cleared.
    canary = rig.links["st-01"]
    wait_for(lambda: canary.received[-1:] == [b""], what="the canary's offer cleared")
    assert [json.loads(p)["action"] for p in canary.offers] == ["install"]
    for link in others:
        assert link.received == [], f"{link.station_id} received {link.received}"
    # A station that logs in later finds no retained offer either.
    late = rig.station("st-09")
    assert late.received == []
    actions = _audit_actions(rig, rollout_id)
    assert actions[:3] == ["rollout-create", "rollout-phase-start", "rollout-station-offer"]
    assert "rollout-station-rolled-back" in actions and actions[-1] == "rollout-halt"


def test_three_phases_reach_every_station(rollout_rig: RolloutRig) -> None:
    rig = rollout_rig
    for n in range(1, 6):
        rig.station(f"st-0{n}")
    rollout_id = rig.create(THREE_PHASES)
    rig.tick_until(lambda: rig.rollout(rollout_id).state == "completed", "completion")
    assert set(rig.states(rollout_id).values()) == {"healthy"}
    for link in rig.links.values():
        assert [json.loads(p)["version"] for p in link.offers] == ["1.5.0"]
        wait_for(lambda link=link: link.received[-1:] == [b""], what="offer cleared")


def test_a_silent_station_times_out_also_one_offline_when_the_rollout_began(
    rollout_rig: RolloutRig,
) -> None:
    rig = rollout_rig
    rig.station("st-01")
    rig.station("st-02", behaviour=UpdateBehaviour.SILENT)
    offline = rig.station("st-03", online=False)
    plan = RolloutPlan(
        phases=[
            PhasePlan(
                name="all", rest=True, timeout_s=600, error_threshold=0.5,
                success_threshold=0.3, soak_s=0,
            )
        ]
    )  # fmt: skip
    rollout_id = rig.create(plan)
    rig.tick_until(lambda: rig.states(rollout_id)["st-01"] == "healthy", "st-01 healthy")
    assert rig.states(rollout_id)["st-02"] == "offered"
    assert rig.rollout(rollout_id).state == "running"  # the silent ones hold the phase
    rig.ops.clock.advance(seconds=601)
    rig.tick_until(lambda: rig.rollout(rollout_id).state != "running", "a decision")
    states = rig.states(rollout_id)
    assert states["st-02"] == "timed-out" and states["st-03"] == "timed-out"
    # 2 of 3 failed: above the error threshold of 50 %.
    rollout = rig.rollout(rollout_id)
    assert rollout.state == "halted"
    assert rollout.halt_reason is not None and "2 of 3 stations failed" in rollout.halt_reason
    # The offline station finds the offer cancelled when it comes back: it installs nothing.
    offline.connect()
    wait_for(lambda: offline.received != [], what="the retained message")
    assert json.loads(offline.received[-1])["action"] == "cancel"
    assert offline.sim.version == "1.0.0"
    assert "rollout-station-timeout" in _audit_actions(rig, rollout_id)


def test_a_mobile_unit_waits_for_its_maintenance_window(rollout_rig: RolloutRig) -> None:
    rig = rollout_rig
    rig.station("ct-01")
    mobile = rig.station("mu-01", kind="mobile")
    plan = RolloutPlan(phases=[PhasePlan(name="all", rest=True, soak_s=0)])
    rollout_id = rig.create(plan)
    # Monday 10:00 in Bangkok: service hours; the default window for mobile is 19:00-07:00.
    rig.tick_until(lambda: rig.states(rollout_id)["ct-01"] == "healthy", "ct-01 healthy")
    assert rig.states(rollout_id)["mu-01"] == "waiting-window"
    rig.ops.clock.advance(hours=8, minutes=59)  # 18:59
    rig.engine.tick()
    assert rig.states(rollout_id)["mu-01"] == "waiting-window"
    assert mobile.received == []
    rig.ops.clock.advance(minutes=2)  # 19:01
    rig.tick_until(lambda: rig.rollout(rollout_id).state == "completed", "completion")
    offer = json.loads(mobile.offers[0])
    # Install before the window closes: 07:00 Bangkok the next morning, 00:00 UTC.
    assert offer["install_before"] == "2026-11-24T00:00:00.000Z"
    assert rig.states(rollout_id)["mu-01"] == "healthy"


def test_an_injected_soak_regression_halts_and_names_the_measure(rollout_rig: RolloutRig) -> None:
    rig = rollout_rig
    rig.station("st-01", regression=Regression.FAILURE_RATE)  # the canary
    for n in range(2, 5):
        rig.station(f"st-0{n}")
    plan = RolloutPlan(
        phases=[
            PhasePlan(name="canary", stations=1, soak_s=3600),
            PhasePlan(name="rest", rest=True, soak_s=0),
        ]
    )
    rollout_id = rig.create(plan)
    rig.tick_until(lambda: rig.states(rollout_id)["st-01"] == "healthy", "canary healthy")
    rig.engine.tick()  # the soak starts
    ids = list(rig.links)
    for _ in range(7):  # a heartbeat every 10 minutes, the stations working between them
        for link in rig.links.values():
            link.sim.work(3)
        rig.heartbeats(*ids)
        rig.ops.clock.advance(minutes=10)
    rig.engine.tick()
    rollout = rig.rollout(rollout_id)
    assert rollout.state == "halted", rollout.halt_reason
    assert rollout.halt_measure == "capture_failure_rate"
    assert rollout.halt_reason is not None and "capture_failure_rate" in rollout.halt_reason
    assert all(rig.links[s].received == [] for s in ids[1:])


def test_healthy_soak_passes_and_approval_gates_the_next_phase(rollout_rig: RolloutRig) -> None:
    rig = rollout_rig
    for n in range(1, 5):
        rig.station(f"st-0{n}")
    plan = RolloutPlan(
        phases=[
            PhasePlan(name="canary", stations=1, soak_s=1800, approval=True),
            PhasePlan(name="rest", rest=True, soak_s=0),
        ]
    )
    rollout_id = rig.create(plan)
    rig.tick_until(lambda: rig.states(rollout_id)["st-01"] == "healthy", "canary healthy")
    rig.engine.tick()
    ids = list(rig.links)
    for _ in range(4):
        for link in rig.links.values():
            link.sim.work(3)
        rig.heartbeats(*ids)
        rig.ops.clock.advance(minutes=10)
    rig.engine.tick()
    assert rig.rollout(rollout_id).state == "waiting-approval"
    assert rig.links["st-02"].received == []
    from fleet.updates import rollouts

    with rig.ops.sessions() as session:
        rollouts.approve(session, rollout_id, actor="tester", now=rig.clock())
        session.commit()
    rig.tick_until(lambda: rig.rollout(rollout_id).state == "completed", "completion")
    assert "rollout-approve" in _audit_actions(rig, rollout_id)


def test_pause_holds_offers_and_timeouts_and_rollback_offers_the_previous_version(
    rollout_rig: RolloutRig,
) -> None:
    from fleet.updates import rollouts
    from fleet.updates.release import ReleaseRef

    rig = rollout_rig
    for n in range(1, 4):
        rig.station(f"st-0{n}")
    rollout_id = rig.create(THREE_PHASES)
    with rig.ops.sessions() as session:
        rollouts.pause(session, rollout_id, actor="tester", now=rig.clock())
        session.commit()
    for _ in range(3):
        rig.engine.tick()
    assert all(link.received == [] for link in rig.links.values())
    rig.ops.clock.advance(hours=1)
    with rig.ops.sessions() as session:
        rollouts.resume(session, rollout_id, actor="tester", now=rig.clock())
        session.commit()
    rig.tick_until(lambda: rig.rollout(rollout_id).state == "completed", "completion")
    previous = ReleaseRef("agent", "1.0.0", "agent/ewp-agent-1.0.0.tar")
    with rig.ops.sessions() as session:
        assert rollouts.previous_version(session, rollout_id) == "1.0.0"
        back = rollouts.rollback(
            session, rollout_id, release=previous, actor="tester", now=rig.clock()
        )
        back_id = back.rollout_id
        session.commit()
    rig.tick_until(lambda: rig.rollout(back_id).state == "completed", "the rollback")
    for link in rig.links.values():
        last = json.loads(link.offers[-1])
        assert (last["version"], last["allow_downgrade"]) == ("1.0.0", True)
        assert link.sim.version == "1.0.0"
    actions = _audit_actions(rig, rollout_id)
    assert "rollout-pause" in actions and "rollout-resume" in actions


def test_stations_offered_after_a_pause_keep_their_full_timeout(rollout_rig: RolloutRig) -> None:
    from fleet.updates import rollouts

    rig = rollout_rig
    rig.station("st-01", behaviour=UpdateBehaviour.SILENT)
    plan = RolloutPlan(phases=[PhasePlan(name="all", rest=True, timeout_s=600, soak_s=0)])
    rollout_id = rig.create(plan)
    rig.tick_until(lambda: rig.states(rollout_id)["st-01"] == "offered", "the offer")
    rig.ops.clock.advance(seconds=300)
    with rig.ops.sessions() as session:
        rollouts.pause(session, rollout_id, actor="tester", now=rig.clock())
        session.commit()
    rig.ops.clock.advance(hours=2)
    with rig.ops.sessions() as session:
        rollouts.resume(session, rollout_id, actor="tester", now=rig.clock())
        session.commit()
    rig.engine.tick()
    assert rig.states(rollout_id)["st-01"] == "offered"  # 300 s of 600 used, not 7500
    rig.ops.clock.advance(seconds=301)
    rig.engine.tick()
    assert rig.states(rollout_id)["st-01"] == "timed-out"


def test_phases_a_small_fleet_leaves_empty_pass_without_a_soak(rollout_rig: RolloutRig) -> None:
    rig = rollout_rig
    rig.station("st-01")
    plan = RolloutPlan(
        phases=[
            PhasePlan(name="canary", stations=1, soak_s=0),
            PhasePlan(name="early", percent=10, soak_s=3600),
            PhasePlan(name="rest", rest=True, soak_s=3600),
        ]
    )
    rollout_id = rig.create(plan)
    rig.tick_until(lambda: rig.rollout(rollout_id).state == "completed", "completion")
    assert rig.states(rollout_id) == {"st-01": "healthy"}


def test_a_report_from_a_station_not_offered_yet_changes_nothing(rollout_rig: RolloutRig) -> None:
    """A station of a later phase (buggy, or hostile) reports `healthy` for the rollout before
    its phase started: ignored, the phase still waits its turn."""
    rig = rollout_rig
    rig.station("st-01", behaviour=UpdateBehaviour.SILENT)
    eager = rig.station("st-02")
    rollout_id = rig.create(THREE_PHASES)
    rig.tick_until(lambda: rig.states(rollout_id)["st-01"] == "offered", "the canary offered")
    forged = {"rollout_id": rollout_id, "component": "agent", "version": "1.5.0"}
    for payload in eager.sim._install(forged):
        assert eager._client is not None
        eager._client.publish("ewp/v1/stations/st-02/update-status", payload, qos=1)
    wait_for(lambda: rig.reports >= 6, what="the reports ingested")
    rig.engine.tick()
    assert rig.states(rollout_id)["st-02"] == "pending"

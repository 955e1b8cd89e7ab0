"""A rollout of a release the fleet's TUF repository publishes: the offer names the release's
full target and, for a station running a version a delta was published from, the delta."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.updates import rollouts
from fleet.updates.plan import PhasePlan, RolloutPlan, Selector
from fleet.updates.release import RepositoryCatalog
from fleet.updates.rollouts import RolloutError
from tests.fleet.updates.conftest import RolloutRig
from tests.update_helpers import make_repository, publish_agent

MODULES = {f"module_{n}.py": (f"# module {n}\n" + "x = 1\n" * 2000).encode() for n in range(4)}


def test_offers_carry_the_published_targets_and_a_delta(
    rollout_rig: RolloutRig, tmp_path: Path
) -> None:
    repo = make_repository(tmp_path / "releases")
    publish_agent(repo, tmp_path / "b", "1.0.0", MODULES)
    changed = {**MODULES, "module_0.py": b"# changed\n" + MODULES["module_0.py"]}
    publish_agent(repo, tmp_path / "b", "1.5.0", changed)
    catalog = RepositoryCatalog(repo.repo_dir)
    rig = rollout_rig
    rig.engine.catalog = catalog
    old = rig.station("st-01")  # runs 1.0.0 (its heartbeat says so)
    rig.heartbeats("st-01")
    other = rig.station("st-02")
    other.sim.version = "0.9.0"  # no delta from 0.9.0
    rig.heartbeats("st-02")

    with rig.ops.sessions() as session:
        with pytest.raises(RolloutError, match="not a published release"):
            rollouts.resolve_release(catalog, "agent", "2.0.0", None)
        with pytest.raises(RolloutError, match=r"published as agent/1\.5\.0/bundle\.tar"):
            rollouts.resolve_release(catalog, "agent", "1.5.0", "agent/other.tar")
        release = rollouts.resolve_release(catalog, "agent", "1.5.0", None)
        rollout = rollouts.create(
            session,
            release=release,
            selector=Selector(fleet=True),
            plan=RolloutPlan(phases=[PhasePlan(name="all", rest=True, soak_s=0)]),
            actor="tester",
            now=rig.clock(),
        )
        rollout_id = rollout.rollout_id
        session.commit()
    rig.tick_until(lambda: rig.rollout(rollout_id).state == "completed", "completion")
    first = json.loads(old.offers[0])
    assert first["target"] == "agent/1.5.0/bundle.tar"
    assert (first["delta_target"], first["delta_from"]) == (
        "agent/1.5.0/delta-from-1.0.0.zst",
        "1.0.0",
    )
    second = json.loads(other.offers[0])
    assert second["delta_target"] is None and second["delta_from"] is None

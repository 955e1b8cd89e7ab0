"""The station's release layout on its own: the boot counter, the deadline, an interrupted
switch, a half-unpacked release, hostile bundles."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from edge.agent.updater.errors import UpdateRefused
from edge.agent.updater.layout import Layout
from fleet.updates.bundle import write_bundle
from tests.edge.agent.updater.conftest import World


def _on_trial(world: World) -> Layout:
    world.publish("1.1.0")
    assert world.updater().handle(world.offer("1.1.0", health_deadline_s=600)).restart
    return world.layout


def test_a_version_on_trial_gets_three_starts(world: World) -> None:
    layout = _on_trial(world)
    outcomes = [layout.on_boot(max_boots=3).outcome for _ in range(4)]
    assert outcomes == ["trial", "trial", "trial", "rolled-back"]
    assert layout.installed_version() == "1.0.0" and layout.trial() is None
    (report,) = [r for _, r in layout.pending_reports() if r["state"] == "rolled-back"]
    assert "after 3 starts" in report["reason"]
    assert layout.on_boot().outcome == "normal"


def test_a_version_on_trial_past_its_deadline_is_rolled_back(world: World) -> None:
    layout = _on_trial(world)
    assert layout.on_boot(now=time.time() + 601).outcome == "rolled-back"
    assert layout.installed_version() == "1.0.0"


def test_a_confirmed_version_stays(world: World) -> None:
    layout = _on_trial(world)
    assert layout.on_boot().outcome == "trial"
    layout.confirm()
    assert layout.on_boot().outcome == "normal"
    assert layout.installed_version() == "1.1.0" and layout.previous_version() == "1.0.0"
    assert not layout.rollback("too late")  # no trial: nothing to roll back


def test_a_half_unpacked_release_is_unpacked_again(world: World) -> None:
    bundle = world.build("1.1.0")
    partial = world.layout.release_dir("1.1.0") / "site"
    partial.mkdir(parents=True)
    (partial / "leftover.py").write_text("half")
    assert world.layout.install_bundle(bundle) == "1.1.0"
    assert not (partial / "leftover.py").exists()
    assert world.layout.is_complete("1.1.0")


def _wheel_with(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(name, b"x")
    return buffer.getvalue()


@pytest.mark.parametrize("member", ["../../escape.py", "/etc/passwd"])
def test_a_wheel_with_a_path_outside_the_release_is_refused(
    world: World, tmp_path: Path, member: str
) -> None:
    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    wheel.write_bytes(_wheel_with(member))
    bundle = tmp_path / "evil.tar"
    write_bundle(bundle, kind="agent", version="6.6.6", files={wheel.name: wheel})
    with pytest.raises(UpdateRefused, match="unsafe path"):
        world.layout.install_bundle(bundle)
    assert not (tmp_path / "escape.py").exists()


def test_the_retained_offer_is_not_reported_healthy_while_its_version_is_on_trial(
    world: World,
) -> None:
    layout = _on_trial(world)
    world.reports.clear()
    outcome = world.updater().handle(world.offer("1.1.0"))  # the retained offer, again
    assert outcome.state == "offered" and not outcome.restart
    assert world.reports == []  # success comes only from the health check
    layout.confirm()
    assert world.updater().handle(world.offer("1.1.0")).state == "healthy"


def test_a_version_that_was_rolled_back_is_not_installed_again_by_the_same_rollout(
    world: World,
) -> None:
    layout = _on_trial(world)
    layout.rollback("health check failed")
    world.reports.clear()
    outcome = world.updater().handle(world.offer("1.1.0"))
    assert outcome.state == "failed" and not outcome.restart
    assert layout.installed_version() == "1.0.0"
    assert world.updater().handle(world.offer("1.1.0", rollout_id="r2")).restart  # a new one

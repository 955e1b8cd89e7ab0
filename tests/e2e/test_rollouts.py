"""A rollout through the whole fleet: `ewp release rollout create` on the fleet host, the
service's own rollout engine and ingest worker, stations provisioned with claim tokens and
logged in to Mosquitto with their own credentials (simulated update side), and the halt read
back from the API, the CLI and the dashboard in a real Chromium."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ewp.local_fleet import FleetStack, start_fleet_stack, wait_until
from simulators.station_updates import Regression, SimulatedStationUpdater, UpdateBehaviour
from tests.ewp.cli.test_fleet_and_central_commands import ewp
from tests.fleet.updates.station_links import StationLink
from tests.fleet.web.browser import chromium, screenshot
from tests.update_helpers import make_repository, publish_agent

PASSWORD = "a long enough test passphrase"
PLAN = {
    "phases": [
        {"name": "canary", "stations": 1, "soak_s": 0},
        {"name": "early", "percent": 40, "soak_s": 0},
        {"name": "rest", "rest": True, "soak_s": 0},
    ]
}


MODULES = {"ewp_agent.py": b"VERSION = 1\n" * 500}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FleetStack]:
    """A fleet whose release repository publishes agent 1.0.0 and 1.5.0."""
    repo = make_repository(tmp_path / "releases")
    publish_agent(repo, tmp_path / "bundles", "1.0.0", MODULES)
    publish_agent(repo, tmp_path / "bundles", "1.5.0", {"ewp_agent.py": b"VERSION = 2\n" * 500})
    extra = (
        f'\n[rollouts]\ntick_interval_s = 0.2\n[updates]\nrepository = "{repo.repo_dir}"\n'
        f'keys = "{tmp_path / "releases" / "keys"}"\n'
    )
    stack = start_fleet_stack(tmp_path, extra_settings=extra)
    try:
        yield stack
    finally:
        stack.stop()


def test_a_failing_canary_halts_the_rollout_everywhere_it_is_shown(
    stack: FleetStack, tmp_path: Path
) -> None:
    links: list[StationLink] = []
    for n in range(1, 6):
        station_id = f"st-0{n}"
        identity = stack.provision_station(station_id, tmp_path / station_id)
        behaviour = UpdateBehaviour.FAIL_HEALTH if n == 1 else UpdateBehaviour.HEALTHY
        sim = SimulatedStationUpdater(station_id, behaviour=behaviour)
        link = StationLink(
            sim,
            stack.settings.broker.host,
            stack.settings.broker.port,
            identity.mqtt.password,
            username=identity.mqtt.username,
        )
        links.append(link.connect())
    try:
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps(PLAN))
        config = str(stack.settings_path)
        created = ewp(
            "release", "rollout", "create", "--config", config, "--component", "agent",
            "--version", "1.5.0", "--fleet",
            "--plan", str(plan),
        ).stdout  # fmt: skip
        rollout_id = created.split()[1].rstrip(":")
        with stack.api() as api:

            def halted() -> bool:
                return bool(api.get(f"/api/v1/rollouts/{rollout_id}").json()["state"] == "halted")

            wait_until(halted, timeout=60, message="the rollout to halt")
            shown = api.get(f"/api/v1/rollouts/{rollout_id}").json()
            created_user = api.post(
                "/api/v1/users",
                json={"username": "rm", "password": PASSWORD, "role": "release-manager"},
            )
            assert created_user.status_code == 201, created_user.text
        assert "canary" in shown["halt_reason"] and "rolled-back" in shown["halt_reason"]
        states = {s["station_id"]: s["state"] for s in shown["stations"]}
        assert states == {
            "st-01": "rolled-back", "st-02": "skipped", "st-03": "skipped",
            "st-04": "skipped", "st-05": "skipped",
        }  # fmt: skip
        canary = next(s for s in shown["stations"] if s["station_id"] == "st-01")
        assert "fingerprint" in canary["log_tail"]
        assert [p["state"] for p in shown["phases"]] == ["failed", "pending", "pending"]
        for link in links[1:]:
            assert link.received == [], f"{link.station_id} got {link.received}"
        offer = json.loads(links[0].offers[0])
        assert (offer["rollout_id"], offer["target"]) == (rollout_id, "agent/1.5.0/bundle.tar")

        listing = ewp("release", "rollout", "show", rollout_id, "--config", config).stdout
        assert "state: halted" in listing and "halted: phase canary" in listing

        with chromium() as browser, browser.new_context(base_url=stack.url) as context:
            page = context.new_page()
            page.goto(f"/ui/rollouts/{rollout_id}")
            page.fill("#username", "rm")
            page.fill("#password", PASSWORD)
            page.click("#login")
            expect(page.locator("#rollout-state")).to_have_attribute("data-state", "halted")
            expect(page.locator("#halt-reason")).to_contain_text("health check failed")
            expect(page.locator("tr[data-station=st-01] .station-state")).to_have_attribute(
                "data-state", "rolled-back"
            )
            expect(page.locator("tr[data-station=st-03] .station-state")).to_have_text(
                "not offered"
            )
            expect(page.locator("tr[data-phase=canary] .phase-state")).to_have_attribute(
                "data-state", "failed"
            )
            screenshot(page, "rollout-halted")
            # A release manager rolls it back from the page: the canary is offered 1.0.0,
            # which passes its health check there (only 1.5.0 broke the sensor driver).
            links[0].sim.behaviour = UpdateBehaviour.HEALTHY
            page.click("#rollout-rollback")
            expect(page).to_have_url(f"/ui/rollouts/{rollout_id}-rb")
            expect(page.locator("#rollout-summary")).to_contain_text("1.0.0")
        with stack.api() as api:

            def rolled_back() -> bool:
                body = api.get(f"/api/v1/rollouts/{rollout_id}-rb").json()
                return bool(body["state"] == "completed")

            wait_until(rolled_back, timeout=60, message="the rollback to complete")
        last = json.loads(links[0].offers[-1])
        assert (last["version"], last["allow_downgrade"]) == ("1.0.0", True)
        assert last["target"] == "agent/1.0.0/bundle.tar"
    finally:
        for link in links:
            link.close()


def test_a_soak_regression_halts_and_the_dashboard_names_the_measure(
    stack: FleetStack, tmp_path: Path
) -> None:
    """Real time, short soak: the canary runs 1.5.0 and its capture attempts start failing;
    the stations not updated yet keep working as before."""
    links: list[StationLink] = []
    for n in range(1, 4):
        station_id = f"sk-0{n}"
        identity = stack.provision_station(station_id, tmp_path / station_id)
        regression = Regression.FAILURE_RATE if n == 1 else Regression.NONE
        sim = SimulatedStationUpdater(station_id, regression=regression)
        link = StationLink(
            sim,
            stack.settings.broker.host,
            stack.settings.broker.port,
            identity.mqtt.password,
            username=identity.mqtt.username,
        )
        links.append(link.connect())
    plan = {
        "phases": [
            {"name": "canary", "stations": 1, "soak_s": 4},
            {"name": "rest", "rest": True, "soak_s": 0},
        ],
        "soak": {"min_samples": 2},
    }
    try:
        with stack.api() as api:
            created = api.post(
                "/api/v1/rollouts",
                json={"component": "agent", "version": "1.5.0", "selector": {"fleet": True},
                      "plan": plan},
            )  # fmt: skip
            assert created.status_code == 201, created.text
            rollout_id = created.json()["rollout_id"]

            def state() -> str:
                return str(api.get(f"/api/v1/rollouts/{rollout_id}").json()["state"])

            deadline = time.monotonic() + 60
            while state() == "running" and time.monotonic() < deadline:
                for link in links:  # the stations work and send heartbeats
                    link.sim.work(2)
                    link.heartbeat()
                time.sleep(0.4)
            shown = api.get(f"/api/v1/rollouts/{rollout_id}").json()
            api.post(
                "/api/v1/users", json={"username": "rm", "password": PASSWORD, "role": "viewer"}
            )
        assert shown["state"] == "halted", shown
        assert shown["halt_measure"] == "capture_failure_rate"
        assert "soak check failed on capture_failure_rate" in shown["halt_reason"]
        soak = shown["phases"][0]["soak_result"]
        assert soak["baseline"] == "not-updated" and soak["updated_stations"] == 1
        assert all(link.received == [] for link in links[1:])
        with chromium() as browser, browser.new_context(base_url=stack.url) as context:
            page = context.new_page()
            page.goto(f"/ui/rollouts/{rollout_id}")
            page.fill("#username", "rm")
            page.fill("#password", PASSWORD)
            page.click("#login")
            expect(page.locator("#halt-measure")).to_have_attribute(
                "data-measure", "capture_failure_rate"
            )
            expect(page.locator("#halt-measure")).to_contain_text("capture failure rate")
            regressed = page.locator("tr.soak tr[data-measure=capture_failure_rate] .regressed")
            expect(regressed).to_have_count(1)
            expect(page.locator("#rollout-actions")).to_have_count(0)  # a viewer: no buttons
            screenshot(page, "rollout-soak-regression")
    finally:
        for link in links:
            link.close()

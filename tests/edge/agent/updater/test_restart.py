"""After the switch: the new version proves its health or the station goes back on its own,
under a small supervisor that does what systemd does (supervisor.py). Packets pending in the
outbox are all there after every update and rollback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent.outbox import Outbox
from edge.agent.updater.health import outbox_fingerprint
from tests.edge.agent.helpers import make_builder, make_enrolment
from tests.edge.agent.updater.conftest import World, app_files
from tests.edge.agent.updater.supervisor import Supervisor


@pytest.fixture
def broker_port() -> Iterator[int]:
    """Something listening where the station's broker is (the health check connects to it)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "outbox.sqlite"
    builder, _, _ = make_builder()
    with Outbox(path, quota_bytes=10**9, min_free_bytes=0) as box:
        for number in range(1, 6):
            builder.save(box, make_enrolment(number, image_size=2000))
    return path


def _entries(path: Path) -> list[tuple[str, str, str]]:
    with Outbox(path) as box:
        return [(e.packet_id, e.sha256, e.state) for e in box.entries()]


def _start_1_0_0(world: World, outbox: Path, broker_port: int) -> Supervisor:
    """The first start after provisioning."""
    sup = Supervisor(
        world.layout.root, {"EWP_OUTBOX": str(outbox), "EWP_BROKER_PORT": str(broker_port)}
    )
    assert sup.run_until_ready() == ["ready"]
    assert (world.layout.root / "running").read_text() == "1.0.0"
    return sup


def _update(world: World, outbox: Path, version: str) -> None:
    updater = world.updater(trial_state=lambda: {"outbox": outbox_fingerprint(outbox)})
    assert updater.handle(world.offer(version)).restart, world.reports[-1]


def _report(world: World, state: str) -> dict[str, object]:
    found = [r for _, r in world.layout.pending_reports() if r["state"] == state]
    assert found, [r for _, r in world.layout.pending_reports()]
    return found[-1]


@pytest.fixture
def station(world: World, outbox: Path, broker_port: int) -> Iterator[tuple[World, Supervisor]]:
    sup = _start_1_0_0(world, outbox, broker_port)
    yield world, sup
    sup.stop()


def test_a_healthy_version_reports_success_after_its_restart(
    station: tuple[World, Supervisor], outbox: Path
) -> None:
    world, sup = station
    before = _entries(outbox)
    world.publish("1.1.0", files=app_files("1.1.0"))
    _update(world, outbox, "1.1.0")
    sup.stop()
    assert sup.run_until_ready() == ["ready", "ready"]
    assert (world.layout.root / "running").read_text() == "1.1.0"
    assert world.layout.trial() is None
    assert _report(world, "healthy")["version"] == "1.1.0"
    assert _entries(outbox) == before


def test_a_version_failing_its_health_check_is_rolled_back(
    station: tuple[World, Supervisor], outbox: Path
) -> None:
    world, sup = station
    before = _entries(outbox)
    world.publish("1.1.0", files=app_files("1.1.0", port_offset=1))  # its broker is wrong
    _update(world, outbox, "1.1.0")
    sup.stop()
    history = sup.run_until_ready()
    assert history == ["ready", "exit 75", "ready"]
    assert (world.layout.root / "running").read_text() == "1.0.0"
    assert world.layout.installed_version() == "1.0.0"
    report = _report(world, "rolled-back")
    assert "health check failed: broker: ConnectionRefusedError" in str(report["reason"])
    assert "ewp_app 1.1.0 starting" in str(report["log_tail"])
    assert _entries(outbox) == before


def test_a_version_that_never_starts_is_rolled_back(
    station: tuple[World, Supervisor], outbox: Path
) -> None:
    world, sup = station
    before = _entries(outbox)
    world.publish("1.1.0", files=app_files("1.1.0", crash=True))
    _update(world, outbox, "1.1.0")
    sup.stop()
    history = sup.run_until_ready()
    assert history[1:] == ["exit 1", "exit 1", "exit 1", "on-failure", "ready"]
    assert (world.layout.root / "running").read_text() == "1.0.0"
    report = _report(world, "rolled-back")
    assert "did not start" in str(report["reason"])
    assert "ewp_app: cannot start" in str(report["log_tail"])
    assert _entries(outbox) == before


def test_a_version_that_hangs_before_ready_is_rolled_back(
    station: tuple[World, Supervisor], outbox: Path
) -> None:
    world, sup = station
    hang = app_files("1.1.0", crash=False)
    main = hang["ewp_app/__main__.py"].replace(
        b"result = after_start", b"time.sleep(3600)\nresult = after_start"
    )
    world.publish("1.1.0", files={"ewp_app/__main__.py": main})
    _update(world, outbox, "1.1.0")
    sup.stop()
    sup.start_timeout_s = 3.0  # TimeoutStartSec
    history = sup.run_until_ready()
    assert history[1:] == ["timeout", "timeout", "timeout", "on-failure", "ready"]
    assert (world.layout.root / "running").read_text() == "1.0.0"
    assert _report(world, "rolled-back")["version"] == "1.1.0"


SWITCH = """
import json, sys
from pathlib import Path
from edge.agent.updater.download import Downloader
from edge.agent.updater.health import outbox_fingerprint
from edge.agent.updater.layout import Layout
from edge.agent.updater.station import StationUpdater
from edge.agent.updater.tuf_client import TrustedRepository
from protocol.updates import UpdateOffer

args = json.loads(sys.argv[1])
layout = Layout(Path(args["root"]))
url = args["url"]
updater = StationUpdater(
    station_id="st-0001",
    layout=layout,
    repository=lambda: TrustedRepository(layout.tuf_dir, url + "/metadata/", url + "/targets/"),
    downloader=Downloader(),
    report=lambda status: None,
    trial_state=lambda: {"outbox": outbox_fingerprint(Path(args["outbox"]))},
    reserve_bytes=0,
)
updater.handle(UpdateOffer.model_validate_json(args["offer"]))
"""


@pytest.mark.parametrize("step", ["after-state", "after-previous", "after-current"])
def test_a_station_killed_in_the_middle_of_the_switch_comes_back_on_a_working_version(
    station: tuple[World, Supervisor], outbox: Path, step: str
) -> None:
    world, sup = station
    before = _entries(outbox)
    world.publish("1.1.0", files=app_files("1.1.0"))
    sup.stop()
    args = {
        "root": str(world.layout.root),
        "url": world.server.url,
        "outbox": str(outbox),
        "offer": world.offer("1.1.0").model_dump_json(),
    }
    killed = subprocess.run(
        [sys.executable, "-c", SWITCH, json.dumps(args)],
        env=os.environ | {"EWP_UPDATE_FAULT": step},
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    history = sup.run_until_ready()
    assert history[-1] == "ready" and history[1:] == ["ready"]
    running = (world.layout.root / "running").read_text()
    if step == "after-current":  # the switch was done: the new version is on trial, and passes
        assert running == "1.1.0"
        assert _report(world, "healthy")["version"] == "1.1.0"
    else:  # the switch had not happened: the old version runs, the attempt is reported
        assert running == "1.0.0"
        assert "interrupted" in str(_report(world, "failed")["reason"])
    assert world.layout.trial() is None
    assert _entries(outbox) == before

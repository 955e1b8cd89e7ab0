"""The agent with its station controller board: the real firmware in MicroPython, on a pty.

Climate and GPS reach the fleet in the heartbeat; the panel follows the capture; opening the
enclosure locks the station (also across a power cycle) until the fleet clears it with the
board's secret; a hung agent is flagged by the board's watchdog and reported.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from edge.agent.errors import AgentError
from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from ewp.local_fleet import FleetStack, wait_until
from fleet.commands import clear_tamper
from fleet.errors import FleetError
from fleet.store.models import Station, StationEventRow
from simulators.controller import ControllerBoard
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator

pytestmark = pytest.mark.timeout(240)

# $GPRMC for 13.7563 N, 100.5018 E (Bangkok), with its checksum.
RMC_BODY = "GPRMC,083000,A,1345.378,N,10030.108,E,0.0,0.0,251126,,"


def nmea(body: str) -> str:
    checksum = 0
    for ch in body:
        checksum ^= ord(ch)
    return f"${body}*{checksum:02X}"


class Rig:
    def __init__(
        self, stack: FleetStack, agent: StationAgent, board: ControllerBoard, secret: bytes
    ) -> None:
        self.stack, self.agent, self.board, self.secret = stack, agent, board, secret

    def events(self, kind: str) -> list[dict[str, object]]:
        assert self.stack.context is not None
        with self.stack.context.sessions() as session:
            rows = session.scalars(
                select(StationEventRow).where(StationEventRow.kind == kind)
            ).all()
            return [json.loads(r.detail) for r in rows]

    def heartbeat(self) -> dict[str, object]:
        assert self.stack.context is not None
        with self.stack.context.sessions() as session:
            station = session.get(Station, "ct-40")
            assert station is not None
            return json.loads(station.last_heartbeat or "{}")


@pytest.fixture
def rig(fleet_stack: FleetStack, tmp_path: Path) -> Iterator[Rig]:
    secret = os.urandom(32)
    board = ControllerBoard(tmp_path / "flash", secret=secret, gps=True, seed=1, baudrate=0)
    board.start()
    endpoint = board.serve(pty=True)
    fleet_stack.provision_station("ct-40", tmp_path / "st")
    with start_fingerprint_simulator(SensorConfig(mode="auto", seed=2)) as sensor:
        settings = AgentSettings.model_validate({
            "station": {"data_dir": tmp_path / "st"},
            "sensors": {"fingerprint": {"port": sensor.url, "timeout_s": 1.0}},
            "controller": {"port": endpoint.url, "baudrate": 115200, "reading_interval_s": 1,
                           "ping_interval_s": 0.5, "host_timeout_s": 3},
            "uplink": {"heartbeat_interval_s": 1},
            "capture": {"fingers": ["right-index"], "eyes": [], "finger_timeout_s": 5},
            "autopilot": {"enabled": True, "enrolments": 1, "interval_s": 0},
        })  # fmt: skip
        agent = StationAgent(settings, software_version="test")
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,))
        thread.start()
        try:
            wait_until(
                lambda: agent.controller is not None and agent.controller.connected,
                timeout=30,
                message="controller connected",
            )
            yield Rig(fleet_stack, agent, board, secret)
        finally:
            stop.set()
            thread.join(30)
            endpoint.stop()
            board.stop()


def test_climate_gps_and_panel(rig: Rig) -> None:
    rig.board.set_environment(temperature=41.5, humidity=70.0, battery=12.1)
    rig.board.send_gps(nmea(RMC_BODY))

    def environment() -> dict[str, object]:
        return dict(rig.heartbeat().get("environment") or {})

    wait_until(
        lambda: (
            abs(float(environment().get("temperature_c") or 0) - 41.5) < 0.1
            and environment().get("latitude") is not None
        ),
        timeout=30,
        message="climate and position in the heartbeat",
    )
    env = environment()
    assert env["controller"] == "ok"
    assert abs(float(env["humidity_pct"]) - 70.0) < 0.1  # type: ignore[arg-type]
    assert abs(float(env["latitude"]) - 13.7563) < 1e-3  # type: ignore[arg-type]
    assert abs(float(env["longitude"]) - 100.5018) < 1e-3  # type: ignore[arg-type]
    # The autopilot's enrolment went through: a good capture beeped, the panel is back to
    # ready (green) and the link LED is green.
    wait_until(
        lambda: rig.agent.uplink is not None and rig.agent.uplink.stats.receipts >= 1,
        timeout=60,
        message="the enrolment's receipt",
    )
    wait_until(
        lambda: rig.board.panel().leds[:2] == [(0, 180, 0), (0, 180, 0)],
        message="panel ready and online",
    )
    assert rig.board.panel().beeps >= 1


def test_tamper_locks_until_the_fleet_clears_it_even_across_a_power_cycle(rig: Rig) -> None:
    controller = rig.agent.controller
    assert controller is not None
    rig.board.open_tamper()
    wait_until(lambda: controller.locked, message="station locked")
    wait_until(lambda: rig.events("tamper"), message="tamper event at the fleet")
    with pytest.raises(AgentError, match="locked because its enclosure was opened"):
        rig.agent.enrol(None, None)  # type: ignore[arg-type]
    wait_until(lambda: rig.board.panel().leds[0] == (255, 0, 0), message="panel shows locked")
    rig.board.close_tamper()
    boots = rig.board.boots
    rig.board.power_cycle()
    rig.board.wait_for_boot(boots + 1, timeout=30)
    wait_until(lambda: controller.connected, timeout=30, message="reconnected after power cycle")
    assert controller.locked, "the latch survives a power cycle"
    wait_until(lambda: rig.events("controller-restarted"), message="the restart reported")
    assert controller.locked, "the latch survives a power cycle"
    wait_until(
        lambda: rig.heartbeat()["environment"]["tamper_latched"] is True,  # type: ignore[index]
        message="the heartbeat says latched",
    )
    context = rig.stack.context
    assert context is not None
    with pytest.raises(FleetError, match="refused the tamper clear"):
        clear_tamper(context.sessions, context.publisher(), "ct-40", os.urandom(32), actor="test")
    assert controller.locked, "a wrong secret clears nothing"
    result = clear_tamper(context.sessions, context.publisher(), "ct-40", rig.secret, actor="test")
    assert result["cleared"] is True
    wait_until(lambda: not controller.locked, message="unlocked")
    wait_until(lambda: rig.events("tamper-cleared"), message="tamper-cleared event")


def test_a_hung_agent_is_flagged_by_the_board(rig: Rig) -> None:
    controller = rig.agent.controller
    assert controller is not None
    controller.pause_pings(True)
    assert controller.flagged_hung.wait(15), "the board flags an agent that stopped talking"
    controller.pause_pings(False)
    wait_until(
        lambda: rig.events("agent-watchdog"), timeout=30, message="the watchdog event at the fleet"
    )

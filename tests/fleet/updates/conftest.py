"""A rollout rig: real Mosquitto (auth and per-station ACLs), the fleet store (SQLite and
PostgreSQL), a real ingest worker consuming ``update-status`` and heartbeats, the rollout
engine publishing through the fleet's publisher, and simulated stations logged in with their
own credentials. Time is a fake clock the test moves; the engine ticks when the test says."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fleet.broker.dynsec import DynsecAdmin
from fleet.broker.publisher import FleetPublisher
from fleet.ingest import BrokerLogin, IngestWorker
from fleet.store.db import read_only_engine, session_factory
from fleet.store.ops_models import HealthSample
from fleet.store.rollout_models import Rollout, RolloutStation
from fleet.updates import rollouts
from fleet.updates.engine import RolloutEngine
from fleet.updates.plan import RolloutPlan, RolloutSettings, Selector
from fleet.updates.release import ReleaseRef
from fleet.updates.status_ingest import record_update_status
from simulators.station_updates import Regression, SimulatedStationUpdater, UpdateBehaviour
from tests.conftest import Broker
from tests.fleet.conftest import OpsRig, make_rig
from tests.fleet.updates.station_links import StationLink, wait_for

RELEASE = ReleaseRef("agent", "1.5.0", "agent/ewp-agent-1.5.0.tar")


@dataclass
class RolloutRig:
    ops: OpsRig
    broker: Broker
    engine: RolloutEngine
    publisher: FleetPublisher
    admin: DynsecAdmin
    links: dict[str, StationLink] = field(default_factory=dict)
    reports: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.ops.clock

    def station(
        self,
        station_id: str,
        *,
        kind: str = "center",
        behaviour: UpdateBehaviour = UpdateBehaviour.HEALTHY,
        regression: Regression = Regression.NONE,
        online: bool = True,
    ) -> StationLink:
        self.ops.station(station_id, kind=kind)
        password = secrets.token_urlsafe(18)
        self.admin.create_station(station_id, password)
        sim = SimulatedStationUpdater(station_id, behaviour=behaviour, regression=regression)
        link = StationLink(sim, self.broker.host, self.broker.port, password)
        self.links[station_id] = link
        if online:
            link.connect()
        return link

    def create(self, plan: RolloutPlan, selector: Selector | None = None, **kw: object) -> str:
        with self.ops.sessions() as session:
            rollout = rollouts.create(
                session,
                release=RELEASE,
                selector=selector or Selector(fleet=True),
                plan=plan,
                actor="tester",
                now=self.clock(),
                **kw,  # type: ignore[arg-type]
            )
            session.commit()
            return rollout.rollout_id

    def rollout(self, rollout_id: str) -> Rollout:
        with self.ops.sessions() as session:
            found = session.get(Rollout, rollout_id)
            assert found is not None
            session.expunge(found)
            return found

    def states(self, rollout_id: str) -> dict[str, str]:
        with self.ops.sessions() as session:
            return dict(
                session.execute(
                    select(RolloutStation.station_id, RolloutStation.state).where(
                        RolloutStation.rollout_id == rollout_id
                    )
                ).all()
            )

    def tick_until(self, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        def ticked() -> bool:
            self.engine.tick()
            return condition()

        wait_for(ticked, timeout, what)

    def heartbeats(self, *station_ids: str) -> None:
        """Each station sends a heartbeat; returns once the fleet has stored them all."""
        with self.ops.sessions() as session:
            before = session.scalar(select(func.count()).select_from(HealthSample)) or 0
        for station_id in station_ids:
            self.links[station_id].heartbeat()

        def stored() -> bool:
            with self.ops.sessions() as session:
                count = session.scalar(select(func.count()).select_from(HealthSample)) or 0
            return count >= before + len(station_ids)

        wait_for(stored, 20, "heartbeats stored")


def _status_recorder(rig: RolloutRig) -> Callable[[str, bytes], None]:
    ops = rig.ops

    def on_status(station_id: str, payload: bytes) -> None:
        with ops.sessions() as session:
            record_update_status(session, station_id, payload, now=ops.clock())
            session.commit()
        rig.reports += 1

    return on_status


@pytest.fixture
def rollout_rig(tmp_path: Path, database_url: str, broker: Broker) -> Iterator[RolloutRig]:
    rigs = make_rig(tmp_path, database_url)
    ops = next(rigs)
    a = broker.accounts
    admin = DynsecAdmin(broker.address, a.admin_username, a.admin_password).connect()
    publisher = FleetPublisher(broker.address, a.service_username, a.service_password).connect()
    engine = RolloutEngine(
        ops.sessions,
        RolloutSettings(tick_interval_s=0.1),
        clock=ops.clock,
        publisher=lambda: publisher,
        read_sessions=session_factory(read_only_engine(ops.sessions.kw["bind"])),
    )
    rig = RolloutRig(ops, broker, engine, publisher, admin)
    ops.ingest.on_update_status = _status_recorder(rig)
    login = BrokerLogin(broker.host, broker.port, a.service_username, a.service_password)
    worker = IngestWorker(ops.ingest, login, client_id=f"ewp-ingest-{secrets.token_hex(3)}")
    thread = threading.Thread(target=worker.run, args=(rig._stop,), daemon=True)
    thread.start()
    assert worker.connected.wait(10), "the ingest worker did not subscribe"
    try:
        yield rig
    finally:
        rig._stop.set()
        thread.join(5)
        for link in rig.links.values():
            link.close()
        publisher.close()
        admin.close()
        rigs.close()

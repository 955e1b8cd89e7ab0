"""Time for a rollout to reach 48 simulated stations through three phases.

Setup: Mosquitto (auth and per-station ACLs on), the fleet store (SQLite), ``STATIONS``
simulated stations, each a broker client with its own credentials whose update side
(simulators/station_updates.py) answers an offer with the six reports a real updater sends
(offered, downloading, downloaded, installing, restarting, healthy).

Ours: the fleet's rollout engine (its thread, woken by reports, ``tick_interval_s`` 5 s as
deployed) and a real ingest worker recording the reports: ``rollouts.create`` with phases canary
(1 station), 10 % and the rest, no soak, until the rollout is ``completed`` — every station
healthy, every decision in the audit log, every retained offer cleared.

Baseline, same broker and stations, no rollout logic: the same offers published by the same
fleet publisher in three waves of the same sizes, each wave once every station of the previous
one reported ``healthy``, the reports read by a plain subscriber of the fleet's login (no
database), then the same retained offers cleared. It is what the message exchange itself costs
on this machine; the ratio is what phases decided from a database add.

Ratio = our time / the baseline's (lower is better; medians of ``EWP_BENCH_ROUNDS`` runs each).
``EWP_BENCH_STATIONS`` (48).
"""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from bench.report import Figure, report
from fleet.broker.dynsec import DynsecAdmin
from fleet.broker.mosquitto import BrokerAccounts, MosquittoProcess, free_port, write_broker_config
from fleet.broker.publisher import FleetPublisher
from fleet.ingest import BrokerLogin, Ingest, IngestWorker
from fleet.packet_files import PacketFiles
from fleet.store.db import make_engine, migrate, read_only_engine, session_factory
from fleet.store.models import AuditEntry, Station, utcnow
from fleet.store.rollout_models import Rollout
from fleet.updates import rollouts
from fleet.updates.engine import RolloutEngine
from fleet.updates.plan import PhasePlan, RolloutPlan, RolloutSettings, Selector, assign_phases
from fleet.updates.release import ReleaseRef
from fleet.updates.status_ingest import record_update_status
from mqtt_session import BrokerAddress
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.keys import CentralPrivateKey
from protocol.updates import UpdateOffer
from simulators.station_updates import SimulatedStationUpdater
from tests.fleet.updates.station_links import StationLink, wait_for

STATIONS = int(os.environ.get("EWP_BENCH_STATIONS", "48"))
ROUNDS = int(os.environ.get("EWP_BENCH_ROUNDS", "3"))
PLAN = RolloutPlan(
    phases=[
        PhasePlan(name="canary", stations=1, soak_s=0),
        PhasePlan(name="early", percent=10, soak_s=0),
        PhasePlan(name="rest", rest=True, soak_s=0),
    ]
)


class StatusCounter:
    """The baseline's fleet side: a subscriber of every station's ``update-status``."""

    def __init__(self, host: str, port: int, accounts: BrokerAccounts) -> None:
        self.healthy: set[tuple[str, str]] = set()
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-baseline", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(accounts.service_username, accounts.service_password)
        self.client.on_connect = lambda c, *a: c.subscribe(
            topics.UPDATE_STATUS.filter_all_stations(), qos=1
        )
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert ready.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if b'"healthy"' in msg.payload:
            station_id, _ = topics.parse_station_topic(msg.topic)
            rollout_id = msg.payload.split(b'"rollout_id": "')[1].split(b'"')[0].decode()
            with self.lock:
                self.healthy.add((rollout_id, station_id))

    def count(self, rollout_id: str, station_ids: list[str]) -> int:
        with self.lock:
            return sum(1 for s in station_ids if (rollout_id, s) in self.healthy)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def baseline_run(
    publisher: FleetPublisher, counter: StatusCounter, ids: list[str], version: str
) -> float:
    rollout_id = f"base-{secrets.token_hex(4)}"
    phases = assign_phases(PLAN, ids)
    started = time.perf_counter()
    for index in range(len(PLAN.phases)):
        wave = [s for s in ids if phases[s] == index]
        for station_id in wave:
            offer = UpdateOffer.model_validate(
                {"rollout_id": rollout_id, "component": "agent", "version": version,
                 "target": f"agent/{version}/bundle.tar", "issued_at": utc_timestamp()}
            )  # fmt: skip
            publisher.publish(
                topics.UPDATE.for_station(station_id), offer.to_payload(), qos=1, retain=True
            )
        wait_for(lambda wave=wave: counter.count(rollout_id, wave) == len(wave), 120, "a wave")
        for station_id in wave:
            publisher.publish(topics.UPDATE.for_station(station_id), b"", qos=1, retain=True)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ewp-bench-rollout-") as tmp:
        run(Path(tmp))


def run(root: Path) -> None:
    accounts = BrokerAccounts(
        admin_username="ewp-broker-admin",
        admin_password=secrets.token_urlsafe(24),
        service_username="ewp-fleet",
        service_password=secrets.token_urlsafe(24),
    )
    host, port = "127.0.0.1", free_port()
    broker = MosquittoProcess(
        write_broker_config(root / "broker", host=host, port=port, accounts=accounts), host, port
    )
    broker.start()
    engine = make_engine(f"sqlite:///{root / 'fleet.sqlite'}")
    migrate(engine)
    sessions = session_factory(engine)
    links: list[StationLink] = []
    stop = threading.Event()
    address = BrokerAddress(host, port)
    publisher = FleetPublisher(
        address, accounts.service_username, accounts.service_password
    ).connect()
    try:
        ids = [f"st-{n:02d}" for n in range(STATIONS)]
        with DynsecAdmin(address, accounts.admin_username, accounts.admin_password) as admin:
            with sessions() as session:
                for station_id in ids:
                    session.add(
                        Station(station_id=station_id, name=station_id, kind="center",
                                state="active", online=True)
                    )  # fmt: skip
                session.commit()
            for station_id in ids:
                password = secrets.token_urlsafe(18)
                admin.create_station(station_id, password)
                sim = SimulatedStationUpdater(station_id)
                links.append(StationLink(sim, host, port, password).connect())
        counter = StatusCounter(host, port, accounts)
        versions = iter(f"1.{n}.0" for n in range(1, 100))
        base_times = [baseline_run(publisher, counter, ids, next(versions)) for _ in range(ROUNDS)]
        counter.close()

        rollout_engine = RolloutEngine(
            sessions,
            RolloutSettings(),
            clock=utcnow,
            publisher=lambda: publisher,
            read_sessions=session_factory(read_only_engine(engine)),
        )
        ingest = Ingest(
            sessions,
            PacketFiles(root / "packets"),
            central_keys=[CentralPrivateKey.generate("X25519").public_key()],  # no packets here
        )

        def on_status(station_id: str, payload: bytes) -> None:
            with sessions() as session:
                row = record_update_status(session, station_id, payload, now=utcnow())
                session.commit()
            if row is not None and row.offer == "cleared":  # as the fleet context does
                rollout_engine.wake()

        ingest.on_update_status = on_status
        login = BrokerLogin(host, port, accounts.service_username, accounts.service_password)
        worker = IngestWorker(ingest, login, client_id="ewp-ingest-bench")
        threading.Thread(target=worker.run, args=(stop,), daemon=True).start()
        assert worker.connected.wait(10)
        threading.Thread(target=rollout_engine.run, args=(stop,), daemon=True).start()
        our_times = []
        for _ in range(ROUNDS):
            version = next(versions)
            started = time.perf_counter()
            with sessions() as session:
                rollout_id = rollouts.create(
                    session,
                    release=ReleaseRef("agent", version, f"agent/{version}/bundle.tar"),
                    selector=Selector(fleet=True),
                    plan=PLAN,
                    actor="bench",
                    now=utcnow(),
                ).rollout_id
                session.commit()
            rollout_engine.wake()

            def completed(rollout_id: str = rollout_id) -> bool:
                with sessions() as session:
                    return session.get(Rollout, rollout_id).state == "completed"  # type: ignore[union-attr]

            wait_for(completed, 300, "the rollout to complete")
            our_times.append(time.perf_counter() - started)
        with sessions() as session:
            audited = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    finally:
        stop.set()
        for link in links:
            link.close()
        publisher.close()
        engine.dispose()
        broker.stop()
    ours, base = statistics.median(our_times), statistics.median(base_times)
    report(
        Figure(
            name=f"rollout to {STATIONS} stations through three phases",
            ratio=ours / base,
            target="",
            ours=f"{ours:.2f} s (median of {ROUNDS}: {', '.join(f'{t:.2f}' for t in our_times)})",
            baseline=f"{base:.2f} s, the same offers and reports in three waves, no rollout "
            f"logic (median of {ROUNDS}: {', '.join(f'{t:.2f}' for t in base_times)})",
            extra={
                "status reports per run": STATIONS * 6,
                "audit entries written (all runs)": audited,
            },
        )
    )


if __name__ == "__main__":
    main()

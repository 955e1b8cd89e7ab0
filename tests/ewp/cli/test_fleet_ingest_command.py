"""`ewp fleet init --database-url` and `ewp fleet ingest --name / --retire`, as real processes
against a real Mosquitto and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import tomllib
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select

from ewp.local_fleet import FleetStack, wait_until
from fleet.errors import FleetError
from fleet.ingest import BrokerLogin
from fleet.service import ingest_client_ids
from fleet.store.db import make_engine, session_factory
from fleet.store.models import Station
from protocol.keys import CentralPrivateKey
from tests.ewp.cli.test_fleet_and_central_commands import EWP, ewp


def test_ingest_process_names_make_distinct_stable_client_ids() -> None:
    assert ingest_client_ids(2) == ["ewp-ingest-0", "ewp-ingest-1"]
    assert ingest_client_ids(2, "fleet-b") == ["ewp-ingest-fleet-b-0", "ewp-ingest-fleet-b-1"]
    for bad in ("", "Fleet_B", "-b", "a" * 41, "b/c", "b+"):
        with pytest.raises(FleetError, match="ingest process name"):
            ingest_client_ids(1, bad)


def test_a_bad_ingest_name_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = ewp(
        "fleet", "ingest", "--config", str(tmp_path / "absent.toml"), "--name", "Ingest_1",
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "ingest process name 'Ingest_1'" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_writes_the_store_url_and_the_commands_use_that_store(
    tmp_path: Path, database_url: str
) -> None:
    CentralPrivateKey.generate().public_key().save(tmp_path / "central.pub")
    config = tmp_path / "fleet.toml"
    ewp(
        "fleet", "init", "--data-dir", str(tmp_path / "fleet"),
        "--central-public-key", str(tmp_path / "central.pub"), "--out", str(config),
        "--database-url", database_url,
    )  # fmt: skip
    assert tomllib.loads(config.read_text())["service"]["database_url"] == database_url
    ewp("fleet", "station", "add", "ct-41", "--kind", "center", "--config", str(config))
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            stations = session.scalars(select(Station.station_id)).all()
    finally:
        engine.dispose()
    assert stations == ["ct-41"]
    assert not (tmp_path / "fleet" / "fleet.sqlite").exists(), "not the default store"


def test_init_refuses_a_password_in_the_store_url(tmp_path: Path) -> None:
    CentralPrivateKey.generate().public_key().save(tmp_path / "central.pub")
    result = ewp(
        "fleet", "init", "--data-dir", str(tmp_path / "fleet"),
        "--central-public-key", str(tmp_path / "central.pub"), "--out", str(tmp_path / "f.toml"),
        "--database-url", "postgresql+psycopg://ewp:hunter2@db.example/ewp",
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "password out of the settings file" in result.stderr and "pgpass" in result.stderr
    assert not (tmp_path / "f.toml").exists()


def session_present(login: BrokerLogin, client_id: str) -> bool:
    """Log in as ``client_id`` resuming its session (and keeping it): did the broker have one?"""
    flags: list[bool] = []
    answered = threading.Event()

    def on_connect(
        client: mqtt.Client,
        userdata: object,
        connect_flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        flags.append(connect_flags.session_present)
        answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(login.username, login.password)
    client.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect(login.host, login.port, clean_start=False, properties=props)
    client.loop_start()
    try:
        assert answered.wait(10), "broker did not answer"
    finally:
        client.disconnect()
        client.loop_stop()
    return flags[0]


def test_retire_ends_the_sessions_a_stopped_ingest_process_left_at_the_broker(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    config = str(fleet_stack.settings_path)
    log = tmp_path / "ingest.log"
    process = subprocess.Popen(
        [EWP, "fleet", "ingest", "--config", config, "--name", "edge-b", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        wait_until(
            lambda: log.read_text().count("subscribed") == 2,
            timeout=60,
            message="both workers subscribed",
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    login = fleet_stack.service_login
    # Stopped, not retired: the broker keeps both sessions (and would queue their share).
    assert session_present(login, "ewp-ingest-edge-b-1")
    started = time.monotonic()
    retired = ewp(
        "fleet", "ingest", "--config", config, "--name", "edge-b", "--workers", "2", "--retire"
    )
    assert time.monotonic() - started < 60
    assert "ewp-ingest-edge-b-0, ewp-ingest-edge-b-1" in retired.stdout
    assert not session_present(login, "ewp-ingest-edge-b-0")
    assert not session_present(login, "ewp-ingest-edge-b-1")

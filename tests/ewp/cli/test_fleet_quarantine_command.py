"""`ewp fleet quarantine list` as a real process, on a fleet store where ingest quarantined
real poison messages (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from contextlib import contextmanager
from pathlib import Path

from tests.ewp.cli.test_fleet_and_central_commands import EWP
from tests.fleet.api.test_quarantine_api import OTHER, quarantine_three
from tests.fleet.conftest import make_rig
from tests.fleet.ops_helpers import CENTRAL
from tests.fleet.test_ingest_dispatch import GOOD, HOSTILE, poison_the_store

rig_of = contextmanager(make_rig)


def write_config(tmp_path: Path, database_url: str) -> Path:
    """The settings file of the fleet whose store is ``database_url`` (secrets in files)."""
    for name in ("admin-token", "broker-admin", "broker-service"):
        (tmp_path / name).write_text(f"{name}-secret-0123456789abcdef\n")
    CENTRAL.public_key().save(tmp_path / "central.pub")
    config = tmp_path / "fleet.toml"
    config.write_text(
        f"""[service]
data_dir = "{tmp_path / "fleet"}"
database_url = "{database_url}"
admin_token = {{ file = "{tmp_path / "admin-token"}" }}
[broker]
admin_password = {{ file = "{tmp_path / "broker-admin"}" }}
service_password = {{ file = "{tmp_path / "broker-service"}" }}
[central]
public_key_file = "{tmp_path / "central.pub"}"
"""
    )
    return config


def quarantine_list(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EWP, "fleet", "quarantine", "list", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_quarantine_list(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    with rig_of(tmp_path, database_url) as rig:
        for station in (HOSTILE, GOOD, OTHER):
            rig.station(station)
        empty = quarantine_list(config)
        assert empty.returncode == 0, empty.stderr
        assert empty.stdout == "no quarantined messages\n"
        poison_the_store(rig.sessions)
        payload = quarantine_three(rig.ingest)
    listed = quarantine_list(config, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["station_id"] for r in rows] == [HOSTILE, OTHER, HOSTILE]
    assert rows[0]["sha256"] == hashlib.sha256(payload).hexdigest()
    assert rows[0]["size"] == len(payload)
    assert "\\x3cb\\x3e\\xe2\\x80\\xae" in rows[0]["preview"]
    only = quarantine_list(config, "--json", "--station", OTHER, "--limit", "5")
    assert [json.loads(line)["id"] for line in only.stdout.splitlines()] == [rows[1]["id"]]
    newest = quarantine_list(config, "--json", "--limit", "1")
    assert [json.loads(line)["id"] for line in newest.stdout.splitlines()] == [rows[0]["id"]]
    human = quarantine_list(config)
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith(f"#{rows[0]['id']} ")
    assert f"payload: {len(payload)} bytes sha256 {rows[0]['sha256']}" in human.stdout
    assert human.stdout.isascii() and "<" not in human.stdout and "\x1b" not in human.stdout
    refused = quarantine_list(config, "--limit", "0")
    assert refused.returncode == 2

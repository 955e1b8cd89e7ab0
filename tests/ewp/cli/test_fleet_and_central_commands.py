"""`ewp central`, `ewp fleet` and `ewp agent queue` as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, wait_until
from tests.edge.agent.helpers import make_enrolment
from tests.edge.agent.uplink.link import builder_for, running_uplink

EWP = str(Path(sys.executable).with_name("ewp"))


def ewp(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([EWP, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_keygen_init_add_list(tmp_path: Path) -> None:
    key = json.loads(ewp("central", "keygen", "--out", str(tmp_path / "central")).stdout)
    assert key["kem"] == "MLKEM768_X25519"
    assert (tmp_path / "central" / "central.key").stat().st_mode & 0o777 == 0o600
    again = ewp("central", "keygen", "--out", str(tmp_path / "central"), check=False)
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr
    config = tmp_path / "fleet.toml"
    ewp(
        "fleet",
        "init",
        "--data-dir",
        str(tmp_path / "fleet"),
        "--central-public-key",
        str(tmp_path / "central" / "central.pub"),
        "--out",
        str(config),
        "--ingest-workers",
        "3",
    )
    assert (tmp_path / "fleet" / "secrets" / "admin-token").stat().st_mode & 0o777 == 0o600
    assert tomllib.loads(config.read_text())["ingest"]["workers"] == 3
    added = ewp("fleet", "station", "add", "mu-07", "--kind", "mobile", "--config", str(config))
    token = added.stdout.strip()
    assert len(token) >= 30 and f"--token {token}" in added.stderr
    duplicate = ewp(
        "fleet", "station", "add", "mu-07", "--kind", "mobile", "--config", str(config), check=False
    )
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    bad = ewp(
        "fleet", "station", "add", "MU_7", "--kind", "mobile", "--config", str(config), check=False
    )
    assert bad.returncode == 2 and "station id" in bad.stderr
    listed = json.loads(ewp("fleet", "station", "list", "--config", str(config)).stdout)
    assert [(s["station_id"], s["state"]) for s in listed] == [("mu-07", "awaiting_claim")]


def test_a_typo_in_settings_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "agent.toml").write_text('[station]\ndata_dir = "/tmp/x"\ndatadir = 1\n')
    result = ewp("agent", "queue", "--config", str(tmp_path / "agent.toml"), check=False)
    assert result.returncode == 2
    assert "station.datadir: unknown setting" in result.stderr
    assert "Traceback" not in result.stderr


def test_central_opens_what_the_fleet_stored_and_queue_shows_nothing_waiting(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    identity = fleet_stack.provision_station("ct-31", tmp_path / "st")
    outbox_path = tmp_path / "st" / "outbox.sqlite"
    with Outbox(outbox_path, min_free_bytes=0) as outbox:
        for n in (1, 2, 3):
            builder_for(identity).save(outbox, make_enrolment(n))
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[station]\ndata_dir = "{tmp_path / "st"}"\n'
            '[sensors.fingerprint]\nport = "socket://127.0.0.1:9"\n'
        )
        waiting = json.loads(ewp("agent", "queue", "--config", str(config), "--json").stdout)
        assert [w["seq"] for w in waiting["waiting"]] == [1, 2, 3]
        for row in waiting["waiting"]:
            sealed_size = outbox.load(row["packet_id"]).header.sealed_size
            assert row["chunks"] == -(-sealed_size // (64 * 1024)) and row["chunks_sent"] == 0
        with running_uplink(identity, outbox_path):
            wait_until(lambda: outbox.stats().acked == 3, message="receipts")
    waiting = json.loads(ewp("agent", "queue", "--config", str(config), "--json").stdout)
    assert waiting["waiting"] == [] and waiting["acked"] == 3
    fleet_stack.central.save(tmp_path / "central.key")
    opened = ewp(
        "central",
        "open",
        "--key",
        str(tmp_path / "central.key"),
        "--config",
        str(fleet_stack.settings_path),
        "--out",
        str(tmp_path / "opened"),
        "--nist",
        str(tmp_path / "nist"),
    )
    lines = [json.loads(line) for line in opened.stdout.splitlines()]
    assert lines[-1] == {"opened": 3, "failed": 0}
    assert all(line["ok"] and line["signature"] == "verified" for line in lines[:-1])
    assert len(list((tmp_path / "opened").rglob("manifest.json"))) == 3
    transactions = list((tmp_path / "nist").glob("*.an2"))
    assert len(transactions) == 3 and transactions[0].read_bytes().startswith(b"1.001:")
    # A damaged file is reported, not skipped.
    packet_file = next(fleet_stack.settings.packet_dir.rglob("*.ewp"))
    data = bytearray(packet_file.read_bytes())
    data[-10] ^= 1
    (tmp_path / "bad.ewp").write_bytes(bytes(data))
    failed = ewp(
        "central",
        "open",
        "--key",
        str(tmp_path / "central.key"),
        "--file",
        str(tmp_path / "bad.ewp"),
        check=False,
    )
    assert failed.returncode == 1
    assert json.loads(failed.stdout.splitlines()[-1]) == {"opened": 0, "failed": 1}

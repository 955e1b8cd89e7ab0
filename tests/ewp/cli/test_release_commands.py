"""`ewp release`: keys with an offline root signing step, real agent and firmware bundles,
publishing into the repository, the catalog."""

from __future__ import annotations

import json
import os
import stat
import tarfile
from pathlib import Path

from fleet.updates.catalog import list_releases
from tests.ewp.cli.sim_processes import ewp


def _ok(*args: str, timeout: float = 120) -> str:
    proc = ewp(*args, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_keys_build_publish_and_list(tmp_path: Path) -> None:
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    out = _ok("release", "keys", "init", "--keys", str(keys), "--repo", str(repo))
    assert "waits for 2 signatures" in out
    assert stat.S_IMODE(os.stat(keys / "root-1.pem").st_mode) == 0o600
    assert not (repo / "metadata" / "root.json").exists()  # nothing trusted before signing
    refused = ewp(
        "release", "publish", str(tmp_path / "x.tar"), "--repo", str(repo), "--keys", str(keys)
    )
    assert refused.returncode == 2 and "sign-root" in refused.stderr

    first = _ok(
        "release", "keys", "sign-root", "--repo", str(repo), "--key", str(keys / "root-2.pem")
    )
    assert "1 of 2 needed: pending" in first
    second = _ok(
        "release", "keys", "sign-root", "--repo", str(repo), "--key", str(keys / "root-3.pem")
    )
    assert "2 of 2 needed: published" in second
    assert (repo / "metadata" / "1.root.json").exists()

    firmware = tmp_path / "firmware.tar"
    from ewp.firmware_bundle import firmware_version

    fw_version = firmware_version()
    _ok(
        "release",
        "build",
        "firmware",
        "--version",
        fw_version,
        "--out",
        str(firmware),
        "--changelog",
        "controller firmware",
    )
    with tarfile.open(firmware) as tar:
        names = tar.getnames()
    assert names[0] == "release.json"
    assert "firmware/main.py" in names and "firmware/firmware.json" in names
    assert any(n.endswith(".mpy") for n in names)

    agent = tmp_path / "agent.tar"
    _ok(
        "release",
        "build",
        "agent",
        "--version",
        "2.0.0",
        "--out",
        str(agent),
        "--min-upgrade-from",
        "1.0.0",
        timeout=300,
    )
    with tarfile.open(agent) as tar:
        assert any(n.startswith("wheels/ewp-") and n.endswith(".whl") for n in tar.getnames())

    for bundle in (firmware, agent):
        assert "published" in _ok(
            "release", "publish", str(bundle), "--repo", str(repo), "--keys", str(keys)
        )
    listing = _ok("release", "list", "--repo", str(repo))
    assert "agent    2.0.0" in listing and "upgrades from 1.0.0" in listing
    kinds = {(r.kind, r.version) for r in list_releases(repo)}
    assert kinds == {("agent", "2.0.0"), ("firmware", fw_version)}
    again = ewp("release", "publish", str(agent), "--repo", str(repo), "--keys", str(keys))
    assert again.returncode == 2 and "already published" in again.stderr

    station = tmp_path / "station"
    out = _ok(
        "agent",
        "updates",
        "trust-root",
        "--root",
        str(station),
        str(repo / "metadata" / "1.root.json"),
    )
    assert "trusting update root v1" in out
    _ok("agent", "updates", "install-first", "--root", str(station), str(agent))
    status = json.loads(_ok("agent", "updates", "status", "--root", str(station)))
    assert status["current"] == "2.0.0" and status["trial"] is None
    assert (station / "current" / "site" / "ewp" / "__init__.py").exists()

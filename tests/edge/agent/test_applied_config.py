"""The station applies the fleet's configuration: checks, refusals naming the key, restarts."""

from __future__ import annotations

import json
from pathlib import Path

from edge.agent.applied_config import AppliedConfig
from protocol.ops_messages import DesiredConfig
from protocol.station_config import StationConfig, config_sha256

LOCAL = StationConfig.model_validate({"heartbeat_interval_s": 5})


def desired(version: int, station_id: str = "ct-01", **config: object) -> bytes:
    model = StationConfig.model_validate(config)
    return DesiredConfig(
        station_id=station_id,
        version=version,
        sha256=config_sha256(model),
        issued_at="2026-11-26T01:00:00.000Z",
        config=model,
    ).to_payload()


def test_runs_local_settings_until_the_fleet_sends_a_configuration(tmp_path: Path) -> None:
    applied = AppliedConfig(tmp_path, LOCAL, "ct-01")
    assert applied.current.version == 0 and applied.current.config == LOCAL
    seen: list[StationConfig] = []
    applied.subscribe(seen.append)
    answer = applied.handle(desired(3, capture={"attempts": 5}, heartbeat_interval_s=60))
    assert answer is not None and answer.status == "applied"
    assert (answer.version, answer.desired_version) == (3, 3)
    assert applied.current.config.capture.attempts == 5
    assert [c.heartbeat_interval_s for c in seen] == [5, 60]
    stored = json.loads((tmp_path / "config" / "applied.json").read_text())
    assert stored["version"] == 3 and stored["sha256"] == answer.sha256
    # A restart runs what was applied, not the local settings.
    again = AppliedConfig(tmp_path, LOCAL, "ct-01")
    assert again.current.version == 3 and again.current.config.heartbeat_interval_s == 60
    # The retained message comes again after a reconnect: answered, nothing changes.
    repeat = again.handle(desired(3, capture={"attempts": 5}, heartbeat_interval_s=60))
    assert repeat is not None and repeat.status == "applied"


def test_refusals_change_nothing_and_say_why(tmp_path: Path) -> None:
    applied = AppliedConfig(tmp_path, LOCAL, "ct-01")
    bad_key = desired(1).replace(b'"attempts"', b'"atempts"')
    answer = applied.handle(bad_key)
    assert answer is not None and answer.status == "refused"
    assert answer.error is not None and "config.capture.atempts" in answer.error
    other = applied.handle(desired(1, station_id="ct-02"))
    assert other is not None and other.status == "refused" and "ct-02" in (other.error or "")
    tampered = json.loads(desired(1))
    tampered["config"]["retention_days"] = 1.0
    wrong_hash = applied.handle(json.dumps(tampered).encode())
    assert wrong_hash is not None and "sha256" in (wrong_hash.error or "")
    assert applied.current.version == 0 and not (tmp_path / "config").exists()
    assert applied.handle(b"") is None  # a cleared retained message


def test_a_damaged_file_falls_back_to_the_local_settings(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "applied.json").write_text("{not json")
    assert AppliedConfig(tmp_path, LOCAL, "ct-01").current.version == 0

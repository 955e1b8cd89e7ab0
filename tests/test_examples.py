"""The example settings files in examples/ are valid, and typos in them fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.agent.settings import AgentSettings
from ewp.cli.settings_loader import SettingsError, load_settings
from fleet.settings import FleetSettings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_example_agent_settings_load() -> None:
    settings = load_settings(AgentSettings, EXAMPLES / "agent.toml")
    assert settings.sensors.fingerprint.baudrate == 57600
    assert settings.uplink.receipt_timeout_s == 120


def test_example_fleet_settings_load() -> None:
    settings = load_settings(FleetSettings, EXAMPLES / "fleet.toml")
    assert settings.ingest.workers == 2
    assert settings.alerts.service_hours.days[0] == "mon"
    assert settings.alerts.webhook.url is not None and settings.alerts.webhook.secret is not None
    assert settings.health.timeout_factor == 1.5


def test_a_typo_names_the_key(tmp_path: Path) -> None:
    text = (EXAMPLES / "agent.toml").read_text().replace("quota_mb", "quota_mbs")
    (tmp_path / "agent.toml").write_text(text)
    with pytest.raises(SettingsError, match=r"outbox.quota_mbs: unknown setting \(a typo\?\)"):
        load_settings(AgentSettings, tmp_path / "agent.toml")


def test_out_of_range_values_are_refused(tmp_path: Path) -> None:
    text = (EXAMPLES / "agent.toml").read_text().replace("baudrate = 57600", "baudrate = 50000")
    (tmp_path / "agent.toml").write_text(text)
    with pytest.raises(SettingsError, match=r"sensors\.fingerprint\.baudrate"):
        load_settings(AgentSettings, tmp_path / "agent.toml")


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(AgentSettings, tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[station\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(AgentSettings, tmp_path / "bad.toml")


def test_placeholder_secrets_are_refused(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("changeme\n")
    settings = load_settings(FleetSettings, EXAMPLES / "fleet.toml")
    ref = settings.service.admin_token.model_copy(update={"file": tmp_path / "token"})
    with pytest.raises(ValueError, match="placeholder"):
        ref.read("the admin token")

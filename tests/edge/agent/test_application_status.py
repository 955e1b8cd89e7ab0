"""The station keeps the newest decision per application."""

from __future__ import annotations

from pathlib import Path

from edge.agent.application_status import ApplicationStatusStore
from protocol.ops_messages import ApplicationStatus


def status(state: str, at: str, reason: str | None = None) -> ApplicationStatus:
    return ApplicationStatus.model_validate(
        {"station_id": "mu-01", "application_number": "WP-MU-01-000001", "status": state,
         "reason": reason, "at": at}
    )  # fmt: skip


def test_the_newest_decision_wins(tmp_path: Path) -> None:
    with ApplicationStatusStore(tmp_path) as store:
        assert store.record(status("received", "2026-11-23T03:00:00.000Z"))
        assert store.record(status("permit-approved", "2026-11-25T03:00:00.000Z"))
        assert not store.record(status("biometrics-verified", "2026-11-24T03:00:00.000Z"))
        kept = store.get("WP-MU-01-000001")
        assert kept is not None and kept.status == "permit-approved"
        assert [s.application_number for s in store.latest()] == ["WP-MU-01-000001"]
        assert store.get("WP-OTHER") is None
    with ApplicationStatusStore(tmp_path) as again:  # it survives a restart
        assert again.get("WP-MU-01-000001") is not None

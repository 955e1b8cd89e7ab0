"""Alert routes: list, filter, acknowledge (audited), rules without secrets."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from fleet.store.models import AuditEntry
from tests.fleet.api_helpers import api_rig
from tests.fleet.ops_helpers import heartbeat


def test_list_acknowledge_and_rules(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "hook").write_text("a-webhook-secret-0123456789")
    secret = f'secret = {{ file = "{tmp_path / "hook"}" }}'
    extra = f'[alerts.webhook]\nurl = "http://127.0.0.1:9/x"\n{secret}\n'
    with api_rig(tmp_path, extra, database_url=database_url) as rig:
        rig.station("ct-01")
        rig.heartbeat(heartbeat("ct-01", cpu_temperature_c=90.0))
        rig.ops.evaluate_alerts()
        with rig.client("viewer") as viewer, rig.client("operator") as operator:
            (alert,) = viewer.get("/api/v1/alerts").json()
            assert (alert["rule"], alert["state"], alert["acknowledged_at"]) == (
                "cpu-hot", "active", None)  # fmt: skip
            assert viewer.get("/api/v1/alerts", params={"rule": "disk-full"}).json() == []
            assert viewer.post(f"/api/v1/alerts/{alert['id']}/acknowledge").status_code == 403
            acked = operator.post(
                f"/api/v1/alerts/{alert['id']}/acknowledge", json={"note": "on my way"}
            ).json()
            assert acked["acknowledged_by"] == "test-operator"
            assert acked["acknowledged_note"] == "on my way"
            assert operator.post("/api/v1/alerts/999/acknowledge").status_code == 404
            rules = viewer.get("/api/v1/alerts/rules").json()
            assert rules["offline_minutes"] == 15 and rules["webhook"]["secret"] is None
            notes = viewer.get("/api/v1/alerts/notifications").json()
            assert [n["event"] for n in notes] == ["acknowledged", "raised"]
            rig.heartbeat(heartbeat("ct-01"))
            rig.ops.evaluate_alerts()
            assert viewer.get("/api/v1/alerts").json() == []
            cleared = viewer.get("/api/v1/alerts", params={"state": "cleared"}).json()
            assert cleared[0]["state"] == "cleared"
        with rig.sessions() as session:
            entry = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "alert.acknowledge")
            ).one()
        assert entry.actor == "test-operator" and entry.target == "ct-01"

"""The dashboard in a real Chromium, against a real fleet (Mosquitto with ACLs, the fleet service
in-process) whose data came through the real paths: stations provisioned with claim tokens, a
real station agent uploading packets, heartbeats and reconciliation reports, heartbeats of a
mobile unit with GPS through ingest, alerts raised by the rules and sent to a webhook.

One fleet and one browser for the module (`make test` runs pytest with ``--dist loadfile``, so
they are set up once); each test has its own browser context (cookies).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, start_fleet_stack, wait_until
from fleet.broker.mosquitto import free_port
from protocol.envelope import utc_timestamp
from protocol.messages import Heartbeat
from tests.e2e.test_fleet_operations import builder_for, running_agent
from tests.edge.agent.helpers import make_enrolment
from tests.fleet.web.browser import chromium, screenshot

PASSWORD = "a long enough test passphrase"
PASSPORT = "MM1234567"
APPLICATION = "WP-CT-01-000001"


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Dashboard:
    stack: FleetStack
    browser: Browser
    packet_id: str
    webhook: list[dict[str, Any]]

    @property
    def url(self) -> str:
        return self.stack.url

    def api(self) -> httpx.Client:
        return self.stack.api()

    def context(self, locale: str = "en-US") -> BrowserContext:
        return self.browser.new_context(
            base_url=self.url, locale=locale, viewport={"width": 1400, "height": 1000}
        )


def heartbeat(station_id: str, n: int, **environment: object) -> bytes:
    return Heartbeat.model_validate(
        {
            "station_id": station_id,
            "at": utc_timestamp(),
            "seq": n,
            "uptime_s": 60.0 * n,
            "software_version": "1.4.2",
            "queue": {
                "pending": n,
                "sending": 0,
                "acked": 10,
                "pending_bytes": 150_000 * n,
                "oldest_pending_age_s": 600.0 * n,
                "created_total": 10 + n,
                "last_seq": 10 + n,
            },
            "disk": {"free_bytes": 70 - n, "total_bytes": 100},
            "sensors": [{"kind": "fingerprint", "state": "ok"}, {"kind": "iris", "state": "ok"}],
            "cpu_temperature_c": 55.0 + n,
            "interval_s": 30.0,
            "environment": {"controller": "ok", **environment},
        }
    ).to_payload()


def _province(api: httpx.Client, station_id: str, province: str) -> None:
    answer = api.patch(f"/api/v1/stations/{station_id}", json={"province": province})
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = Path(tmp_path_factory.mktemp("dashboard"))
    with ExitStack() as cleanup:
        hook = ThreadingHTTPServer(("127.0.0.1", free_port()), _Webhook)
        hook.received = []  # type: ignore[attr-defined]
        threading.Thread(target=hook.serve_forever, daemon=True).start()
        cleanup.callback(hook.shutdown)
        stack = start_fleet_stack(
            root,
            extra_settings=f'\n[alerts.webhook]\nurl = "http://127.0.0.1:{hook.server_port}/"\n'
            "poll_interval_s = 0.5\n",
        )
        cleanup.callback(stack.stop)
        with stack.api() as api:
            created = api.post(
                "/api/v1/users", json={"username": "ada", "password": PASSWORD, "role": "admin"}
            )
            assert created.status_code == 201, created.text
            created = api.post(
                "/api/v1/users", json={"username": "vic", "password": PASSWORD, "role": "viewer"}
            )
            assert created.status_code == 201, created.text
        # ct-01, a service centre in Bangkok: a real agent with three packets, one of which
        # was deleted from its outbox before upload (a reconciliation gap); its fingerprint
        # sensor does not answer (a sensor fault).
        data_dir = root / "ct-01"
        identity = stack.provision_station("ct-01", data_dir)
        with Outbox(data_dir / "outbox.sqlite", min_free_bytes=0) as outbox:
            saved = [
                builder_for(identity).save(outbox, make_enrolment(n, image_size=4096))
                for n in (1, 2, 3)
            ]
        with closing(sqlite3.connect(data_dir / "outbox.sqlite")) as db:
            db.execute("DELETE FROM packets WHERE seq = 2")
            db.commit()
        # mu-01, a mobile unit in the north with a GPS fix; ct-02 registered but never
        # claimed; ct-03 provisioned and then revoked.
        stack.provision_station("mu-01", root / "mu-01", kind="mobile")
        stack.add_station("ct-02")
        stack.provision_station("ct-03", root / "ct-03")
        with stack.api() as api:
            for station_id, province in (
                ("ct-01", "Bangkok"),
                ("mu-01", "Chiang Rai"),
                ("ct-02", "Khon Kaen"),
                ("ct-03", "Songkhla"),
            ):
                _province(api, station_id, province)
            assert api.post("/api/v1/stations/ct-03/revoke").status_code == 200
        assert stack.context is not None
        # Spaced evenly: the chart breaks its line where a step is over three times the median
        # step, and heartbeats a few milliseconds apart can be that uneven on a busy machine.
        for n in range(1, 5):
            if n > 1:
                time.sleep(0.25)
            stack.context.ingest.handle_heartbeat(
                "mu-01",
                heartbeat("mu-01", n, latitude=19.95 - n * 0.02, longitude=99.85, battery_v=12.6),
            )
        cleanup.enter_context(running_agent(data_dir, reconciliation_interval_s=1))

        def ready() -> bool:
            with stack.api() as api:
                recon = api.get("/api/v1/stations/ct-01/reconciliation")
                alerts = {a["rule"] for a in api.get("/api/v1/alerts").json()}
                history = api.get("/api/v1/stations/ct-01/health/history").json()
            return (
                recon.status_code == 200
                and recon.json()["received_total"] == 2
                and {"sensor-fault", "reconciliation-gap"} <= alerts
                and len(history["points"]) >= 3
            )

        wait_until(ready, timeout=60, message="packets, a reconciliation report and alerts")
        browser = cleanup.enter_context(chromium())
        yield Dashboard(stack, browser, saved[0].packet_id, hook.received)  # type: ignore[attr-defined]


def log_in(page: Page, username: str = "ada") -> None:
    page.goto("/ui/")
    expect(page).to_have_url("/ui/login?next=/ui/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    expect(page).to_have_url("/ui/")


def test_an_admin_logs_in_sees_the_fleet_on_the_map_and_opens_a_station(
    dashboard: Dashboard,
) -> None:
    with dashboard.context() as context:
        page = context.new_page()
        page.goto("/ui/")
        page.fill("#username", "ada")
        page.fill("#password", "not the password")
        page.click("#login")
        expect(page.locator("#login-problem")).to_contain_text("Wrong username or password")
        log_in(page)
        expect(page.locator("#signed-in")).to_contain_text("ada (admin)")
        expect(page.locator("[data-count=online] .n")).to_have_text("2")
        expect(page.locator("[data-count=awaiting-claim] .n")).to_have_text("1")
        expect(page.locator("[data-count=revoked] .n")).to_have_text("1")
        expect(page.locator("[data-count=waiting] .n")).to_have_text("4")
        # The map: the outline, and every station placed, by GPS or by province.
        expect(page.locator("#map path.thailand")).to_have_count(1)
        markers = page.locator("#map a.station-marker")
        expect(markers).to_have_count(4)
        placed = {
            m.get_attribute("data-station"): (
                m.get_attribute("data-placement"),
                m.get_attribute("data-state"),
            )
            for m in markers.all()
        }
        assert placed == {
            "ct-01": ("province", "online"),
            "mu-01": ("gps", "online"),
            "ct-02": ("province", "awaiting-claim"),
            "ct-03": ("province", "revoked"),
        }
        # Chiang Rai (the van's fix) is north of Bangkok: smaller y on the map.
        mu = page.locator("#map a[data-station=mu-01] rect").bounding_box()
        ct = page.locator("#map a[data-station=ct-01] circle").bounding_box()
        assert mu is not None and ct is not None and mu["y"] < ct["y"] - 200
        expect(page.locator("#active-alerts")).to_contain_text("sensor fault")
        screenshot(page, "overview-en")

        page.locator("#map a[data-station=ct-01]").click()
        expect(page).to_have_url("/ui/stations/ct-01")
        expect(page.locator("h1")).to_contain_text("Station ct-01")
        expect(page.locator("#station-state")).to_have_text("online")
        # Health over time: a line per chart with data.
        expect(page.locator("[data-chart=chart-queue] polyline.line")).not_to_have_count(0)
        expect(page.locator("[data-chart=chart-disk] polyline.line")).not_to_have_count(0)
        expect(page.locator("#station-alerts")).to_contain_text("reconciliation gap")
        expect(page.locator("#packets tbody tr")).to_have_count(2)
        expect(page.locator("#packets tbody tr td.num").first).to_have_text("3")  # newest first
        gap = page.locator("#reconciliation tr.gap")
        expect(gap).to_have_count(1)
        expect(gap.locator("td").last).to_have_text("2")
        expect(page.locator("#liveness")).to_contain_text("heartbeat")
        screenshot(page, "station-ct-01-en")

        page.goto("/ui/stations/mu-01")
        expect(page.locator("#latest-health")).to_contain_text("19.8700, 99.8500")
        expect(page.locator("[data-chart=chart-battery] polyline.line")).to_have_count(1)

        page.click("#logout")
        expect(page).to_have_url("/ui/login?out=1")
        expect(page.locator("#notice")).to_have_text("You have logged out.")
        page.goto("/ui/alerts")
        expect(page).to_have_url("/ui/login?next=/ui/alerts")


def test_an_admin_acknowledges_an_alert_and_sees_what_the_webhook_delivered(
    dashboard: Dashboard,
) -> None:
    with dashboard.context() as context:
        page = context.new_page()
        log_in(page)
        page.click("text=Alerts")
        expect(page).to_have_url("/ui/alerts")
        row = page.locator("tr.alert-row[data-rule=sensor-fault]")
        expect(row).to_have_count(1)
        alert_id = row.get_attribute("data-alert")
        row.locator("input[name=note]").fill("technician on the way")
        row.locator("button.acknowledge").click()  # htmx: the row is replaced in place
        acknowledged = page.locator(f"#alert-{alert_id} .acknowledged-by")
        expect(acknowledged).to_contain_text("ada")
        expect(page.locator(f"#alert-{alert_id}")).to_contain_text("technician on the way")
        with dashboard.api() as api:
            alert = api.get(f"/api/v1/alerts/{alert_id}").json()
        assert (alert["acknowledged_by"], alert["acknowledged_note"]) == (
            "ada",
            "technician on the way",
        )
        wait_until(
            lambda: any(
                n["event"] == "acknowledged" and n["alert"]["id"] == int(alert_id or 0)
                for n in dashboard.webhook
            ),
            message="the webhook got the acknowledgement",
        )
        page.goto("/ui/alerts?rule=sensor-fault")
        expect(page.locator(f"#alert-{alert_id} .webhook")).to_contain_text(
            "acknowledged: delivered"
        )
        screenshot(page, "alerts-en")


def test_an_admin_changes_the_configuration_and_a_bad_value_is_refused(
    dashboard: Dashboard,
) -> None:
    with dashboard.context() as context:
        page = context.new_page()
        log_in(page)
        page.click("text=Configuration")
        expect(page).to_have_url("/ui/config")
        page.click("#open-fleet-layer")
        expect(page).to_have_url("/ui/config/fleet")
        page.fill("#document", '{"capture": {"atempts": 4, "finger_quality_min": 140}}')
        page.click("#save-layer")
        problems = page.locator("#layer-problems")
        expect(problems).to_contain_text("capture.atempts")
        expect(problems).to_contain_text("capture.finger_quality_min")
        screenshot(page, "config-refused-en")

        page.fill("#document", '{"capture": {"attempts": 4}, "heartbeat_interval_s": 1}')
        page.click("#save-layer")
        expect(page.locator("#layer-message")).to_contain_text("Saved as version 1")
        expect(page.locator("#layer-message")).to_contain_text("ct-01")

        def applied() -> bool:
            with dashboard.api() as api:
                view = api.get("/api/v1/config/stations/ct-01/effective").json()
            return bool(view["drift"] == "in-sync" and view["config"]["capture"]["attempts"] == 4)

        wait_until(applied, message="the agent applied the new configuration")
        page.goto("/ui/stations/ct-01")
        expect(page.locator("#drift")).to_have_text("in sync")
        expect(page.locator("#effective-config")).to_contain_text('"attempts": 4')
        page.goto("/ui/config")
        expect(page.locator("#history")).to_contain_text('"attempts": 4')
        screenshot(page, "config-en")


def test_a_viewer_sees_no_controls_and_the_server_refuses_them(dashboard: Dashboard) -> None:
    with dashboard.context() as context:
        page = context.new_page()
        log_in(page, "vic")
        page.goto("/ui/alerts")
        expect(page.locator("button.acknowledge")).to_have_count(0)
        expect(page.locator("tr.alert-row button[disabled]").first).to_be_visible()
        page.goto("/ui/config/fleet")
        expect(page.locator("#save-layer")).to_have_count(0)
        # The form a viewer cannot see, posted anyway (with the right CSRF token): 403.
        csrf = next(c["value"] for c in context.cookies() if c["name"] == "ewp_csrf")
        answer = page.request.post(
            "/ui/config/fleet", form={"document": "{}", "csrf_token": csrf}, max_redirects=0
        )
        assert answer.status == 403
        assert "release manager" in answer.text()


def test_the_dashboard_in_thai(dashboard: Dashboard) -> None:
    with dashboard.context() as context:
        page = context.new_page()
        log_in(page)
        page.click("#language-switch")
        expect(page).to_have_url("/ui/")
        expect(page.locator("html")).to_have_attribute("lang", "th")
        expect(page.locator("h1")).to_contain_text("ภาพรวมสถานีทั้งหมด")
        expect(page.locator("[data-count=online]")).to_contain_text("ออนไลน์")
        screenshot(page, "overview-th")
        page.goto("/ui/stations/ct-01")  # the choice is remembered (cookie)
        expect(page.locator("h1")).to_contain_text("สถานี ct-01")
        expect(page.locator("#reconciliation")).to_contain_text("สูญหาย")
        screenshot(page, "station-ct-01-th")
        page.click("#language-switch")
        expect(page.locator("h1")).to_contain_text("Station ct-01")


def test_an_applicant_checks_a_status_in_english_and_thai(dashboard: Dashboard) -> None:
    with dashboard.stack.central_api() as api:
        posted = api.post(
            "/api/v1/central/application-status",
            json={
                "application_number": APPLICATION,
                "status": "permit-approved",
                "packet_id": dashboard.packet_id,
                "passport_number": PASSPORT,
            },
        )
        assert posted.status_code == 200, posted.text
    with dashboard.context() as context:
        page = context.new_page()
        page.goto("/status?lang=en")
        page.fill("#application_number", APPLICATION)
        page.fill("#passport_number", PASSPORT)
        page.click("button[type=submit]")
        expect(page.locator("#result .status")).to_have_text("Work permit approved")
        screenshot(page, "status-en")
        # A wrong passport number gets the very answer an unknown application gets.
        page.fill("#passport_number", "MM7654321")
        page.click("button[type=submit]")
        wrong = page.locator("#problem").inner_text()
        page.fill("#application_number", "WP-CT-01-999999")
        page.fill("#passport_number", PASSPORT)
        page.click("button[type=submit]")
        assert page.locator("#problem").inner_text() == wrong
        expect(page.locator("#result")).to_have_count(0)

        page.goto("/status")
        expect(page.locator("html")).to_have_attribute("lang", "th")
        page.fill("#application_number", APPLICATION)
        page.fill("#passport_number", PASSPORT)
        page.click("button[type=submit]")
        expect(page.locator("#result .status")).to_have_text("อนุมัติใบอนุญาตทำงานแล้ว")
        screenshot(page, "status-th")

"""Only the browser that opened this boot's one-time link drives the kiosk: the link works once,
every form needs the session's CSRF token, another Host is refused, images are never cached,
and the status bar's banners follow the station's state."""

from __future__ import annotations

import re
import time

import httpx

from edge.agent.application_status import ApplicationStatusStore
from edge.agent.kiosk.access import COOKIE, CSRF_HEADER
from edge.agent.kiosk.status import BACKLOG_OLD_S, StatusReader
from edge.agent.outbox import Outbox
from edge.agent.packet_builder import PacketBuilder
from ewp.kiosk_demo import OPERATOR_ID
from ewp.local_fleet import wait_until
from protocol.ops_messages import ApplicationStatus
from tests.edge.agent.helpers import make_enrolment
from tests.edge.agent.kiosk.rig import PIN, KioskRig


def unlocked(rig: KioskRig) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=rig.url, timeout=10, follow_redirects=True)
    response = client.get(rig.unlock_url())
    assert response.status_code == 200 and COOKIE in client.cookies
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', response.text)
    assert match
    return client, match.group(1)


def test_the_one_time_link_and_the_csrf_token(rig: KioskRig) -> None:
    with httpx.Client(base_url=rig.url, timeout=10) as stranger:
        page = stranger.get("/")
        assert page.status_code == 401 and 'id="locked"' in page.text
        assert stranger.post("/logout").status_code == 401
    url = rig.unlock_url()
    client, csrf = unlocked(rig)
    assert rig.unlock_url() != url, "a used link is replaced"
    with httpx.Client(base_url=rig.url, timeout=10) as late:
        assert late.get(url).status_code == 401, "a link works once"
    # A form without the token, or with another session's, is refused; with it, accepted.
    assert client.post("/lang", data={"lang": "en"}).status_code == 403
    assert client.post("/lang", data={"lang": "en", "csrf": "0" * 64}).status_code == 403
    accepted = client.post("/lang", data={"lang": "en", "csrf": csrf}, follow_redirects=False)
    assert accepted.status_code == 303
    assert client.post("/lang", data={"lang": "th"}, headers={CSRF_HEADER: csrf}).is_success
    # Another Host (DNS rebinding to 127.0.0.1) is refused before anything else.
    assert client.get("/", headers={"host": f"evil.example:{rig.server.port}"}).status_code == 421
    page = client.get("/")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.get("/image/right-index.png").status_code == 404
    client.close()


def test_the_unlock_file_is_private(rig: KioskRig) -> None:
    mode = (rig.data_dir / "kiosk" / "unlock-url").stat().st_mode & 0o777
    assert mode == 0o600


def test_banners_for_an_old_backlog_and_a_pending_update(rig: KioskRig) -> None:
    identity = rig.agent.identity
    builder = PacketBuilder(
        station_id=identity.station_id,
        signing_key=identity.signing_key,
        central_key=identity.central_key,
        software_version="test",
    )
    rig.link.cut()
    with Outbox(rig.agent.settings.outbox_path, min_free_bytes=0) as outbox:
        builder.save(outbox, make_enrolment(1))
    now = time.time()
    reader = StatusReader(rig.agent, clock=lambda: now)
    assert "banner-backlog" not in reader.read().banners
    later = StatusReader(rig.agent, clock=lambda: now + BACKLOG_OLD_S + 60)
    bar = later.read()
    assert bar.waiting == 1 and "banner-backlog" in bar.banners
    assert "banner-update" in StatusReader(rig.agent, update_pending=lambda: True).read().banners
    reader.close()
    later.close()
    rig.link.restore()


def test_status_of_an_earlier_application(rig: KioskRig) -> None:
    """A status central sent to this station, found by application number on the home screen."""
    with ApplicationStatusStore(rig.data_dir) as store:
        store.record(
            ApplicationStatus(
                station_id=rig.agent.identity.station_id,
                application_number="WP-CT-70-000123",
                status="card-ready",
                at="2026-12-01T03:00:00Z",
            )
        )
    client, csrf = unlocked(rig)
    client.post("/lang", data={"lang": "en", "csrf": csrf})
    client.post("/login", data={"operator_id": OPERATOR_ID, "pin": PIN, "csrf": csrf})
    wait_until(lambda: 'data-screen="home"' in client.get("/").text, message="logged in")
    page = client.post("/status-search", data={"number": "wp-ct-70-000123", "csrf": csrf}).text
    assert "WP-CT-70-000123: card ready (2026-12-01 10:00)" in page, "in Bangkok time"
    page = client.post("/status-search", data={"number": "WP-NOPE-1", "csrf": csrf}).text
    assert "No status for WP-NOPE-1 has reached this station yet." in page
    client.close()

"""Fleet-wide views: live for a small fleet; above the limit, built once and then rebuilt in the
background when older than their age limit, with no request waiting for a rebuild."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.access.users import create_user
from fleet.fleet_view import FleetView
from fleet.roles import Role
from fleet.store.models import Station
from fleet.web import overview_pages, thailand_map
from tests.fleet.api_helpers import api_rig
from tests.fleet.ops_helpers import add_station, heartbeat


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_small_fleet_is_built_live_and_a_large_one_from_the_last_build(tmp_path: Path) -> None:
    with api_rig(tmp_path) as rig:
        for n in range(3):
            add_station(rig.sessions, f"ct-{n:02d}")
        builds: list[datetime] = []
        release = threading.Event()
        release.set()

        def build(session: Session, now: datetime) -> int:
            release.wait(10)
            builds.append(now)
            return len(builds)

        monotonic = Monotonic()
        view = FleetView(
            "test", build, rig.sessions, rig.clock, live_limit=3, max_age_s=10, monotonic=monotonic
        )
        with rig.sessions() as session:
            # Three stations, at the limit: every request builds.
            assert [view.get(session, rig.clock()) for _ in range(2)] == [1, 2]
        add_station(rig.sessions, "ct-03")
        with rig.sessions() as session:
            assert view.get(session, rig.clock()) == 3  # the first large request builds
            monotonic.now += 9
            assert view.get(session, rig.clock()) == 3  # fresh enough: no build
            assert len(builds) == 3
            # Too old: answered at once with the last build, while a rebuild runs.
            release.clear()
            monotonic.now += 2
            assert view.get(session, rig.clock()) == 3
            assert view.get(session, rig.clock()) == 3  # one rebuild at a time
            release.set()
            wait_for(lambda: len(builds) == 4)
            wait_for(lambda: view.get(session, rig.clock()) == 4)
            assert len(builds) == 4


def test_a_failed_rebuild_keeps_the_last_view_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with api_rig(tmp_path) as rig:
        for n in range(2):
            add_station(rig.sessions, f"ct-{n:02d}")
        attempts: list[int] = []

        def build(session: Session, now: datetime) -> str:
            attempts.append(1)
            if len(attempts) > 1:
                raise RuntimeError("store went away")
            return "first"

        monotonic = Monotonic()
        view = FleetView(
            "test", build, rig.sessions, rig.clock, live_limit=1, max_age_s=5, monotonic=monotonic
        )
        with caplog.at_level(logging.ERROR, logger="fleet.fleet_view"), rig.sessions() as session:
            assert view.get(session, rig.clock()) == "first"
            monotonic.now += 6
            assert view.get(session, rig.clock()) == "first"
            wait_for(lambda: "rebuilding the fleet view test failed" in caplog.text)
            assert view.get(session, rig.clock()) == "first"  # and it tries again


def test_a_large_fleet_is_drawn_one_marker_a_province_with_its_worst_state() -> None:
    spot = thailand_map.StationSpot
    markers = thailand_map.place_by_province(
        [
            spot("ct-01", "online", "center", None, None, "TH-10", "ct-01"),
            spot("ct-02", "offline", "center", None, None, "TH-10", "ct-02"),
            spot("ct-03", "online", "center", None, None, "TH-10", "ct-03"),
            spot("mu-01", "online", "mobile", 19.9, 99.8, "TH-57", "mu-01"),
            spot("mu-02", "online", "mobile", 51.5, -0.1, None, "nowhere"),
        ],
        lambda code, n, off: f"{code}: {n}, {off} not online",
    )
    by_code = {m.station_id: m for m in markers}
    assert set(by_code) == {"TH-10", "TH-57"}
    assert (by_code["TH-10"].count, by_code["TH-10"].state) == (3, "offline")
    assert by_code["TH-10"].title == "TH-10: 3, 1 not online"
    assert (by_code["TH-57"].count, by_code["TH-57"].state) == (1, "online")
    assert all(m.placement == "province-group" for m in markers)


def test_the_overview_of_a_large_fleet_lists_the_stations_needing_attention_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(thailand_map, "MARKERS_MAX", 3)
    monkeypatch.setattr(overview_pages, "OVERVIEW_ROWS", 2)
    with api_rig(tmp_path) as rig:
        for n in range(5):
            add_station(rig.sessions, f"ct-{n:02d}")
        for n in (1, 2, 3, 4):  # ct-00 never heard from; ct-03 has the oldest backlog
            backlog = {"pending": 2, "oldest_pending_age_s": 7200.0} if n == 3 else {}
            rig.ingest.handle_heartbeat(
                f"ct-{n:02d}", heartbeat(f"ct-{n:02d}", queue=backlog).model_dump_json().encode()
            )
        with rig.sessions() as session:
            for station in session.scalars(select(Station)):
                station.province = "TH-10" if station.station_id < "ct-03" else "TH-50"
            session.commit()
        with rig.sessions() as session:
            create_user(session, "ada", "a-long-enough-password", role=Role.VIEWER, actor="test")
            session.commit()
        browser = rig.real_auth_client(None)
        login = {"username": "ada", "password": "a-long-enough-password"}
        browser.post("/api/v1/auth/login", json=login).raise_for_status()
        page = browser.get("/ui/?lang=en")
        assert page.status_code == 200, page.text
        html = page.text
        rows = re.findall(r'<tr data-station="([^"]+)"', html)
        assert rows == ["ct-00", "ct-03"], html[-3000:]  # never seen first, then the oldest backlog
        assert "The 2 of 5 stations that need attention most" in html
        groups = dict(
            re.findall(r'data-province="(TH-\d+)" data-state="[^"]+" data-count="(\d+)"', html)
        )
        assert groups == {"TH-10": "3", "TH-50": "2"}
        assert 'class="station-marker"' not in html

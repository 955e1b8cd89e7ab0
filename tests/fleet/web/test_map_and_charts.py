"""The map's outline and projection, station placement, and the health charts' geometry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fleet.web import charts, thailand_map
from protocol.reference_data import provinces


def inside(point: tuple[float, float], ring: list[list[float]]) -> bool:
    x, y = point
    result = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            result = not result
    return result


def test_the_bundled_outline_names_its_source_and_holds_every_provincial_capital() -> None:
    data = json.loads(thailand_map.GEOJSON.read_text(encoding="utf-8"))
    assert "Natural Earth" in data["source"] and "public domain" in data["license"]
    (thailand,) = [f for f in data["features"] if f["properties"]["role"] == "thailand"]
    rings = [polygon[0] for polygon in thailand["geometry"]["coordinates"]]
    outside = [
        p.en for p in provinces().values() if not any(inside((p.lon, p.lat), r) for r in rings)
    ]
    # A few capitals sit on the coast, within the simplification's ~1 km of the outline.
    assert len(outside) <= 4, outside
    assert thailand_map.GEOJSON.stat().st_size < 60_000  # small enough to ship


def test_the_projection_keeps_north_up_and_east_right() -> None:
    projection = thailand_map.outline().projection
    bangkok = projection.point(100.5, 13.75)
    chiang_mai = projection.point(98.99, 18.79)
    ubon = projection.point(104.86, 15.24)
    assert chiang_mai[1] < bangkok[1] and chiang_mai[0] < bangkok[0] < ubon[0]
    assert 0 < bangkok[0] < projection.width and 0 < bangkok[1] < projection.height
    # 15.7° of latitude against 9.4° of longitude shrunk by cos 13°: a tall frame.
    assert abs(projection.height / projection.width - 15.7 / (9.4 * 0.9744)) < 0.01


def test_stations_are_placed_by_gps_else_province_and_spread_at_one_capital() -> None:
    spot = thailand_map.StationSpot
    markers, unplaced = thailand_map.place(
        [
            spot("mu-01", "online", "mobile", 19.9, 99.8, "TH-57", "mu-01"),
            spot("ct-01", "online", "center", None, None, "TH-10", "ct-01"),
            spot("ct-02", "offline", "center", None, None, "TH-10", "ct-02"),
            spot("mu-02", "online", "mobile", 51.5, -0.1, None, "abroad, no province"),
            spot("ct-03", "never-seen", "center", None, None, None, "nowhere"),
        ]
    )
    placed = {m.station_id: m for m in markers}
    assert unplaced == ["mu-02", "ct-03"]
    assert placed["mu-01"].placement == "gps" and placed["ct-01"].placement == "province"
    assert (placed["ct-01"].x, placed["ct-01"].y) != (placed["ct-02"].x, placed["ct-02"].y)
    assert placed["mu-01"].y < placed["ct-01"].y


def test_a_chart_breaks_its_line_where_heartbeats_stopped() -> None:
    start = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    points: list[tuple[datetime, float | None]] = [
        (start + timedelta(seconds=30 * i), float(i)) for i in range(10)
    ]
    points += [(start + timedelta(hours=2, seconds=30 * i), 5.0) for i in range(5)]
    points.append((start + timedelta(hours=3), None))
    chart = charts.line_chart("chart-queue", points, floor=0)
    assert len(chart.runs) == 2 and not chart.dots
    assert chart.latest == "5"
    assert chart.y_ticks[0][1] == "0"
    assert [label for _, label in chart.x_ticks] == ["10:00", "12:02"]  # Bangkok time
    xs = [float(p.split(",")[0]) for run in chart.runs for p in run.split()]
    assert min(xs) == charts.LEFT and max(xs) == charts.WIDTH - charts.RIGHT


def test_an_empty_series_draws_nothing() -> None:
    chart = charts.line_chart("chart-battery", [(datetime.now(UTC), None)])
    assert chart.empty and chart.latest is None

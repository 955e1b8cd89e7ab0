"""One station's page (``/ui/stations/{id}``): its registry entry and health, charts over a
range, alerts, recent packets, reconciliation and configuration."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fleet.api.deps import Context, DbSession
from fleet.services import alerts, configuration, health_reads, packets, reconciliation, stations
from fleet.web import charts
from fleet.web.access import Lang, ViewerPage
from fleet.web.rendering import display_state, render

router = APIRouter(include_in_schema=False)
RANGES: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def _health_charts(points: list[Any]) -> list[charts.Chart]:
    def series(attribute: str, factor: float = 1.0) -> list[tuple[datetime, float | None]]:
        values = []
        for p in points:
            value = getattr(p, attribute)
            values.append((p.at, None if value is None else value * factor))
        return values

    return [
        charts.line_chart("chart-queue", series("queue_waiting"), floor=0),
        charts.line_chart("chart-oldest", series("oldest_waiting_age_s", 1 / 60), floor=0),
        charts.line_chart("chart-disk", series("disk_free_pct"), floor=0, ceiling=100),
        charts.line_chart("chart-cpu", series("cpu_temperature_c")),
        charts.line_chart("chart-battery", series("battery_v")),
    ]


@router.get("/ui/stations/{station_id}")
def station_page(
    station_id: str,
    request: Request,
    lang: Lang,
    caller: ViewerPage,
    session: DbSession,
    context: Context,
    range: Literal["24h", "7d", "30d"] = "24h",
) -> HTMLResponse:
    station = stations.get_station(session, station_id)
    health = health_reads.station_health(session, context, station_id)
    # Whole seconds (what the API's times accept), the span exactly the range chosen.
    until = (context.ops.clock() + timedelta(seconds=1)).astimezone(UTC).replace(microsecond=0)
    history = health_reads.history(
        session, context, station_id, since=until - RANGES[range], until=until
    )
    station_alerts = alerts.list_alerts(session, state="all", station_id=station_id, limit=20)
    config = configuration.effective(session, station_id)
    return render(
        request,
        "station.html",
        lang,
        caller,
        station=station,
        state=display_state(station.state, health.state),
        health=health,
        history=history,
        charts=_health_charts(history.points),
        range=range,
        ranges=list(RANGES),
        alerts=station_alerts,
        notifications=alerts.notifications_of(session, {a.id for a in station_alerts}),
        packets=packets.list_packets(session, station_id=station_id, limit=20, newest_first=True),
        reconciliation=reconciliation.find_station_reconciliation(session, station_id),
        config=config,
        config_json=json.dumps(config.config, indent=2, ensure_ascii=False)
        if config.config is not None
        else None,
    )

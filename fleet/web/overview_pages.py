"""The dashboard's overview (``/ui/``): the fleet's numbers, the map of Thailand with every
station, the stations that need attention first and the active alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fleet.api.deps import Context, DbSession
from fleet.services import alerts, health_reads, stations
from fleet.web import thailand_map
from fleet.web.access import Lang, ViewerPage
from fleet.web.i18n import label, translate
from fleet.web.rendering import display_state, render
from protocol.reference_data import provinces

router = APIRouter(include_in_schema=False)
OVERVIEW_ROWS = 200
_STATE_URGENCY = {"offline": 0, "never-seen": 1, "online": 2, "awaiting-claim": 3, "revoked": 4}


def _urgency(row: dict[str, Any]) -> tuple[int, float, str]:
    """Offline first, then the oldest backlog; the station id breaks ties."""
    health = row["health"]
    backlog = health.queue.oldest_waiting_age_s if health.queue else None
    return (_STATE_URGENCY.get(row["state"], 5), -(backlog or 0.0), health.station_id)


@router.get("/ui/")
def overview(
    request: Request, lang: Lang, caller: ViewerPage, session: DbSession, context: Context
) -> HTMLResponse:
    fleet = health_reads.fleet_numbers(session, context)
    healths = health_reads.every_station_health(session, context)
    registry = stations.registry_view(session, context)
    active = alerts.list_alerts(session, limit=10)
    rows = []
    spots = []
    for health in healths:
        station = registry.get(health.station_id)
        state = display_state(station.state if station else None, health.state)
        province = station.province if station else None
        rows.append({"health": health, "station": station, "state": state})
        province_name = (province.th if lang == "th" else province.en) if province else ""
        spots.append(
            thailand_map.StationSpot(
                station_id=health.station_id,
                state=state,
                kind=health.kind,
                latitude=health.position.latitude if health.position else None,
                longitude=health.position.longitude if health.position else None,
                province=province.code if province else None,
                title=" · ".join(
                    p for p in (health.station_id, label("state", state, lang), province_name) if p
                ),
            )
        )
    if len(rows) > OVERVIEW_ROWS:  # a national fleet: the stations that need attention first
        rows = sorted(rows, key=_urgency)[:OVERVIEW_ROWS]
    unplaced: list[str] = []
    if len(spots) > thailand_map.MARKERS_MAX:

        def group_title(code: str, count: int, not_online: int) -> str:
            name = provinces()[code].th if lang == "th" else provinces()[code].en
            return translate("map-province-group", lang, province=name, n=count, off=not_online)

        markers = thailand_map.place_by_province(spots, group_title)
    else:
        markers, unplaced = thailand_map.place(spots)
    awaiting = sum(1 for s in registry.values() if s.state == "awaiting_claim")
    return render(
        request,
        "overview.html",
        lang,
        caller,
        fleet=fleet,
        awaiting=awaiting,
        never_seen=max(0, fleet.stations.never_seen - awaiting),
        rows=rows,
        rows_total=len(healths),
        active=active,
        outline=thailand_map.outline(),
        capitals=thailand_map.capitals(),
        markers=markers,
        unplaced=unplaced,
    )

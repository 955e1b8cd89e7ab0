"""The map of Thailand on the overview page: inline SVG drawn on the server, offline.

The outline is ``static/thailand.geojson`` (Natural Earth 1:10m, public domain; built by
``scripts/build_thailand_map.py``, which records the source and licence in the file). The
projection is equirectangular with its standard parallel at 13° N (the middle of the
country), so distances east-west are right near Bangkok and shapes stay familiar.

A station is placed by the GPS position in its latest heartbeat (mobile units with a
controller board) or else at its province's capital (``protocol/data/provinces.json``).
Several stations at one capital are spread on a small circle around it so each stays
clickable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from protocol.reference_data import provinces

GEOJSON = Path(__file__).parent / "static" / "thailand.geojson"
STANDARD_PARALLEL = 13.0
WIDTH = 460.0  # SVG user units; the page scales it
PLACEMENT_SPREAD = 9.0  # radius, in SVG units, of the circle co-located stations are put on

Placement = Literal["gps", "province", "province-group"]
# Above this many stations the map shows one marker a province (how many, the worst state):
# ten thousand markers would make the page megabytes long and unreadable anyway.
MARKERS_MAX = 1000
_WORST_FIRST = ("offline", "never-seen", "awaiting-claim", "online", "revoked")


@dataclass(frozen=True)
class Projection:
    west: float
    south: float
    east: float
    north: float
    width: float = WIDTH

    @property
    def kx(self) -> float:
        return math.cos(math.radians(STANDARD_PARALLEL))

    @property
    def scale(self) -> float:
        return self.width / ((self.east - self.west) * self.kx)

    @property
    def height(self) -> float:
        return (self.north - self.south) * self.scale

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        x = (lon - self.west) * self.kx * self.scale
        y = (self.north - lat) * self.scale
        return round(x, 1), round(y, 1)

    def contains(self, lon: float, lat: float) -> bool:
        return self.west <= lon <= self.east and self.south <= lat <= self.north


@dataclass(frozen=True)
class Outline:
    projection: Projection
    thailand: str  # SVG path data
    neighbours: tuple[tuple[str, str], ...]  # (name, path data)
    source: str


@cache
def outline() -> Outline:
    data = json.loads(GEOJSON.read_text(encoding="utf-8"))
    west, south, east, north = data["frame"]
    projection = Projection(west, south, east, north)
    thailand = ""
    neighbours = []
    for feature in data["features"]:
        path = _path(projection, feature["geometry"]["coordinates"])
        if feature["properties"]["role"] == "thailand":
            thailand = path
        else:
            neighbours.append((str(feature["properties"]["name"]), path))
    return Outline(projection, thailand, tuple(neighbours), str(data["source"]))


def _path(projection: Projection, multipolygon: list[list[list[list[float]]]]) -> str:
    parts = []
    for polygon in multipolygon:
        for ring in polygon:
            points = [projection.point(lon, lat) for lon, lat in ring]
            parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in points) + "Z")
    return "".join(parts)


@dataclass(frozen=True)
class Marker:
    station_id: str
    state: str  # online, offline, never-seen, revoked, awaiting-claim
    kind: str
    placement: Placement
    x: float
    y: float
    title: str
    count: int = 1  # stations behind a "province-group" marker


@dataclass(frozen=True)
class StationSpot:
    """What the map needs to know of a station."""

    station_id: str
    state: str
    kind: str
    latitude: float | None
    longitude: float | None
    province: str | None  # ISO code
    title: str


def place(spots: list[StationSpot]) -> tuple[list[Marker], list[str]]:
    """Markers for the stations that have a position or a province; the ids of the others."""
    projection = outline().projection
    markers: list[Marker] = []
    unplaced: list[str] = []
    at_capital: dict[str, list[StationSpot]] = {}
    for spot in spots:
        if (
            spot.latitude is not None
            and spot.longitude is not None
            and projection.contains(spot.longitude, spot.latitude)
        ):
            x, y = projection.point(spot.longitude, spot.latitude)
            markers.append(Marker(spot.station_id, spot.state, spot.kind, "gps", x, y, spot.title))
        elif spot.province and spot.province in provinces():
            at_capital.setdefault(spot.province, []).append(spot)
        else:
            unplaced.append(spot.station_id)
    for code, group in at_capital.items():
        capital = provinces()[code]
        cx, cy = projection.point(capital.lon, capital.lat)
        for index, spot in enumerate(group):
            dx = dy = 0.0
            if len(group) > 1:  # spread on a circle, first at the top
                angle = 2 * math.pi * index / len(group) - math.pi / 2
                radius = PLACEMENT_SPREAD * (1 + index // 12)
                dx, dy = radius * math.cos(angle), radius * math.sin(angle)
            markers.append(
                Marker(
                    spot.station_id,
                    spot.state,
                    spot.kind,
                    "province",
                    round(cx + dx, 1),
                    round(cy + dy, 1),
                    spot.title,
                )
            )
    return markers, unplaced


def place_by_province(
    spots: list[StationSpot], title_of: Callable[[str, int, int], str]
) -> list[Marker]:
    """One marker a province at its capital, for a large fleet: its station count, coloured by
    the worst state among them; stations placed by GPS count in their province's marker when
    they have a province, stations with neither are left out (the table lists them).
    ``title_of(province code, stations, stations not online)``: the marker's tooltip."""
    projection = outline().projection
    groups: dict[str, list[StationSpot]] = {}
    for spot in spots:
        if spot.province and spot.province in provinces():
            groups.setdefault(spot.province, []).append(spot)
    markers = []
    for code, group in sorted(groups.items()):
        capital = provinces()[code]
        x, y = projection.point(capital.lon, capital.lat)
        states = {spot.state for spot in group}
        worst = next((s for s in _WORST_FIRST if s in states), group[0].state)
        not_online = sum(1 for spot in group if spot.state != "online")
        title = title_of(code, len(group), not_online)
        x, y = round(x, 1), round(y, 1)
        markers.append(Marker(code, worst, "group", "province-group", x, y, title, len(group)))
    return markers


def capitals() -> list[tuple[str, float, float]]:
    """Every provincial capital (code, x, y): faint dots that show where provinces are."""
    projection = outline().projection
    return [(p.code, *projection.point(p.lon, p.lat)) for p in provinces().values()]

"""Build fleet/web/static/thailand.geojson: the outline the dashboard's map is drawn from.

Source: Natural Earth 1:10m Admin 0 countries (version 4.1.0, public domain), as redistributed
in TopoJSON by the npm package ``world-atlas`` 2.0.2 (ISC licence). Run it again to rebuild:

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/build_thailand_map.py package/countries-10m.json \
        fleet/web/static/thailand.geojson

Thailand is kept whole (islands smaller than MIN_ISLAND_KM2 dropped); its neighbours are clipped
to the map's frame, for context. Every ring is simplified (Douglas-Peucker) and its
coordinates rounded to 3 decimals (about 100 m), which keeps the file small enough to ship.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

THAILAND = "764"
NEIGHBOURS = {"104": "Myanmar", "418": "Laos", "116": "Cambodia", "458": "Malaysia",
              "704": "Vietnam"}  # fmt: skip
FRAME = (96.8, 5.2, 106.2, 20.9)  # west, south, east, north
TOLERANCE_DEG = {"thailand": 0.008, "neighbour": 0.02}
MIN_ISLAND_KM2 = 25.0

Point = tuple[float, float]
Ring = list[Point]


def decode_arcs(topology: dict[str, object]) -> list[Ring]:
    transform = topology["transform"]
    assert isinstance(transform, dict)
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs: list[Ring] = []
    for arc in topology["arcs"]:  # type: ignore[attr-defined]
        x = y = 0
        points: Ring = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_of(indexes: list[int], arcs: list[Ring]) -> Ring:
    ring: Ring = []
    for index in indexes:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        ring.extend(points if not ring else points[1:])
    return ring


def polygons_of(geometry: dict[str, object], arcs: list[Ring]) -> list[list[Ring]]:
    parts = geometry["arcs"]
    assert isinstance(parts, list)
    if geometry["type"] == "Polygon":
        parts = [parts]
    return [[ring_of(r, arcs) for r in polygon] for polygon in parts]


def area_km2(ring: Ring) -> float:
    lat0 = math.radians(sum(p[1] for p in ring) / len(ring))
    kx, ky = 111.32 * math.cos(lat0), 110.57
    twice = sum(
        (a[0] * kx) * (b[1] * ky) - (b[0] * kx) * (a[1] * ky)
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True)
    )
    return abs(twice) / 2


def simplify(points: Ring, tolerance: float) -> Ring:
    """Douglas-Peucker, iterative (rings have thousands of points)."""
    if len(points) < 4:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        worst, index = 0.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if norm == 0:
                distance = math.hypot(px - x1, py - y1)
            else:
                distance = abs(dy * px - dx * py + x2 * y1 - y2 * x1) / norm
            if distance > worst:
                worst, index = distance, i
        if worst > tolerance and index > 0:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, kept in zip(points, keep, strict=True) if kept]


def clip(ring: Ring, frame: tuple[float, float, float, float]) -> Ring:
    """Sutherland-Hodgman against the frame (good enough for drawing context)."""
    west, south, east, north = frame
    edges = (
        (lambda p: p[0] >= west, lambda a, b: _at_x(a, b, west)),
        (lambda p: p[0] <= east, lambda a, b: _at_x(a, b, east)),
        (lambda p: p[1] >= south, lambda a, b: _at_y(a, b, south)),
        (lambda p: p[1] <= north, lambda a, b: _at_y(a, b, north)),
    )
    out = ring
    for inside, cross in edges:
        points, out = out, []
        for i, current in enumerate(points):
            previous = points[i - 1]
            if inside(current):
                if not inside(previous):
                    out.append(cross(previous, current))
                out.append(current)
            elif inside(previous):
                out.append(cross(previous, current))
        if not out:
            return []
    return out


def _at_x(a: Point, b: Point, x: float) -> Point:
    t = (x - a[0]) / (b[0] - a[0])
    return (x, a[1] + t * (b[1] - a[1]))


def _at_y(a: Point, b: Point, y: float) -> Point:
    t = (y - a[1]) / (b[1] - a[1])
    return (a[0] + t * (b[0] - a[0]), y)


def closed(ring: Ring) -> list[list[float]]:
    rounded = [[round(x, 3), round(y, 3)] for x, y in ring]
    if rounded[0] != rounded[-1]:
        rounded.append(rounded[0])
    return rounded


def build(source: Path) -> dict[str, object]:
    topology = json.loads(source.read_text(encoding="utf-8"))
    arcs = decode_arcs(topology)
    features = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        code = geometry.get("id")
        if code != THAILAND and code not in NEIGHBOURS:
            continue
        role = "thailand" if code == THAILAND else "neighbour"
        polygons = []
        for polygon in polygons_of(geometry, arcs):
            outer = polygon[0]
            if role == "thailand" and area_km2(outer) < MIN_ISLAND_KM2:
                continue
            if role == "neighbour":
                outer = clip(outer, FRAME)
                if len(outer) < 4:
                    continue
            outer = simplify(outer, TOLERANCE_DEG[role])
            if len(outer) >= 4:
                polygons.append([closed(outer)])
        if polygons:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": geometry["properties"]["name"], "role": role},
                    "geometry": {"type": "MultiPolygon", "coordinates": polygons},
                }
            )
    return {
        "type": "FeatureCollection",
        "source": "Natural Earth 1:10m Admin 0 countries v4.1.0 (public domain, "
        "naturalearthdata.com), via the npm package world-atlas 2.0.2 (ISC licence, "
        "Copyright 2013-2019 Michael Bostock); simplified by scripts/build_thailand_map.py",
        "license": "Natural Earth data: public domain. Made with Natural Earth.",
        "frame": list(FRAME),
        "features": features,
    }


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    data = build(source)
    target.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n")
    points = sum(
        len(ring)
        for feature in data["features"]  # type: ignore[attr-defined]
        for polygon in feature["geometry"]["coordinates"]
        for ring in polygon
    )
    sys.stderr.write(f"{target}: {target.stat().st_size} bytes, {points} points\n")


if __name__ == "__main__":
    main()

"""Small line charts as inline SVG, computed on the server (no JavaScript, works offline).

``line_chart`` turns a series of (time, value) points into the coordinates a template draws:
a polyline per unbroken run (a gap in the data — no heartbeat for more than three of the
series' usual steps — breaks the line rather than drawing a slope across it), the y range with
a little headroom, and tick labels for both axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from statistics import median
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
WIDTH, HEIGHT = 320.0, 120.0
LEFT, RIGHT, TOP, BOTTOM = 40.0, 8.0, 8.0, 20.0  # margins for the axis labels


@dataclass(frozen=True)
class Chart:
    key: str  # a message key for the title
    runs: tuple[str, ...]  # polyline "x,y x,y ..." per unbroken run
    dots: tuple[tuple[float, float], ...]  # single points (a run of one)
    y_ticks: tuple[tuple[float, str], ...]  # (y, label)
    x_ticks: tuple[tuple[float, str], ...]  # (x, label)
    latest: str | None  # the newest value, formatted
    width: float = WIDTH
    height: float = HEIGHT

    @property
    def empty(self) -> bool:
        return not self.runs and not self.dots

    @property
    def plot_left(self) -> float:
        return LEFT

    @property
    def plot_right(self) -> float:
        return self.width - RIGHT

    @property
    def plot_bottom(self) -> float:
        return self.height - BOTTOM


def _format(value: float) -> str:
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}"


def line_chart(
    key: str,
    points: Sequence[tuple[datetime, float | None]],
    *,
    floor: float | None = None,
    ceiling: float | None = None,
) -> Chart:
    """``floor``/``ceiling``: fixed ends of the y axis (e.g. 0 and 100 for a percentage)."""
    present = [(at, value) for at, value in points if value is not None]
    if not present:
        return Chart(key, (), (), (), (), None)
    times = [at.timestamp() for at, _ in present]
    values = [value for _, value in present]
    t0, t1 = min(times), max(times)
    if t1 - t0 < 1:
        t0, t1 = t0 - 30, t1 + 30
    low = floor if floor is not None else min(values)
    high = ceiling if ceiling is not None else max(values)
    if high - low < 1e-9:
        low, high = (low - 1, high + 1) if floor is None else (low, low + 1)
    elif ceiling is None:
        high += (high - low) * 0.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(t: float, v: float) -> tuple[float, float]:
        x = LEFT + (t - t0) / (t1 - t0) * plot_w
        y = TOP + (1 - (min(max(v, low), high) - low) / (high - low)) * plot_h
        return round(x, 1), round(y, 1)

    steps = [b - a for a, b in pairwise(times)]
    gap = 3 * median(steps) if steps else float("inf")
    runs: list[list[tuple[float, float]]] = [[]]
    for index, (t, v) in enumerate(zip(times, values, strict=True)):
        if index and t - times[index - 1] > gap:
            runs.append([])
        runs[-1].append(xy(t, v))
    lines = tuple(" ".join(f"{x:g},{y:g}" for x, y in run) for run in runs if len(run) > 1)
    dots = tuple(run[0] for run in runs if len(run) == 1)
    y_ticks = tuple((xy(t0, v)[1], _format(v)) for v in (low, (low + high) / 2, high))

    def clock(t: float) -> str:
        moment = datetime.fromtimestamp(t, BANGKOK)
        return moment.strftime("%H:%M" if t1 - t0 <= 86400 else "%d/%m %H:%M")

    x_ticks = ((LEFT, clock(t0)), (WIDTH - RIGHT, clock(t1)))
    return Chart(key, lines, dots, y_ticks, x_ticks, _format(values[-1]))

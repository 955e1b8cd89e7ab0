"""How every benchmark reports: one line a figure, a ratio against a baseline from the same run.

These machines are noisy, so an absolute time means little; a ratio of our code against a
baseline measured seconds earlier on the same machine does.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Figure:
    name: str
    ratio: float | None
    target: str  # e.g. ">= 0.7"; empty when the issue names no target
    ours: str  # what we measured, with units
    baseline: str  # what the baseline measured, with units
    extra: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def meets_target(self) -> bool | None:
        if not self.target or self.ratio is None:
            return None
        op, _, value = self.target.partition(" ")
        limit = float(value)
        return self.ratio >= limit if op == ">=" else self.ratio <= limit


def report(figure: Figure) -> Figure:
    """Print the figure as a human line and as a JSON line (for scripts), then return it."""
    verdict = {True: "meets target", False: "BELOW TARGET", None: ""}[figure.meets_target]
    ratio = "n/a" if figure.ratio is None else f"{figure.ratio:.3f}"
    target = f" (target {figure.target}: {verdict})" if figure.target else ""
    sys.stdout.write(
        f"{figure.name}: ratio {ratio}{target}\n    ours: {figure.ours}\n"
        f"    baseline: {figure.baseline}\n"
    )
    for key, value in figure.extra.items():
        sys.stdout.write(f"    {key}: {value}\n")
    sys.stdout.write("BENCH " + json.dumps(asdict(figure) | {"meets": figure.meets_target}) + "\n")
    sys.stdout.flush()
    return figure


def _crossed(size: int, seconds: float) -> str:
    return f"{size / 1e6:.2f} MB in {seconds:.1f} s, {size / seconds * 8 / 1000:.1f} kbit/s"


def report_link(
    name: str,
    *,
    target: str,
    ours: tuple[str, int, float],
    capacity: tuple[str, int, float],
    nominal_bps: float,
    extra: dict[str, float | int | str] | None = None,
) -> Figure:
    """A transfer over a capped link against the link's capacity measured in the same run,
    each given as (how it was measured, bytes that crossed, seconds): ratio = our goodput /
    the capacity."""
    (how, size, seconds), (capacity_how, capacity_size, capacity_seconds) = ours, capacity
    goodput = size / seconds
    return report(
        Figure(
            name=name,
            ratio=goodput / (capacity_size / capacity_seconds),
            target=target,
            ours=f"{how}: {_crossed(size, seconds)}",
            baseline=f"{capacity_how}: {_crossed(capacity_size, capacity_seconds)}",
            extra={
                f"against the nominal {nominal_bps * 8 / 1000:.0f} kbit/s": (
                    f"{goodput / nominal_bps:.3f}"
                ),
                **(extra or {}),
            },
        )
    )

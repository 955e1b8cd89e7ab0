"""What `ewp demo` runs: the options of one demo (the command line's, in ewp/cli/demo.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protocol.station_config import ALL_FINGERS


@dataclass
class DemoOptions:
    stations: int = 48
    mobile: int = 8
    enrolments_per_station: int = 3
    fingers: tuple[str, ...] = ALL_FINGERS
    eyes: tuple[str, ...] = ("left", "right")
    cut_links: int | None = None  # mobile units that lose their link; default: half of them
    cut_after_s: float = 0.0  # 0: those vans start out of coverage and enrol offline
    cut_for_s: float = 40.0
    timeout_s: float = 900.0
    workdir: Path | None = None
    keep: bool = False
    seed: int = 7
    kiosk: bool = False  # one more station serving its kiosk, driven by an autopilot
    enrolment_interval_s: float = 1.0  # the autopilot's pause between applicants
    rollout: bool = False  # roll a new agent release out over `updatable` stations
    rollout_fail_canary: bool = False  # ... a broken one: the canary rolls back, it halts
    updatable: int = 6

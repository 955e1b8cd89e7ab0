"""While the demo's fleet enrols: the progress bars, the vans' links cut and restored on time,
until every packet created is stored at the fleet (or the demo's time is up)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rich.progress import Progress

from ewp.demo.fleet import DemoFleet
from ewp.demo.options import DemoOptions
from ewp.demo.stations import Station, set_links
from fleet.errors import FleetError

log = logging.getLogger(__name__)


def watch(
    progress: Progress,
    options: DemoOptions,
    fleet: DemoFleet,
    stations: list[Station],
    *,
    to_cut: list[Station],
    expected: int,
    created: Callable[[], int],
    supervised: Callable[[Station], bool],
    started: float,
) -> int:
    """Watch until done; the number of links that were cut. ``created`` counts the packets
    the stations made so far; an agent that exits fails the demo unless ``supervised`` (a
    `--rollout` station, restarted by its supervisor)."""
    created_task = progress.add_task("packets created at stations", total=expected)
    received_task = progress.add_task("packets stored at the fleet", total=expected)
    links_task = progress.add_task(f"mobile links to cut: {len(to_cut)}", total=len(to_cut))
    cut_done = restored = not to_cut
    with fleet.api() as api:
        while True:
            elapsed = time.monotonic() - started
            if not cut_done and elapsed >= options.cut_after_s:
                set_links(to_cut, up=False)
                cut_done = True
                progress.update(
                    links_task,
                    description=f"mobile links cut: {len(to_cut)} vans out of coverage",
                )
            if cut_done and not restored and elapsed >= options.cut_after_s + options.cut_for_s:
                set_links(to_cut, up=True)
                restored = True
                progress.update(
                    links_task,
                    completed=len(to_cut),
                    description="mobile links restored: catching up",
                )
            made = created()
            received = fleet.received(api)
            progress.update(created_task, completed=made)
            progress.update(received_task, completed=received)
            dead = [
                s.station_id
                for s in stations
                if s.process is not None and s.process.poll() is not None and not supervised(s)
            ]
            if dead:
                raise FleetError(f"station agents exited: {', '.join(dead)}; see {fleet.logs}")
            if restored and made >= expected and received >= expected:
                return len(to_cut)
            if elapsed > options.timeout_s:
                log.warning("demo timed out after %.0f s", elapsed)
                return len(to_cut)
            time.sleep(1.0)

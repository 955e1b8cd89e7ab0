"""`ewp demo`: broker, fleet service and a simulated fleet of stations, end to end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

ROLLOUT_ENROLMENT_INTERVAL_S = 10.0


def demo(
    stations: Annotated[int, typer.Option(min=1, max=500, help="stations in all")] = 48,
    mobile: Annotated[int, typer.Option(min=0, help="how many of them are mobile units")] = 8,
    enrollments_per_station: Annotated[
        int, typer.Option(min=1, max=1000, help="applicants each station enrols")
    ] = 3,
    fingers: Annotated[
        str, typer.Option(help="comma-separated fingers captured per applicant ('all': ten)")
    ] = "all",
    eyes: Annotated[str, typer.Option(help="eyes captured: left,right or none")] = "left,right",
    cut_links: Annotated[
        int | None, typer.Option(help="mobile units that lose their link (default: half)")
    ] = None,
    cut_after: Annotated[
        float, typer.Option(help="seconds before the links go down (0: vans start offline)")
    ] = 0.0,
    cut_for: Annotated[float, typer.Option(help="seconds the cut links stay down")] = 40.0,
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 900.0,
    workdir: Annotated[Path | None, typer.Option(help="keep everything in this directory")] = None,
    keep: Annotated[bool, typer.Option(help="keep the temporary directory")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object on the last line")
    ] = False,
    kiosk: Annotated[
        bool,
        typer.Option(
            help="one more station serves its kiosk UI (address printed); an autopilot enrols "
            "one applicant through it"
        ),
    ] = False,
    rollout: Annotated[
        bool,
        typer.Option(
            help="build the next agent release and roll it out in phases over --updatable "
            "stations while the fleet enrols"
        ),
    ] = False,
    rollout_fail_canary: Annotated[
        bool,
        typer.Option(
            help="the same with a broken build: the canary fails its health check, rolls back "
            "by itself and the rollout halts"
        ),
    ] = False,
    updatable: Annotated[
        int, typer.Option(min=1, help="with a rollout: stations run from release layouts")
    ] = 6,
    hold: Annotated[
        bool | None,
        typer.Option(help="keep the fleet running after the summary (default: on a terminal)"),
    ] = None,
) -> None:
    """Run the whole system on this machine and show what arrived, packet by packet."""
    from rich.console import Console

    from ewp import log
    from ewp.demo.options import DemoOptions
    from ewp.demo.run import run_demo
    from ewp.demo.summary import result_json
    from protocol.station_config import ALL_FINGERS

    log.configure("WARNING")
    console = Console(stderr=as_json)
    options = DemoOptions(
        stations=stations,
        mobile=mobile,
        enrolments_per_station=enrollments_per_station,
        fingers=ALL_FINGERS
        if fingers == "all"
        else tuple(f.strip() for f in fingers.split(",") if f.strip()),
        eyes=() if eyes == "none" else tuple(e.strip() for e in eyes.split(",") if e.strip()),
        cut_links=cut_links,
        cut_after_s=cut_after,
        cut_for_s=cut_for,
        timeout_s=timeout,
        workdir=workdir,
        keep=keep,
        kiosk=kiosk,
        rollout=rollout,
        rollout_fail_canary=rollout_fail_canary,
        updatable=updatable,
        # With a rollout, the stations keep enrolling while it runs (one applicant every 10 s).
        enrolment_interval_s=ROLLOUT_ENROLMENT_INTERVAL_S
        if rollout or rollout_fail_canary
        else 1.0,
    )
    if hold is None:
        hold = sys.stdout.isatty() and not as_json
    result = run_demo(options, console, hold=hold)
    if as_json:
        typer.echo(result_json(result))
    if not result.ok:
        raise typer.Exit(1)

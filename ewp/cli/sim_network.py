"""`ewp sim network`: fault-injecting TCP proxies between stations and the broker."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer


def _hostport(url: str, option: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(
            f"must look like tcp://127.0.0.1:1883, got {url!r}", param_hint=option
        )
    return host, int(port)


def network(
    upstream: Annotated[str, typer.Option(help="where to forward: tcp://HOST:PORT (the broker)")],
    listen: Annotated[
        list[str], typer.Option(help="tcp://HOST:PORT to listen on; repeat for several links")
    ] = ["tcp://127.0.0.1:0"],  # noqa: B006 (typer needs a list default)
    latency_ms: Annotated[float, typer.Option(min=0, help="one-way latency")] = 0.0,
    bandwidth_kbps: Annotated[float, typer.Option(min=0, help="cap per direction; 0 = none")] = 0.0,
    drop_rate: Annotated[
        float, typer.Option(min=0, max=1, help="resets per connection-second")
    ] = 0.0,
    reset_every_s: Annotated[
        float, typer.Option(min=0, help="reset every open connection about this often; 0 = never")
    ] = 0.0,
    reset_jitter: Annotated[
        float, typer.Option(min=0, max=0.9, help="each reset interval within this fraction of it")
    ] = 0.1,
    seed: Annotated[
        int | None, typer.Option(help="makes drops and reset jitter repeatable (default: by name)")
    ] = None,
    schedule: Annotated[
        Path | None, typer.Option(help='JSON list of {"at_s": 10, "action": "cut", "link": name}')
    ] = None,
    control: Annotated[
        str | None, typer.Option(help="JSON-lines control port, tcp://HOST:PORT")
    ] = None,
) -> None:
    """Serve faulty links; prints one line per link: NAME LISTEN-URL (then the control URL)."""
    from ewp import log
    from ewp.cli.sim_serving import serve_until_signalled
    from simulators.network import (
        LinkProfile,
        NetworkSimulator,
        parse_schedule,
        run_schedule,
        serve_control,
    )

    log.configure("INFO")
    up = _hostport(upstream, "--upstream")
    profile = LinkProfile(
        latency_s=latency_ms / 1000,
        bandwidth_bps=bandwidth_kbps * 1000 / 8,
        drop_rate=drop_rate,
        reset_every_s=reset_every_s,
        reset_jitter=reset_jitter,
    )
    faults = parse_schedule(json.loads(schedule.read_text())) if schedule else []
    stop = threading.Event()  # also ends the schedule
    with NetworkSimulator() as sim:
        for n, url in enumerate(listen, start=1):
            link = sim.add_link(
                up, listen=_hostport(url, "--listen"), profile=profile, name=f"link-{n}", seed=seed
            )
            sys.stdout.write(f"{link.name} tcp://{link.address}\n")
        if control:
            control_host, control_port = _hostport(control, "--control")
            port = serve_control(sim, control_host, control_port).port
            sys.stdout.write(f"control tcp://{control_host}:{port}\n")
        sys.stdout.flush()
        if faults:
            threading.Thread(target=run_schedule, args=(sim, faults, stop), daemon=True).start()
        serve_until_signalled(stop)

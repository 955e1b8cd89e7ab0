"""`ewp sim iris`: serve simulated IriShield-style USB iris cameras.

The first line on stdout is the URL of the first camera (with ``--count N``, N lines, one URL
each), flushed at once so that a script or a test can read it and connect; then the process
serves until SIGINT or SIGTERM. See docs/tools/ewp-sim-iris.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ewp.cli.sim_fingerprint import _serve_until_signalled

if TYPE_CHECKING:
    from simulators.iris import CameraConfig, Timing
    from simulators.iris_faults import Fault


def _range(text: str | None, option: str) -> tuple[float, float] | None:
    """``MIN-MAX`` (or one number) in seconds."""
    if text is None:
        return None
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise typer.BadParameter(
            f"{option} takes seconds as MIN-MAX (0.5-2) or one number, got {text!r}"
        ) from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise typer.BadParameter(f"{option} needs 0 <= MIN <= MAX, got {text!r}")
    return bounds


def _timing(
    fast: bool, find: str | None, capture: str | None, status_interval: float | None
) -> Timing:
    from dataclasses import replace

    from simulators.iris import DEFAULT_TIMING, FAST_TIMING

    timing = FAST_TIMING if fast else DEFAULT_TIMING
    find_range = _range(find, "--find-time")
    capture_range = _range(capture, "--capture-time")
    if find_range is not None:
        timing = replace(timing, find=find_range)
    if capture_range is not None:
        timing = replace(timing, capture=capture_range)
    if status_interval is not None:
        timing = replace(timing, status_interval=status_interval)
    return timing


def iris(
    listen: Annotated[
        str | None,
        typer.Option(help="Serve on TCP: tcp://HOST:PORT (port 0 picks a free one)."),
    ] = None,
    pty: Annotated[bool, typer.Option("--pty", help="Serve on pseudo-terminals instead.")] = False,
    count: Annotated[
        int, typer.Option(min=1, max=64, help="How many independent cameras to serve.")
    ] = 1,
    mode: Annotated[
        str,
        typer.Option(
            help="auto: a scripted queue of applicants; manual: persons via control port."
        ),
    ] = "auto",
    control: Annotated[
        str | None,
        typer.Option(help="Control port for tests: tcp://HOST:PORT, JSON lines."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of eyes, applicants and poor captures.")] = 0,
    captures_per_person: Annotated[
        int, typer.Option(min=1, help="auto: completed captures of each person before the next.")
    ] = 2,
    poor_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="auto: share of poor eyes (occluded, blurred).")
    ] = 0.1,
    fast: Annotated[
        bool, typer.Option("--fast", help="Hundredths of a second instead of real timing.")
    ] = False,
    find_time: Annotated[
        str | None, typer.Option(help="Seconds an eye is in view before capturing: MIN-MAX.")
    ] = None,
    capture_time: Annotated[
        str | None, typer.Option(help="Seconds a capture lasts: MIN-MAX.")
    ] = None,
    status_interval: Annotated[
        float | None, typer.Option(min=0.001, help="Seconds between status events.")
    ] = None,
    pace: Annotated[
        bool, typer.Option("--pace/--no-pace", help="Send at full-speed USB rate (1 MB/s).")
    ] = False,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="Arm a fault, e.g. no-eye (repeatable; see the docs)."),
    ] = None,
    faults: Annotated[
        Path | None, typer.Option(help="Arm the faults listed in a JSON or TOML file.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level on stderr.")] = "WARNING",
    wire_log: Annotated[bool, typer.Option(help="Log every frame (ewp.wire.*).")] = False,
) -> None:
    """Serve simulated IriShield-style iris cameras on TCP or pseudo-terminals."""
    from ewp.log import configure
    from simulators.control_port import ControlPort
    from simulators.iris import CameraConfig, SimulatedIrisCamera
    from simulators.iris_control import serve_control
    from simulators.iris_faults import FaultSpecError, load_faults, parse_fault
    from simulators.serial_endpoints import Endpoint, parse_tcp_url, serve_pty, serve_tcp

    configure(log_level, wire=wire_log)
    if pty == (listen is not None):
        raise typer.BadParameter("give either --listen tcp://HOST:PORT or --pty")
    if mode not in ("auto", "manual"):
        raise typer.BadParameter(f"--mode must be auto or manual, got {mode!r}")
    try:
        armed: list[Fault] = [parse_fault(spec) for spec in fault or []]
        if faults is not None:
            armed += load_faults(faults)
    except FaultSpecError as exc:
        raise typer.BadParameter(str(exc)) from None
    host, first_port = "127.0.0.1", 0
    if listen is not None:
        try:
            host, first_port = parse_tcp_url(listen)
        except ValueError as exc:
            raise typer.BadParameter(f"--listen: {exc}") from None

    configs: list[CameraConfig] = []
    try:
        timing = _timing(fast, find_time, capture_time, status_interval)
        for index in range(count):
            configs.append(
                CameraConfig(
                    mode=mode,  # type: ignore[arg-type]  # checked above
                    seed=seed,
                    index=index,
                    captures_per_person=captures_per_person,
                    poor_rate=poor_rate,
                    timing=timing,
                    pace=pace,
                    faults=list(armed),
                )
            )
        cameras = [SimulatedIrisCamera(config) for config in configs]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    endpoints: list[Endpoint] = []
    control_server: ControlPort | None = None
    try:
        for index, camera in enumerate(cameras):
            if pty:
                endpoints.append(serve_pty(camera.session))
            else:
                port = first_port + index if first_port else 0
                endpoints.append(serve_tcp(camera.session, host, port))
        if control is not None:
            control_host, control_port = parse_tcp_url(control)
            control_server = serve_control(cameras, control_host, control_port)
    except (OSError, ValueError) as exc:
        for endpoint in endpoints:
            endpoint.stop()
        raise typer.BadParameter(f"cannot serve: {exc}") from None

    for endpoint in endpoints:
        sys.stdout.write(endpoint.url + "\n")
    sys.stdout.flush()
    if control_server is not None:
        sys.stderr.write(f"control port: {control_server.url}\n")
        sys.stderr.flush()

    _serve_until_signalled()
    for endpoint in endpoints:
        endpoint.stop()
    if control_server is not None:
        control_server.stop()

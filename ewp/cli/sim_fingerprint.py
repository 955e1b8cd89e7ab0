"""`ewp sim fingerprint`: serve simulated R30x / R503 fingerprint sensors.

The first line on stdout is the URL of the first sensor (with ``--count N``, N lines, one URL
each), flushed at once so that a script or a test can read it and connect; then the process
serves until SIGINT or SIGTERM. See docs/tools/ewp-sim-fingerprint.md.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from simulators.fingerprint import SensorConfig
    from simulators.fingerprint_faults import Fault


def _number(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise typer.BadParameter(
            f"{what} must be a number (decimal or 0x...), got {text!r}"
        ) from None


def library_for(path: Path | None, index: int) -> Path | None:
    """Sensor 0 uses PATH itself; sensor i > 0 uses PATH with ``-i`` before the suffix."""
    if path is None or index == 0:
        return path
    return path.with_name(f"{path.stem}-{index}{path.suffix}")


def fingerprint(
    listen: Annotated[
        str | None,
        typer.Option(help="Serve on TCP: tcp://HOST:PORT (port 0 picks a free one)."),
    ] = None,
    pty: Annotated[bool, typer.Option("--pty", help="Serve on pseudo-terminals instead.")] = False,
    count: Annotated[
        int, typer.Option(min=1, max=64, help="How many independent sensors to serve.")
    ] = 1,
    mode: Annotated[
        str, typer.Option(help="auto: a scripted applicant presses fingers; manual: control port.")
    ] = "auto",
    control: Annotated[
        str | None,
        typer.Option(help="Control port for tests: tcp://HOST:PORT, JSON lines."),
    ] = None,
    library: Annotated[
        Path | None,
        typer.Option(help="JSON file of the template library (kept across restarts)."),
    ] = None,
    capacity: Annotated[int, typer.Option(help="Template library size (pages).")] = 200,
    pace: Annotated[
        bool, typer.Option("--pace/--no-pace", help="Send at the wire speed of the baud rate.")
    ] = False,
    baud: Annotated[int, typer.Option(help="Baud rate (9600 x N) the sensor starts with.")] = 57600,
    packet_size: Annotated[int, typer.Option(help="Data packet size: 32, 64, 128, 256.")] = 128,
    security_level: Annotated[int, typer.Option(help="Matching security level 1..5.")] = 3,
    password: Annotated[
        str, typer.Option(help="Module password (0 = none), decimal or 0x...")
    ] = "0",  # noqa: S107 - the module's handshake number; 0 means none
    address: Annotated[str, typer.Option(help="Module address.")] = "0xFFFFFFFF",
    seed: Annotated[int, typer.Option(help="Seed of fingers, applicants and poor presses.")] = 0,
    presses_per_finger: Annotated[
        int, typer.Option(min=1, help="auto: presses of each finger before the next finger.")
    ] = 1,
    poor_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="auto: share of poor presses.")
    ] = 0.1,
    lift_polls: Annotated[
        int, typer.Option(min=1, help="auto: GenImg polls answered 'no finger' between presses.")
    ] = 2,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="Arm a fault, e.g. no-finger:3 (repeatable; see the docs)."),
    ] = None,
    faults: Annotated[
        Path | None, typer.Option(help="Arm the faults listed in a JSON or TOML file.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level on stderr.")] = "WARNING",
    wire_log: Annotated[bool, typer.Option(help="Log every packet (ewp.wire.*).")] = False,
) -> None:
    """Serve simulated R30x / R503 fingerprint sensors on TCP or pseudo-terminals."""
    from ewp.log import configure
    from simulators.control_port import ControlPort
    from simulators.fingerprint import SensorConfig, SimulatedFingerprintSensor
    from simulators.fingerprint_control import serve_control
    from simulators.fingerprint_faults import FaultSpecError, load_faults, parse_fault
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

    configs: list[SensorConfig] = []
    try:
        for index in range(count):
            configs.append(
                SensorConfig(
                    mode=mode,  # type: ignore[arg-type]  # checked above
                    address=_number(address, "--address"),
                    password=_number(password, "--password"),
                    library=library_for(library, index),
                    capacity=capacity,
                    baudrate=baud,
                    pace=pace,
                    packet_size=packet_size,
                    security_level=security_level,
                    seed=seed,
                    index=index,
                    presses_per_finger=presses_per_finger,
                    poor_rate=poor_rate,
                    lift_polls=lift_polls,
                    faults=list(armed),
                )
            )
        sensors = [SimulatedFingerprintSensor(config) for config in configs]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    endpoints: list[Endpoint] = []
    control_server: ControlPort | None = None
    try:
        for index, sensor in enumerate(sensors):
            if pty:
                endpoints.append(serve_pty(sensor.session))
            else:
                port = first_port + index if first_port else 0
                endpoints.append(serve_tcp(sensor.session, host, port))
        if control is not None:
            control_host, control_port = parse_tcp_url(control)
            control_server = serve_control(sensors, control_host, control_port)
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


def _serve_until_signalled() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

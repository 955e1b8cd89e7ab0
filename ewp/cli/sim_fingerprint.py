"""`ewp sim fingerprint`: serve simulated R30x / R503 fingerprint sensors.

Here: the sensor's own options (its address and password, baud rate and packet size, the
template library, the scripted applicant's presses) mapped onto ``SensorConfig``. Serving N
sensors, the control port and the options every simulator takes are `sim_serving`'s.
See docs/tools/ewp-sim-fingerprint.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ewp.cli import sim_serving as serving
from ewp.cli.shared_options import number


def library_for(path: Path | None, index: int) -> Path | None:
    """Sensor 0 uses PATH itself; sensor i > 0 uses PATH with ``-i`` before the suffix."""
    if path is None or index == 0:
        return path
    return path.with_name(f"{path.stem}-{index}{path.suffix}")


def fingerprint(
    ctx: typer.Context,
    listen: serving.ListenOption = None,
    pty: serving.PtyOption = False,
    count: serving.CountOption = 1,
    mode: Annotated[
        str, typer.Option(help="auto: a scripted applicant presses fingers; manual: control port.")
    ] = "auto",
    control: serving.ControlOption = None,
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
    fault: serving.FaultOption = None,
    faults: serving.FaultsFileOption = None,
    log_level: serving.LogLevelOption = "WARNING",
    wire_log: serving.WireLogOption = False,
) -> None:
    """Serve simulated R30x / R503 fingerprint sensors on TCP or pseudo-terminals."""
    from simulators.fingerprint import SensorConfig, SimulatedFingerprintSensor
    from simulators.fingerprint_control import serve_control
    from simulators.fingerprint_faults import SYNTAX, Fault

    def sensor(index: int, armed: list[Fault]) -> SimulatedFingerprintSensor:
        config = SensorConfig(
            mode=mode,  # type: ignore[arg-type]  # checked by serve_simulated_devices
            address=number(address, "--address"),
            password=number(password, "--password"),
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
            faults=armed,
        )
        return SimulatedFingerprintSensor(config)

    serving.serve_simulated_devices(sensor, serve_control, SYNTAX, ctx.params)

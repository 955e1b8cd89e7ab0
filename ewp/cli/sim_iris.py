"""`ewp sim iris`: serve simulated IriShield-style USB iris cameras.

Here: the camera's own options (the timing of a capture, as ranges of seconds; the scripted
queue of applicants) mapped onto ``CameraConfig``. Serving N cameras, the control port and the
options every simulator takes are `sim_serving`'s. See docs/tools/ewp-sim-iris.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ewp.cli import sim_serving as serving

if TYPE_CHECKING:
    from simulators.iris import Timing


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
    ctx: typer.Context,
    listen: serving.ListenOption = None,
    pty: serving.PtyOption = False,
    count: serving.CountOption = 1,
    mode: Annotated[
        str,
        typer.Option(
            help="auto: a scripted queue of applicants; manual: persons via control port."
        ),
    ] = "auto",
    control: serving.ControlOption = None,
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
    fault: serving.FaultOption = None,
    faults: serving.FaultsFileOption = None,
    log_level: serving.LogLevelOption = "WARNING",
    wire_log: serving.WireLogOption = False,
) -> None:
    """Serve simulated IriShield-style iris cameras on TCP or pseudo-terminals."""
    from simulators.iris import CameraConfig, SimulatedIrisCamera
    from simulators.iris_control import serve_control
    from simulators.iris_faults import SYNTAX, Fault

    def camera(index: int, armed: list[Fault]) -> SimulatedIrisCamera:
        config = CameraConfig(
            mode=mode,  # type: ignore[arg-type]  # checked by serve_simulated_devices
            seed=seed,
            index=index,
            captures_per_person=captures_per_person,
            poor_rate=poor_rate,
            timing=_timing(fast, find_time, capture_time, status_interval),
            pace=pace,
            faults=armed,
        )
        return SimulatedIrisCamera(config)

    serving.serve_simulated_devices(camera, serve_control, SYNTAX, ctx.params)

"""`ewp sim controller`: a simulated station controller board running the real firmware."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer()


@app.callback(invoke_without_command=True)
def controller(
    ctx: typer.Context,
    pty: Annotated[bool, typer.Option("--pty", help="Serve on a new pseudo-terminal.")] = False,
    listen: Annotated[str | None, typer.Option(help="Serve on tcp://HOST:PORT.")] = None,
    flash: Annotated[
        Path | None,
        typer.Option(help="The board's flash: a directory kept across runs (default: temp)."),
    ] = None,
    profile: Annotated[
        str, typer.Option(help="Sensors: steady, parked-van, generator-cut or random.")
    ] = "steady",
    time_scale: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    secret_file: Annotated[
        Path | None, typer.Option(help="Provision the tamper secret from this file.")
    ] = None,
    gps: Annotated[bool, typer.Option("--gps", help="Fit a GPS receiver (mobile unit).")] = False,
    control: Annotated[
        str, typer.Option(help="Control port for `ewp sim controller send` (port 0: any free).")
    ] = "tcp://127.0.0.1:0",
    baud: Annotated[int, typer.Option(help="Pace the line at this rate (0: unpaced).")] = 115200,
) -> None:
    """Run the board. Prints its URL on the first line and its control port on the second;
    then takes commands on stdin (button, tamper open|close, power off|on, power-cycle, ...)."""
    if ctx.invoked_subcommand is not None:
        return
    import tempfile

    from ewp.cli.sim_serving import serve_until_signalled
    from simulators.controller import ControllerBoard
    from simulators.controller_control import COMMANDS, board_command, serve_control
    from simulators.errors import SimulatorError
    from simulators.serial_endpoints import parse_tcp_url

    if not pty and not listen:
        raise SimulatorError("give --pty or --listen tcp://HOST:PORT")
    try:
        control_host, control_port = parse_tcp_url(control)
    except ValueError as exc:
        raise SimulatorError(f"--control: {exc}") from None
    secret = secret_file.read_bytes() if secret_file is not None else None
    tmp = None if flash is not None else tempfile.TemporaryDirectory(prefix="ewp-sim-flash-")
    board = ControllerBoard(
        flash if flash is not None else Path(tmp.name if tmp else "."),
        profile=profile,
        time_scale=time_scale,
        secret=secret,
        gps=gps,
        baudrate=baud,
    )
    board.start()
    endpoint = board.serve(pty=pty, listen=listen)
    control_url = serve_control(board, control_host, control_port).url
    sys.stdout.write(endpoint.url + "\n")
    sys.stdout.write(f"control {control_url}\n")
    sys.stdout.flush()

    def read_stdin() -> None:
        for line in sys.stdin:
            reply = board_command(board, line)
            if reply:
                sys.stdout.write(reply + "\n")
                sys.stdout.flush()

    if sys.stdin is not None and not sys.stdin.closed:
        typer.echo(f"commands: {COMMANDS}", err=True)
        threading.Thread(target=read_stdin, daemon=True).start()
    try:
        serve_until_signalled()
    finally:
        endpoint.stop()
        board.stop()
        if tmp is not None:
            tmp.cleanup()


@app.command()
def send(
    command: Annotated[list[str], typer.Argument(help="e.g. tamper open, button 2, power-cycle")],
    control: Annotated[str, typer.Option(help="The control URL the simulator printed.")],
) -> None:
    """Send one command to a running simulated board."""
    from simulators.controller_control import send_control

    typer.echo(send_control(control, " ".join(command)))

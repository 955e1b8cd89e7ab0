"""How the `ewp sim` commands serve their devices from the command line.

What `ewp sim fingerprint` and `ewp sim iris` do the same way: `--listen tcp://HOST:PORT` or
`--pty`, `--mode auto|manual`, faults from `--fault` and `--faults FILE`, N devices on
consecutive TCP ports (or ptys) whose URLs go to stdout first and are flushed at once, a
control port whose URL goes to stderr, then serving until SIGINT or SIGTERM (exit code 0).
`ewp sim controller` and `ewp sim network` wait for their signals the same way.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import typer

if TYPE_CHECKING:
    from simulators.control_port import ControlPort
    from simulators.faults import Fault, FaultSyntax
    from simulators.serial_endpoints import ByteStream, Session

    F = TypeVar("F", bound=Fault)
    D = TypeVar("D", bound="ServedDevice")


class ServedDevice(Protocol):
    def session(self, stream: ByteStream) -> None: ...


# The options every `ewp sim <device>` command takes, with the same meaning.
ListenOption = Annotated[
    str | None, typer.Option(help="Serve on TCP: tcp://HOST:PORT (port 0 picks a free one).")
]
PtyOption = Annotated[bool, typer.Option("--pty", help="Serve on pseudo-terminals instead.")]
ControlOption = Annotated[
    str | None, typer.Option(help="Control port for tests: tcp://HOST:PORT, JSON lines.")
]
FaultsFileOption = Annotated[
    Path | None, typer.Option(help="Arm the faults listed in a JSON or TOML file.")
]
LogLevelOption = Annotated[str, typer.Option(help="Log level on stderr.")]
CountOption = Annotated[
    int, typer.Option(min=1, max=64, help="How many independent devices to serve.")
]
FaultOption = Annotated[
    list[str] | None, typer.Option(help="Arm a fault (repeatable; syntax in the docs).")
]
WireLogOption = Annotated[bool, typer.Option(help="Log every frame on the wire (ewp.wire.*).")]


def listen_address(listen: str | None, pty: bool) -> tuple[str, int]:
    """Check ``--listen`` / ``--pty`` (exactly one); the host and first port to listen on."""
    from simulators.serial_endpoints import parse_tcp_url

    if pty == (listen is not None):
        raise typer.BadParameter("give either --listen tcp://HOST:PORT or --pty")
    if listen is None:
        return "127.0.0.1", 0
    try:
        return parse_tcp_url(listen)
    except ValueError as exc:
        raise typer.BadParameter(f"--listen: {exc}") from None


def check_mode(mode: str) -> None:
    if mode not in ("auto", "manual"):
        raise typer.BadParameter(f"--mode must be auto or manual, got {mode!r}")


def armed_faults(syntax: FaultSyntax[F], specs: list[str] | None, path: Path | None) -> list[F]:
    """The faults of ``--fault SPEC`` (repeatable) and then of ``--faults FILE``."""
    from simulators.faults import FaultSpecError

    try:
        armed = [syntax.parse(spec) for spec in specs or []]
        if path is not None:
            armed += syntax.load(path)
    except FaultSpecError as exc:
        raise typer.BadParameter(str(exc)) from None
    return armed


def serve_simulated_devices(
    make: Callable[[int, list[F]], D],
    open_control: Callable[[list[D], str, int], ControlPort],
    syntax: FaultSyntax[F],
    options: Mapping[str, Any],
) -> None:
    """What an `ewp sim <device>` command does once Typer has read its options.

    ``options`` are the command's parameters (``ctx.params``); the ones every device command
    takes are read here: logging set up (``log_level``, ``wire_log``), ``listen`` / ``pty``
    and ``mode`` checked, the faults of ``fault`` and ``faults`` parsed, ``count`` devices made
    by ``make(index, faults)`` (a ValueError from a device's settings is the user's: a bad
    parameter), then served (``control`` for the control port) until a signal.
    """
    from ewp.log import configure

    configure(options["log_level"], wire=options["wire_log"])
    pty: bool = options["pty"]
    host, first_port = listen_address(options["listen"], pty)
    check_mode(options["mode"])
    armed = armed_faults(syntax, options["fault"], options["faults"])
    try:
        devices = [make(index, list(armed)) for index in range(options["count"])]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    serve_devices(
        [device.session for device in devices],
        pty=pty,
        host=host,
        first_port=first_port,
        control=options["control"],
        open_control=lambda host, port: open_control(devices, host, port),
    )


def serve_devices(
    sessions: Sequence[Session],
    *,
    pty: bool,
    host: str,
    first_port: int,
    control: str | None,
    open_control: Callable[[str, int], ControlPort],
) -> None:
    """Serve one device a session until SIGINT or SIGTERM, then stop them all.

    Each device gets a pty, or a TCP port: ``first_port + i`` (any free one when
    ``first_port`` is 0). Their URLs go to stdout, one a line, flushed at once so that a script
    can read the first one and connect; ``--control`` opens the control port (its URL goes to
    stderr).
    """
    from simulators.serial_endpoints import Endpoint, parse_tcp_url, serve_pty, serve_tcp

    endpoints: list[Endpoint] = []
    control_port: ControlPort | None = None
    try:
        for index, session in enumerate(sessions):
            if pty:
                endpoints.append(serve_pty(session))
            else:
                port = first_port + index if first_port else 0
                endpoints.append(serve_tcp(session, host, port))
        if control is not None:
            control_port = open_control(*parse_tcp_url(control))
    except (OSError, ValueError) as exc:
        for endpoint in endpoints:
            endpoint.stop()
        raise typer.BadParameter(f"cannot serve: {exc}") from None

    for endpoint in endpoints:
        sys.stdout.write(endpoint.url + "\n")
    sys.stdout.flush()
    if control_port is not None:
        sys.stderr.write(f"control port: {control_port.url}\n")
        sys.stderr.flush()

    serve_until_signalled()
    for endpoint in endpoints:
        endpoint.stop()
    if control_port is not None:
        control_port.stop()


def serve_until_signalled(stop: threading.Event | None = None) -> None:
    """Return on SIGINT or SIGTERM (or once ``stop`` is set); the handlers are put back."""
    stop = stop or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""`ewp sensor` commands: talk to a biometric sensor directly.

Results are JSON on stdout; prompts and progress go to stderr; errors go through
`ewp/cli/errors.py` (exit code 2). See docs/tools/ewp-sensor.md.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from edge.drivers.fingerprint_r30x import FingerprintSensor

app = typer.Typer(no_args_is_help=True)
fingerprint_app = typer.Typer(
    no_args_is_help=True, help="An R30x / ZFM-20 / AS608 / R503 fingerprint module on a UART."
)
app.add_typer(fingerprint_app, name="fingerprint")

Port = Annotated[
    str,
    typer.Option(
        "--port",
        help="Serial port or URL: /dev/ttyUSB0, socket://127.0.0.1:7001, a simulator's pty.",
    ),
]
Baud = Annotated[int, typer.Option("--baud", help="Baud rate the module talks at.")]
Password = Annotated[
    str, typer.Option("--password", help="Module password, decimal or 0x... (0 = none).")
]
Address = Annotated[str, typer.Option("--address", help="Module address.")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait for each answer.")]
Wait = Annotated[float, typer.Option("--wait", help="Seconds to wait for a finger.")]
WireLog = Annotated[bool, typer.Option("--wire-log", help="Log every packet on stderr.")]

_DEFAULT_PASSWORD = "0"  # noqa: S105 - the module's handshake number; 0 means none


def _number(text: str, option: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise typer.BadParameter(
            f"{option} must be a number (decimal or 0x...), got {text!r}"
        ) from None


@contextlib.contextmanager
def _fingerprint_sensor(
    port: str, baud: int, password: str, address: str, timeout: float, wire_log: bool
) -> Iterator[FingerprintSensor]:
    from edge.drivers.fingerprint_r30x import FingerprintSensor
    from ewp.log import configure

    configure("WARNING", wire=wire_log, plain=True)
    sensor = FingerprintSensor.open(
        port,
        baudrate=baud,
        password=_number(password, "--password"),
        address=_number(address, "--address"),
        timeout=timeout,
    )
    try:
        sensor.verify_password()
        yield sensor
    finally:
        sensor.close()


def _console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def _step(console: Console, message: str) -> Iterator[None]:
    """Show what the operator should do while the command waits (a spinner on a terminal)."""
    if console.is_terminal:
        with console.status(message):
            yield
    else:
        console.print(message)
        yield


def _emit(result: dict[str, object]) -> None:
    typer.echo(json.dumps(result))


@fingerprint_app.command()
def info(
    port: Port,
    baud: Baud = 57600,
    password: Password = _DEFAULT_PASSWORD,
    address: Address = "0xFFFFFFFF",
    timeout: Timeout = 2.0,
    wire_log: WireLog = False,
) -> None:
    """System parameters, template count and used library pages."""
    with _fingerprint_sensor(port, baud, password, address, timeout, wire_log) as sensor:
        sensor.probe()
        params = sensor.read_system_parameters()
        used: set[int] = set()
        for page in range(min(4, math.ceil(params.library_size / 256))):
            used |= sensor.read_index_table(page)
        _emit(
            {
                "port": port,
                "baud_rate": params.baud_rate,
                "address": f"{params.address:08x}",
                "system_id": params.system_id,
                "library_size": params.library_size,
                "security_level": params.security_level,
                "packet_size": params.packet_size,
                "status_register": params.status_register,
                "template_count": sensor.template_count(),
                "used_pages": sorted(used),
            }
        )


@fingerprint_app.command()
def capture(
    port: Port,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the image to this PNG file.")
    ] = None,
    baud: Baud = 57600,
    password: Password = _DEFAULT_PASSWORD,
    address: Address = "0xFFFFFFFF",
    timeout: Timeout = 2.0,
    wait: Wait = 15.0,
    wire_log: WireLog = False,
) -> None:
    """Take one fingerprint image (and save it as PNG with --out)."""
    console = _console()
    with _fingerprint_sensor(port, baud, password, address, timeout, wire_log) as sensor:
        with _step(console, "place a finger on the sensor..."):
            sensor.wait_for_finger(wait)
        started = time.monotonic()
        with _step(console, "reading the image..."):
            image = sensor.read_image()
        upload_seconds = time.monotonic() - started
    if out is not None:
        from PIL import Image

        Image.frombytes("L", (image.width, image.height), image.pixels).save(out, format="PNG")
    _emit(
        {
            "width": image.width,
            "height": image.height,
            "mean_grey": round(sum(image.pixels) / len(image.pixels), 1),
            "upload_seconds": round(upload_seconds, 3),
            "out": str(out) if out is not None else None,
        }
    )


@fingerprint_app.command()
def enroll(
    port: Port,
    page: Annotated[int, typer.Option("--page", min=0, help="Library page to store at.")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a template already at --page.")
    ] = False,
    baud: Baud = 57600,
    password: Password = _DEFAULT_PASSWORD,
    address: Address = "0xFFFFFFFF",
    timeout: Timeout = 2.0,
    wait: Wait = 15.0,
    wire_log: WireLog = False,
) -> None:
    """Enrol a finger from two presses and store its template at --page."""
    console = _console()
    with _fingerprint_sensor(port, baud, password, address, timeout, wire_log) as sensor:
        if page < 1024 and page in sensor.read_index_table(page // 256) and not overwrite:
            typer.echo(
                f"error: page {page} already holds a template: pick a free page "
                "(`ewp sensor fingerprint info` lists the used ones) or pass --overwrite",
                err=True,
            )
            raise typer.Exit(2)
        for press, buffer in ((1, 1), (2, 2)):
            with _step(console, f"place the finger on the sensor (press {press} of 2)..."):
                sensor.wait_for_finger(wait)
            sensor.image_to_template(buffer)
            if press == 1:
                with _step(console, "lift the finger..."):
                    sensor.wait_for_finger_removed(wait)
        sensor.create_model()
        sensor.store_template(1, page)
        _emit({"page": page, "stored": True, "template_count": sensor.template_count()})


@fingerprint_app.command()
def identify(
    port: Port,
    baud: Baud = 57600,
    password: Password = _DEFAULT_PASSWORD,
    address: Address = "0xFFFFFFFF",
    timeout: Timeout = 2.0,
    wait: Wait = 15.0,
    wire_log: WireLog = False,
) -> None:
    """Search the sensor's library for the finger on the glass (exit code 1 if not found)."""
    from edge.drivers.fingerprint_r30x import NotFoundError

    console = _console()
    with _fingerprint_sensor(port, baud, password, address, timeout, wire_log) as sensor:
        library_size = sensor.read_system_parameters().library_size
        with _step(console, "place a finger on the sensor..."):
            sensor.wait_for_finger(wait)
        sensor.image_to_template(1)
        try:
            result = sensor.search(1, 0, library_size)
        except NotFoundError:
            _emit({"found": False})
            raise typer.Exit(1) from None
        _emit({"found": True, "page": result.page_id, "score": result.score})

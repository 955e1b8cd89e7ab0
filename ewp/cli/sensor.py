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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ewp.cli.shared_options import command_taking, number

if TYPE_CHECKING:
    from rich.console import Console

    from edge.drivers.fingerprint_r30x import FingerprintSensor
    from edge.drivers.iris_camera import CaptureStatus, IrisCamera, IrisImage

app = typer.Typer(no_args_is_help=True)
fingerprint_app = typer.Typer(
    no_args_is_help=True, help="An R30x / ZFM-20 / AS608 / R503 fingerprint module on a UART."
)
app.add_typer(fingerprint_app, name="fingerprint")
iris_app = typer.Typer(
    no_args_is_help=True,
    help="An IriShield-style USB iris camera: the ewp iris protocol over USB CDC serial, or "
    "IriTech's IDDK 2000 library (--backend iddk).",
)
app.add_typer(iris_app, name="iris")

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


@dataclass(frozen=True)
class _Link:
    """The options every fingerprint command takes: where the module is, how to talk to it."""

    port: Port
    baud: Baud = 57600
    password: Password = _DEFAULT_PASSWORD
    address: Address = "0xFFFFFFFF"
    timeout: Timeout = 2.0
    wire_log: WireLog = False


@contextlib.contextmanager
def _fingerprint_sensor(link: _Link) -> Iterator[FingerprintSensor]:
    from edge.drivers.fingerprint_r30x import FingerprintSensor
    from ewp.log import configure

    configure("WARNING", wire=link.wire_log, plain=True)
    sensor = FingerprintSensor.open(
        link.port,
        baudrate=link.baud,
        password=number(link.password, "--password"),
        address=number(link.address, "--address"),
        timeout=link.timeout,
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


@command_taking(fingerprint_app, "info", _Link)
def info(link: _Link) -> None:
    """System parameters, template count and used library pages."""
    with _fingerprint_sensor(link) as sensor:
        sensor.probe()
        params = sensor.read_system_parameters()
        used: set[int] = set()
        for page in range(min(4, math.ceil(params.library_size / 256))):
            used |= sensor.read_index_table(page)
        _emit(
            {
                "port": link.port,
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


@command_taking(fingerprint_app, "capture", _Link)
def capture(
    link: _Link,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the image to this PNG file.")
    ] = None,
    wait: Wait = 15.0,
) -> None:
    """Take one fingerprint image (and save it as PNG with --out)."""
    console = _console()
    with _fingerprint_sensor(link) as sensor:
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


@command_taking(fingerprint_app, "enroll", _Link)
def enroll(
    link: _Link,
    page: Annotated[int, typer.Option("--page", min=0, help="Library page to store at.")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a template already at --page.")
    ] = False,
    wait: Wait = 15.0,
) -> None:
    """Enrol a finger from two presses and store its template at --page."""
    console = _console()
    with _fingerprint_sensor(link) as sensor:
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


@command_taking(fingerprint_app, "identify", _Link)
def identify(link: _Link, wait: Wait = 15.0) -> None:
    """Search the sensor's library for the finger on the glass (exit code 1 if not found)."""
    from edge.drivers.fingerprint_r30x import NotFoundError

    console = _console()
    with _fingerprint_sensor(link) as sensor:
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


# --- iris camera ----------------------------------------------------------------------------

IrisTimeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for each answer of the camera.")
]
IrisPort = Annotated[
    str | None,
    typer.Option(
        "--port",
        help="ewp-serial: serial port or URL: /dev/ttyACM0, socket://127.0.0.1:7101, a pty.",
    ),
]
Backend = Annotated[
    str,
    typer.Option("--backend", help="ewp-serial (the ewp iris protocol) or iddk (IriTech's SDK)."),
]
Library = Annotated[
    str,
    typer.Option("--library", help="iddk: path of libIddk2000.so (a bare name: the loader's)."),
]
Device = Annotated[
    str | None,
    typer.Option("--device", help="iddk: part of the device descriptor, to pick one camera."),
]


@dataclass(frozen=True)
class _IrisLink:
    """The options every iris command but ``list`` takes: which camera, through what."""

    port: IrisPort = None
    timeout: IrisTimeout = 2.0
    wire_log: WireLog = False
    backend: Backend = "ewp-serial"
    library: Library = "libIddk2000.so"
    device: Device = None

    def serial_port(self) -> str | None:
        """The port for ewp-serial; None when the backend is iddk."""
        if self.backend == "iddk":
            return None
        if self.backend != "ewp-serial":
            raise typer.BadParameter("ewp-serial or iddk", param_hint="--backend")
        if not self.port:
            raise typer.BadParameter("the ewp-serial backend needs --port", param_hint="--port")
        return self.port


@contextlib.contextmanager
def _iris_camera(port: str, timeout: float, wire_log: bool) -> Iterator[IrisCamera]:
    from edge.drivers.iris_camera import IrisCamera
    from ewp.log import configure

    configure("WARNING", wire=wire_log, plain=True)
    camera = IrisCamera.open(port, timeout=timeout)
    try:
        camera.init()
        yield camera
    finally:
        camera.close()


@iris_app.command("list")
def iris_list(
    vid: Annotated[str, typer.Option("--vid", help="USB vendor id of the camera.")] = "0x1209",
    pid: Annotated[str, typer.Option("--pid", help="USB product id of the camera.")] = "0x0001",
) -> None:
    """Iris cameras plugged in (serial ports with the camera's USB ids), as a JSON list."""
    from edge.drivers.iris_camera import find_iris_cameras

    found = find_iris_cameras(number(vid, "--vid"), number(pid, "--pid"))
    typer.echo(json.dumps([camera.describe() for camera in found]))


@command_taking(iris_app, "info", _IrisLink)
def iris_info(link: _IrisLink) -> None:
    """Initialise the camera; print what it is and its state."""
    port = link.serial_port()
    if port is None:
        from ewp.cli import sensor_iddk

        _emit(sensor_iddk.info(link.library, link.device, max(link.timeout, 5.0)))
        return
    with _iris_camera(port, link.timeout, link.wire_log) as camera:
        info = camera.device_info()
        status = camera.status()
    _emit(
        {
            "port": port,
            "model": info.model,
            "serial_number": info.serial_number,
            "firmware": info.firmware,
            "protocol": info.protocol,
            "width": info.width,
            "height": info.height,
            "bits_per_pixel": info.bits_per_pixel,
            "eyes": [eye.value for eye in info.eyes],
            "formats": [fmt.name.lower() for fmt in info.formats],
            "usb_id": f"{info.vid:04x}:{info.pid:04x}",
            "state": status.state.name,
            "initialised": status.initialised,
        }
    )


@command_taking(iris_app, "capture", _IrisLink)
def iris_capture(
    link: _IrisLink,
    eye: Annotated[
        str, typer.Option("--eye", help="left, right or both.", case_sensitive=False)
    ] = "both",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory to write iris-left.png / iris-right.png into."),
    ] = None,
    quality: Annotated[
        str, typer.Option("--quality", help="Camera's quality mode: normal, high, very-high.")
    ] = "normal",
    transfer: Annotated[
        str, typer.Option("--transfer", help="How images travel: png (smaller) or raw.")
    ] = "png",
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds the camera looks for an eye.")
    ] = 15.0,
    poll: Annotated[
        bool, typer.Option("--poll", help="Poll the status instead of taking status events.")
    ] = False,
) -> None:
    """Capture one or both irises: JSON with the camera's quality scores per eye.

    Exit code 0 when every eye qualified, 1 when the capture completed but an eye did not (a
    result: the JSON says which; the ewp-serial backend still writes its images), 2 on an
    error.
    """
    from edge.drivers.iris_camera import CaptureState, Eye, ResultCode, iris_error

    port = link.serial_port()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    if port is None:
        from ewp.cli import sensor_iddk

        console = _console()
        found, ok = sensor_iddk.capture(
            link.library,
            link.device,
            eye=eye.lower(),
            quality=quality,
            wait=wait,
            timeout=max(link.timeout, 5.0),
            out=out,
            say=console.print,
        )
        _emit(found)
        if not ok:
            raise typer.Exit(1)
        return
    try:
        chosen = Eye.parse(eye)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--eye") from None
    if transfer not in ("png", "raw"):
        raise typer.BadParameter("png or raw", param_hint="--transfer")
    console = _console()
    shown: list[str] = []

    def show(status: CaptureStatus) -> None:
        if status.state is CaptureState.READY and "ready" not in shown:
            shown.append("ready")
            console.print("ask the applicant to look into the camera, eyes wide open...")
        elif status.state is CaptureState.CAPTURING and "capturing" not in shown:
            shown.append("capturing")
            console.print("eye found: capturing, hold still...")

    with _iris_camera(port, link.timeout, link.wire_log) as camera:
        started = time.monotonic()
        try:
            camera.start_capture(chosen, quality=quality, push_status=not poll, timeout=wait)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        final = camera.wait_for_result(
            wait + 5.0, on_status=show, poll_interval=0.1, accept_unqualified=True
        )
        seconds = time.monotonic() - started
        eyes: dict[str, object] = {}
        for single in chosen.single_eyes():
            entry: dict[str, object] = {"found": single in final.eyes_found}
            if single in final.eyes_found:
                entry.update(camera.result_quality(single).describe())
                if out is not None:
                    image = camera.result_image(single, transfer, unqualified=True)
                    entry["file"] = str(_save_iris(image, out / f"iris-{single.value}.png"))
                    entry.update({"width": image.width, "height": image.height})
            eyes[single.value] = entry
        camera.clear()
    qualified = final.result == ResultCode.OK
    try:
        result: object = ResultCode(final.result).name.lower()
    except ValueError:
        result = final.result
    report: dict[str, object] = {
        "port": port,
        "eye": chosen.value,
        "result": result,
        "qualified": qualified,
        "capture_seconds": round(seconds, 3),
        "eyes": eyes,
    }
    if not qualified:
        report["advice"] = str(iris_error(final.result))
    _emit(report)
    if not qualified:
        raise typer.Exit(1)


def _save_iris(image: IrisImage, path: Path) -> Path:
    """The image as a PNG file: the camera's own PNG bytes when it sent PNG (lossless)."""
    if image.encoded is not None:
        path.write_bytes(image.encoded)
    else:
        from PIL import Image

        Image.frombytes("L", (image.width, image.height), image.pixels).save(path, format="PNG")
    return path

"""`ewp firmware` commands: build the station controller's firmware bundle, deploy it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def build(
    out: Annotated[Path, typer.Option("--out", help="Where to put the bundle.")] = Path(
        "build/firmware"
    ),
) -> None:
    """Cross-compile firmware/ (mpy-cross -march=armv6m) into a versioned bundle with hashes."""
    from ewp.firmware_bundle import build_bundle

    bundle = build_bundle(out)
    typer.echo(f"{bundle.path}  (version {bundle.version}, {len(bundle.files)} files)")


@app.command()
def deploy(
    port: Annotated[
        str, typer.Option("--port", help="The board's serial port, e.g. /dev/ttyACM0.")
    ],
    bundle: Annotated[
        Path | None,
        typer.Option(help="A bundle from `ewp firmware build` (default: build one now)."),
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(help="Provision the board's tamper secret (32 bytes) from this file."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the board at each stage.")
    ] = 30.0,
) -> None:
    """Copy a bundle to the board with mpremote, verify its hashes on the board, reset it."""
    import tempfile

    from ewp.firmware_bundle import Bundle, FirmwareError, build_bundle, deploy_bundle

    secret = None
    if secret_file is not None:
        try:
            secret = secret_file.read_bytes()
        except OSError as exc:
            raise FirmwareError(f"cannot read {secret_file}: {exc.strerror}") from None
        if len(secret) < 16:
            raise FirmwareError(f"{secret_file} holds {len(secret)} bytes; a secret needs 32")
    with tempfile.TemporaryDirectory(prefix="ewp-firmware-") as tmp:
        b = Bundle.load(bundle) if bundle is not None else build_bundle(Path(tmp))
        identity = deploy_bundle(port, b, secret=secret, timeout=timeout)
    typer.echo(
        f"board {identity.board_id.hex()} on {port} runs firmware {identity.firmware_version}"
    )

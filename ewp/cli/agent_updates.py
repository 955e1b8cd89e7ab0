"""`ewp agent updates`: set a station up for updates, and see where it stands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

RootOption = Annotated[
    Path, typer.Option("--root", help="Where releases live side by side, e.g. /opt/ewp.")
]


@app.command("trust-root")
def trust_root(
    root: RootOption,
    file: Annotated[Path, typer.Argument(help="The fleet's 1.root.json (or a later root).")],
) -> None:
    """Provisioning: the update root the station trusts (every later metadata chains to it)."""
    from tuf.api.metadata import Metadata, Root

    from edge.agent.updater.layout import Layout

    data = file.read_bytes()
    md = Metadata[Root].from_bytes(data)  # refuses anything that is not root metadata
    md.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)
    Layout(root).trust_root(data)
    typer.echo(f"trusting update root v{md.signed.version} (expires {md.signed.expires:%Y-%m-%d})")


@app.command("install-first")
def install_first(
    root: RootOption,
    bundle: Annotated[Path, typer.Argument(help="An agent bundle from `ewp release build`.")],
) -> None:
    """Provisioning: install the first release and make it `current` (no trial)."""
    from edge.agent.updater.layout import Layout

    layout = Layout(root)
    version = layout.install_bundle(bundle)
    layout.activate_first(version)
    typer.echo(f"{root}/current -> releases/{version}")


@app.command()
def status(root: RootOption) -> None:
    """What runs, what is on trial, what waits to be reported."""
    from edge.agent.updater.layout import Layout

    layout = Layout(root)
    out = {
        "current": layout.installed_version(),
        "previous": layout.previous_version(),
        "trial": layout.trial(),
        "reports_waiting": [r for _, r in layout.pending_reports()],
    }
    typer.echo(json.dumps(out, indent=1))


@app.command("adopt-firmware")
def adopt_firmware(
    root: RootOption,
    bundle: Annotated[
        Path, typer.Argument(help="The firmware directory `ewp firmware deploy` put on the board.")
    ],
) -> None:
    """Provisioning: keep the board's firmware files, to restore them if an update fails."""
    from edge.agent.updater.firmware import FirmwareUpdater
    from ewp.firmware_bundle import Bundle

    b = Bundle.load(bundle)
    FirmwareUpdater.adopt_dir(root, bundle, b.version)
    typer.echo(f"{root}/firmware/current -> releases/{b.version}")

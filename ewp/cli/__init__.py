"""The ``ewp`` command: one entry point for stations, the fleet, devices, simulators and the demo.

Each command group lives in its own module and imports what it drives only when it runs, so
``ewp --help`` stays fast on a Raspberry Pi.
"""

from __future__ import annotations

import typer

from ewp import __version__
from ewp.cli import agent, central, demo, enrol, firmware, fleet, release, sensor, sim
from ewp.cli.errors import run_with_friendly_errors

app = typer.Typer(
    name="ewp",
    help="e-WorkPermit field stack: capture stations, sealed packet sync, fleet service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(agent.app, name="agent", help="The station agent: provision it, run it.")
app.add_typer(fleet.app, name="fleet", help="The fleet service: serve it, manage stations.")
app.add_typer(central.app, name="central", help="The central system's side: keys, opening packets.")
app.add_typer(sensor.app, name="sensor", help="Talk to a biometric sensor directly.")
app.add_typer(sim.app, name="sim", help="Simulated devices and networks for tests and demos.")
app.add_typer(firmware.app, name="firmware", help="Station controller firmware: build, deploy.")
app.add_typer(release.app, name="release", help="Signed releases: keys, bundles, the repository.")
app.command(name="demo")(demo.demo)
app.command(name="enrol")(enrol.enrol)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """e-WorkPermit field stack."""


def main() -> None:
    run_with_friendly_errors(app)

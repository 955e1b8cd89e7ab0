"""`ewp sim` commands: simulated devices and networks.

Each simulator's command lives in its own module (`sim_<device>.py`) and is registered here.
"""

from __future__ import annotations

import typer

from ewp.cli import sim_controller, sim_fingerprint, sim_iddk, sim_iris, sim_network

app = typer.Typer(no_args_is_help=True)
app.command(name="fingerprint")(sim_fingerprint.fingerprint)
app.command(name="iris")(sim_iris.iris)
app.command(name="iddk")(sim_iddk.iddk)
app.add_typer(sim_controller.app, name="controller", help="A station controller board.")
app.command(name="network")(sim_network.network)

"""`ewp fleet quarantine ...`: the messages ingest could not handle, on the fleet host (the
fleet's settings file, like `ewp fleet station ...`). Station-controlled text is shown escaped
(fleet/quarantine_list.py), never raw."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ewp.cli.fleet_host import ConfigOption, fleet_context

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def quarantine_list(
    config: ConfigOption,
    station: Annotated[
        str | None, typer.Option("--station", help="only this station's messages")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="newest messages to show")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
) -> None:
    """Quarantined messages, newest first.

    Each with its station, topic and why; the payload only as its size, sha256 and an escaped
    preview."""
    from fleet.quarantine_list import list_quarantined

    with fleet_context(config) as context, context.sessions() as session:
        views = list_quarantined(session, station_id=station, limit=limit)
    if as_json:
        for view in views:
            typer.echo(json.dumps(view.model_dump(mode="json")))
        return
    if not views:
        typer.echo("no quarantined messages")
        return
    for view in views:
        typer.echo(
            f"#{view.id} {view.at.isoformat(timespec='seconds')} {view.station_id} {view.topic}\n"
            f"  reason: {view.reason}: {view.detail}\n"
            f"  payload: {view.size} bytes sha256 {view.sha256}\n"
            f"  preview: {view.preview}"
        )

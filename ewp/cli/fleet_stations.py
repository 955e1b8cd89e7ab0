"""`ewp fleet station ...`: register stations and give them claim tokens, list and revoke them,
clear a tamper latch (on the fleet host, with the fleet's settings file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ewp.cli.fleet_host import ConfigOption, actor, fleet_context

app = typer.Typer(no_args_is_help=True, help="Register, list and revoke stations.")


@app.command("add")
def station_add(
    station_id: Annotated[str, typer.Argument(help="station id, e.g. mu-01 or ct-bkk-03")],
    kind: Annotated[str, typer.Option(help="mobile (a van) or center")],
    config: ConfigOption,
    name: Annotated[str | None, typer.Option(help="a display name")] = None,
) -> None:
    """Register a station and print its one-time claim token."""
    from fleet import provisioning

    with fleet_context(config) as context, context.sessions() as session:
        token = context.claim_token(
            provisioning.add_station(
                session,
                station_id,
                kind=kind,
                name=name,
                ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
                actor=actor(),
            )
        )
    hours = context.settings.provisioning.claim_token_ttl_hours
    typer.echo(token)
    typer.echo(
        f"\nOn the station (within {hours:.0f} hours; the token works once):\n"
        f"  ewp agent provision --fleet {context.settings.service.public_url} "
        f"--token {token} --config /etc/ewp/agent.toml",
        err=True,
    )


@app.command("reissue")
def station_reissue(station_id: str, config: ConfigOption) -> None:
    """Print a new claim token for an existing station (new hardware, lost key)."""
    from fleet import provisioning

    with fleet_context(config) as context, context.sessions() as session:
        typer.echo(
            context.claim_token(
                provisioning.reissue_claim(
                    session,
                    station_id,
                    ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
                    actor=actor(),
                )
            )
        )


@app.command("list")
def station_list(config: ConfigOption) -> None:
    """List stations as JSON."""
    from sqlalchemy import select

    from fleet.api.schemas import StationPublic
    from fleet.store.models import Station

    with fleet_context(config) as context, context.sessions() as session:
        rows = session.scalars(select(Station).order_by(Station.station_id)).all()
        typer.echo(
            json.dumps([StationPublic.of(s).model_dump(mode="json") for s in rows], indent=1)
        )


@app.command("revoke")
def station_revoke(station_id: str, config: ConfigOption) -> None:
    """Revoke a station now: its broker login stops and its later packets are refused."""
    from fleet import provisioning

    with fleet_context(config) as context, context.sessions() as session:
        provisioning.revoke_station(session, context.broker_admin(), station_id, actor=actor())
    typer.echo(f"station {station_id} revoked")


@app.command("tamper-clear")
def station_tamper_clear(
    station_id: str,
    config: ConfigOption,
    secret_file: Annotated[
        Path, typer.Option(help="the board's tamper secret (as given to `ewp firmware deploy`)")
    ],
    timeout: Annotated[float, typer.Option(help="seconds to wait for each answer")] = 30.0,
) -> None:
    """Clear a station's tamper latch: the board's challenge, answered with its secret.

    Needs the fleet service running (it receives the station's answers) and the station online.
    """
    from fleet.commands import clear_tamper

    secret = secret_file.read_bytes()
    with fleet_context(config) as context:
        result = clear_tamper(
            context.sessions,
            context.publisher(),
            station_id,
            secret,
            actor=actor(),
            timeout=timeout,
        )
    typer.echo(json.dumps(result))

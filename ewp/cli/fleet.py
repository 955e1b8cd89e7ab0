"""`ewp fleet` commands: set up, serve, run the broker, manage stations."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fleet.context import FleetContext
    from fleet.settings import FleetSettings

app = typer.Typer(no_args_is_help=True)
station_app = typer.Typer(no_args_is_help=True, help="Register, list and revoke stations.")
app.add_typer(station_app, name="station")

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="fleet settings file (TOML)", envvar="EWP_FLEET_CONFIG"),
]


def _settings(config: Path) -> FleetSettings:
    from ewp.cli.settings_loader import load_settings
    from fleet.settings import FleetSettings

    return load_settings(FleetSettings, config)


def _context(config: Path) -> FleetContext:
    from ewp import log
    from fleet.context import FleetContext

    settings = _settings(config)
    log.configure(settings.log.level)
    return FleetContext.create(settings)


def _actor() -> str:
    """Who runs a fleet command on the fleet host, for the audit log."""
    import getpass

    return f"cli:{getpass.getuser()}"


@app.command()
def init(
    data_dir: Annotated[Path, typer.Option(help="where the fleet keeps its data and secrets")],
    central_public_key: Annotated[
        Path, typer.Option(help="the central system's public key (from `ewp central keygen`)")
    ],
    out: Annotated[Path, typer.Option(help="settings file to write")] = Path("fleet.toml"),
    listen: Annotated[str, typer.Option(help="HTTP listen address")] = "127.0.0.1:8080",
    public_url: Annotated[str | None, typer.Option(help="URL stations use")] = None,
    broker: Annotated[str, typer.Option(help="broker address (host:port)")] = "127.0.0.1:1883",
) -> None:
    """Create a fleet data directory with fresh secrets and write its settings file."""
    from fleet.bootstrap import init_fleet
    from protocol.keys import CentralPublicKey

    host, _, port = listen.rpartition(":")
    bhost, _, bport = broker.rpartition(":")
    text = init_fleet(
        data_dir,
        central_key=CentralPublicKey.load(central_public_key),
        listen_host=host,
        listen_port=int(port),
        public_url=public_url,
        broker_host=bhost,
        broker_port=int(bport),
    )
    if out.exists():
        raise typer.BadParameter(f"{out} exists; move it away or choose --out", param_hint="--out")
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}; secrets in {data_dir / 'secrets'}")
    typer.echo(f"next: ewp fleet broker --config {out}   and   ewp fleet serve --config {out}")


@app.command()
def broker(config: ConfigOption) -> None:
    """Run Mosquitto configured for this fleet (auth and per-station ACLs on), in the foreground."""
    from fleet.bootstrap import write_fleet_broker_config
    from fleet.broker.mosquitto import find_mosquitto

    conf = write_fleet_broker_config(_settings(config))
    binary = find_mosquitto()
    typer.echo(f"starting {binary} -c {conf}", err=True)
    os.execv(binary, [binary, "-c", str(conf)])  # noqa: S606 (our own broker, our own config)


@app.command()
def serve(config: ConfigOption) -> None:
    """Run the fleet service: HTTP API and ingest workers."""
    from fleet.service import serve as run

    run(_context(config))


@app.command()
def ingest(
    config: ConfigOption,
    workers: Annotated[int, typer.Option(min=1, max=64, help="ingest workers")] = 2,
) -> None:
    """Run extra ingest workers only (they share the load through MQTT shared subscriptions)."""
    from fleet.service import run_ingest_only

    run_ingest_only(_context(config), workers)


@station_app.command("add")
def station_add(
    station_id: Annotated[str, typer.Argument(help="station id, e.g. mu-01 or ct-bkk-03")],
    kind: Annotated[str, typer.Option(help="mobile (a van) or center")],
    config: ConfigOption,
    name: Annotated[str | None, typer.Option(help="a display name")] = None,
) -> None:
    """Register a station and print its one-time claim token."""
    from fleet import provisioning

    context = _context(config)
    with context.sessions() as session:
        token = provisioning.add_station(
            session,
            station_id,
            kind=kind,
            name=name,
            ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
            actor=_actor(),
        )
    hours = context.settings.provisioning.claim_token_ttl_hours
    typer.echo(token)
    typer.echo(
        f"\nOn the station (within {hours:.0f} hours; the token works once):\n"
        f"  ewp agent provision --fleet {context.settings.service.public_url} "
        f"--token {token} --config /etc/ewp/agent.toml",
        err=True,
    )


@station_app.command("reissue")
def station_reissue(station_id: str, config: ConfigOption) -> None:
    """Print a new claim token for an existing station (new hardware, lost key)."""
    from fleet import provisioning

    context = _context(config)
    with context.sessions() as session:
        typer.echo(
            provisioning.reissue_claim(
                session,
                station_id,
                ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
                actor=_actor(),
            )
        )


@station_app.command("list")
def station_list(config: ConfigOption) -> None:
    """List stations as JSON."""
    from sqlalchemy import select

    from fleet.api.schemas import StationPublic
    from fleet.store.models import Station

    context = _context(config)
    with context.sessions() as session:
        rows = session.scalars(select(Station).order_by(Station.station_id)).all()
        typer.echo(
            json.dumps([StationPublic.of(s).model_dump(mode="json") for s in rows], indent=1)
        )


@station_app.command("revoke")
def station_revoke(station_id: str, config: ConfigOption) -> None:
    """Revoke a station now: its broker login stops and its later packets are refused."""
    from fleet import provisioning

    context = _context(config)
    with context.sessions() as session:
        provisioning.revoke_station(session, context.broker_admin(), station_id, actor=_actor())
    context.close()
    typer.echo(f"station {station_id} revoked")


@station_app.command("tamper-clear")
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
    context = _context(config)
    try:
        result = clear_tamper(
            context.sessions,
            context.publisher(),
            station_id,
            secret,
            actor=_actor(),
            timeout=timeout,
        )
    finally:
        context.close()
    typer.echo(json.dumps(result))


audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(config: ConfigOption) -> None:
    """Check every link of the audit log's hash chain; exit code 1 if it was tampered with."""
    from fleet import audit

    context = _context(config)
    with context.sessions() as session:
        result = audit.verify(session)
    context.close()
    typer.echo(
        json.dumps(
            {
                "ok": result.ok,
                "entries": result.entries,
                "problem": result.problem,
                "first_bad_id": result.first_bad_id,
            }
        )
    )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    config: ConfigOption,
    limit: Annotated[int, typer.Option(min=1, help="newest entries to show")] = 50,
) -> None:
    """The newest audit entries as JSON lines."""
    from sqlalchemy import select

    from fleet.store.models import AuditEntry

    context = _context(config)
    with context.sessions() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).all()
        for row in reversed(rows):
            typer.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "at": row.at.isoformat(),
                        "actor": row.actor,
                        "action": row.action,
                        "target": row.target,
                        "detail": json.loads(row.detail),
                    }
                )
            )
    context.close()

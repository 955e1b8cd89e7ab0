"""`ewp fleet` commands: set up, serve, run the broker and extra ingest workers; the command
groups for stations, the audit log, users and tokens, and the quarantine are modules of their own
(ewp/cli/fleet_*.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ewp.cli import fleet_access, fleet_audit, fleet_quarantine, fleet_stations
from ewp.cli.fleet_host import ConfigOption, fleet_context, fleet_settings, open_context

app = typer.Typer(no_args_is_help=True)
app.add_typer(fleet_stations.app, name="station")
app.add_typer(fleet_audit.app, name="audit")
app.add_typer(fleet_access.admin_app, name="admin")
app.add_typer(fleet_access.user_app, name="user")
app.add_typer(fleet_access.token_app, name="token")
app.add_typer(
    fleet_quarantine.app,
    name="quarantine",
    help="Messages ingest could not handle (kept, acknowledged, never handled again).",
)


@app.command()
def init(
    data_dir: Annotated[Path, typer.Option(help="where the fleet keeps its data and secrets")],
    central_public_key: Annotated[
        Path, typer.Option(help="the central system's public key (from `ewp central keygen`)")
    ],
    out: Annotated[Path, typer.Option(help="settings file to write")] = Path("fleet.toml"),
    listen: Annotated[str, typer.Option(help="HTTP listen address")] = "127.0.0.1:8080",
    public_url: Annotated[str | None, typer.Option(help="URL stations use")] = None,
    broker: Annotated[
        str,
        typer.Option(
            help="the broker's plaintext address for the fleet's own processes (loopback)"
        ),
    ] = "127.0.0.1:1883",
    database_url: Annotated[
        str | None,
        typer.Option(
            help="the store, e.g. postgresql+psycopg://ewp@db.example/ewp "
            "(default: SQLite in the data directory)"
        ),
    ] = None,
    ingest_workers: Annotated[
        int,
        typer.Option(
            min=0,
            max=64,
            help="ingest workers in `ewp fleet serve` (one per core is a good start; 0 when "
            "`ewp fleet ingest` processes do all the ingest)",
        ),
    ] = 2,
    station_broker: Annotated[
        str | None,
        typer.Option(help="the broker's TLS address as stations reach it (host[:port])"),
    ] = None,
    tls_name: Annotated[
        list[str] | None,
        typer.Option(
            help="a host name or address for the server certificate made here (repeatable; "
            "the broker, station broker and public URL hosts are always included)"
        ),
    ] = None,
    tls_ca_file: Annotated[
        Path | None, typer.Option(help="your own CA certificate (PEM) instead of ours")
    ] = None,
    tls_cert_file: Annotated[
        Path | None, typer.Option(help="your own server certificate (PEM), issued by that CA")
    ] = None,
    tls_key_file: Annotated[Path | None, typer.Option(help="its private key (PEM)")] = None,
    https: Annotated[
        bool,
        typer.Option(
            help="serve HTTPS with the server certificate (--no-https: behind a TLS reverse "
            "proxy, see docs/deployment.md)"
        ),
    ] = True,
) -> None:
    """Create a fleet data directory with fresh secrets, its TLS certificates (a private CA and
    a server certificate, unless you give yours) and write its settings file."""
    from fleet.bootstrap import init_fleet
    from fleet.tls import TlsFiles
    from protocol.keys import CentralPublicKey

    own = (tls_ca_file, tls_cert_file, tls_key_file)
    if any(own) and not all(own):
        raise typer.BadParameter(
            "give --tls-ca-file, --tls-cert-file and --tls-key-file together",
            param_hint="--tls-ca-file",
        )
    tls_files = (
        TlsFiles(tls_ca_file.resolve(), tls_cert_file.resolve(), tls_key_file.resolve())
        if tls_ca_file and tls_cert_file and tls_key_file
        else None
    )
    station_host, _, station_port = (station_broker or "").rpartition(":")
    if station_broker and not station_host:
        station_host, station_port = station_broker, ""

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
        database_url=database_url,
        ingest_workers=ingest_workers,
        station_broker_host=station_host or None,
        station_broker_port=int(station_port) if station_port else None,
        tls_files=tls_files,
        tls_names=tls_name,
        https=https,
    )
    if out.exists():
        raise typer.BadParameter(f"{out} exists; move it away or choose --out", param_hint="--out")
    out.write_text(text, encoding="utf-8")
    typer.echo(
        f"wrote {out}; secrets in {data_dir / 'secrets'}, certificates in {data_dir / 'tls'}"
    )
    typer.echo(f"next: ewp fleet broker --config {out}   and   ewp fleet serve --config {out}")


@app.command()
def broker(config: ConfigOption) -> None:
    """Run Mosquitto configured for this fleet (auth and per-station ACLs on), in the foreground."""
    from fleet.bootstrap import write_fleet_broker_config
    from fleet.broker.mosquitto import find_mosquitto

    conf = write_fleet_broker_config(fleet_settings(config))
    binary = find_mosquitto()
    typer.echo(f"starting {binary} -c {conf}", err=True)
    os.execv(binary, [binary, "-c", str(conf)])  # noqa: S606 (our own broker, our own config)


@app.command()
def serve(config: ConfigOption) -> None:
    """Run the fleet service: HTTP API and ingest workers."""
    from fleet.service import serve as run

    run(open_context(config))


@app.command()
def ingest(
    config: ConfigOption,
    workers: Annotated[int, typer.Option(min=1, max=64, help="ingest workers")] = 2,
    name: Annotated[
        str | None,
        typer.Option(
            help="this process's name among the ingest processes (default: the host name); "
            "keep it across restarts, give each process on one host its own"
        ),
    ] = None,
    retire: Annotated[
        bool,
        typer.Option(
            help="end the broker sessions of this --name and --workers for good (after the "
            "process is stopped for good), then exit"
        ),
    ] = False,
) -> None:
    """Run extra ingest workers only (they share the load through MQTT shared subscriptions)."""
    import socket

    from fleet.ingest import retire_sessions
    from fleet.service import ingest_client_ids, run_ingest_only

    process = name or socket.gethostname().split(".")[0].lower()
    client_ids = ingest_client_ids(workers, process)  # a bad name fails before anything starts
    if retire:
        with fleet_context(config) as context:
            retire_sessions(context.service_login, client_ids)
        typer.echo(f"retired {len(client_ids)} ingest session(s): {', '.join(client_ids)}")
        return
    run_ingest_only(open_context(config), workers, process)

"""`ewp agent` commands: provision the station, run it, see what waits to upload."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ewp.cli import agent_updates

if TYPE_CHECKING:
    from edge.agent.settings import AgentSettings

app = typer.Typer(no_args_is_help=True)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="agent settings file (TOML)", envvar="EWP_AGENT_CONFIG"),
]


def _settings(config: Path) -> AgentSettings:
    from edge.agent.settings import AgentSettings
    from ewp.cli.settings_loader import load_settings

    return load_settings(AgentSettings, config)


@app.command()
def provision(
    fleet: Annotated[str, typer.Option(help="fleet service URL, e.g. https://fleet.example")],
    token: Annotated[str, typer.Option(help="the one-time claim token from the fleet admin")],
    config: ConfigOption,
    force: Annotated[bool, typer.Option(help="replace an existing identity")] = False,
    insecure_for_testing: Annotated[
        bool,
        typer.Option(
            "--insecure-for-testing",
            help="allow a plain http:// fleet address (a test bench on one machine only)",
        ),
    ] = False,
) -> None:
    """Generate this station's key, claim its identity from the fleet (https://, the fleet's CA
    pinned by the token's fingerprint), keep the credentials."""
    from edge.agent.identity import STATION_FILE
    from edge.agent.provisioning import provision as claim
    from ewp import __version__, log

    settings = _settings(config)
    log.configure(settings.log.level)
    if (settings.identity_dir / STATION_FILE).exists() and not force:
        raise typer.BadParameter(
            f"this station is already provisioned ({settings.identity_dir}); use --force to "
            "replace its identity (packets already sealed stay valid)"
        )
    record = claim(
        settings.identity_dir,
        fleet,
        token,
        software_version=__version__,
        insecure_for_testing=insecure_for_testing,
    )
    typer.echo(
        json.dumps(
            {
                "station_id": record.station_id,
                "kind": record.kind,
                "broker": f"{record.mqtt.host}:{record.mqtt.port}",
            }
        )
    )


def _deploy_firmware(port: str, directory: Path) -> str:
    """A verified firmware release onto the board (`ewp firmware deploy`'s path)."""
    from ewp.firmware_bundle import Bundle, deploy_bundle

    return deploy_bundle(port, Bundle.load(directory)).firmware_version


@app.command()
def run(config: ConfigOption) -> None:
    """Run the station agent until SIGTERM or Ctrl-C."""
    from edge.agent.service import StationAgent
    from ewp import __version__, log

    settings = _settings(config)
    if settings.kiosk.enabled:
        _serve_kiosk(settings, None)
        return
    log.configure(settings.log.level, wire=settings.log.wire)
    agent = StationAgent(settings, software_version=__version__)
    agent.firmware_deployer = _deploy_firmware
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        agent.run(stop)
    except KeyboardInterrupt:
        stop.set()
    if agent.restart_requested:  # a new version installed, or rolled back: systemd restarts us
        raise typer.Exit(agent.exit_code)


@app.command()
def kiosk(
    config: ConfigOption,
    port: Annotated[
        int | None, typer.Option(help="port on 127.0.0.1 (default: [kiosk] port, 8470)")
    ] = None,
) -> None:
    """Run the station agent with its kiosk UI on 127.0.0.1; print the one-time URL.

    The URL (also in {data_dir}/kiosk/unlock-url) opens the kiosk in Chromium once:
    `chromium --kiosk "$(cat /var/lib/ewp/kiosk/unlock-url)"` (docs/kiosk.md).
    """
    _serve_kiosk(_settings(config), port)


def _serve_kiosk(settings: AgentSettings, port: int | None) -> None:
    from edge.agent.kiosk import KioskServer
    from edge.agent.service import StationAgent
    from ewp import __version__, log

    log.configure(settings.log.level, wire=settings.log.wire)
    agent = StationAgent(settings, software_version=__version__)
    server = KioskServer(agent, port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    typer.echo(server.unlock_url)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
def queue(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """What is still waiting to upload, oldest first."""
    from rich.console import Console
    from rich.table import Table

    from edge.agent.outbox import Outbox
    from protocol.chunks import chunk_count

    settings = _settings(config)
    now = time.time()
    with Outbox(settings.outbox_path, min_free_bytes=0) as outbox:
        waiting = outbox.waiting(limit=10_000)
        stats = outbox.stats()
        chunks = {
            e.packet_id: chunk_count(outbox.sealed_size(e.packet_id), settings.uplink.chunk_size)
            for e in waiting
        }
    rows = [
        {
            "seq": e.seq,
            "packet_id": e.packet_id,
            "state": e.state,
            "size": e.size,
            "age_s": round(now - e.created_at),
            "attempts": e.attempts,
            "chunks_sent": e.chunks_sent,
            "chunks": chunks[e.packet_id],
        }
        for e in waiting
    ]
    if as_json:
        typer.echo(
            json.dumps(
                {"waiting": rows, "acked": stats.acked, "created_total": stats.created_total}
            )
        )
        return
    table = Table(title=f"{len(rows)} packets waiting to upload ({stats.acked} acknowledged)")
    for column in ("seq", "packet", "state", "size", "sent", "age", "attempts"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["seq"]),
            str(r["packet_id"])[:12],
            str(r["state"]),
            f"{int(r['size']) / 1024:.0f} KB",
            f"{r['chunks_sent']}/{r['chunks']} chunks",
            _age(int(r["age_s"])),
            str(r["attempts"]),
        )
    Console().print(table)


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


operator_app = typer.Typer(no_args_is_help=True, help="Operators: PIN and a finger on the module.")
app.add_typer(operator_app, name="operator")
app.add_typer(agent_updates.app, name="updates", help="Set the station up for updates; status.")


@operator_app.command("add")
def operator_add(
    operator_id: Annotated[str, typer.Argument(help="e.g. somchai.p")],
    name: Annotated[str, typer.Option(help="full name shown on screen")],
    config: ConfigOption,
    pin_file: Annotated[
        Path | None, typer.Option(help="read the PIN from this file instead of asking")
    ] = None,
    admitted_by: Annotated[
        str | None,
        typer.Option(help="an operator who can already read pre-registered applications"),
    ] = None,
) -> None:
    """Register an operator: a PIN, and one finger enrolled into the fingerprint module.

    Run it while `ewp agent run` is stopped (it needs the sensor).
    """
    import getpass

    from edge.agent.operators import OperatorRegistry
    from edge.agent.preregistered import PreregisteredCache
    from edge.drivers.fingerprint_r30x import FingerprintSensor
    from ewp import log

    settings = _settings(config)
    log.configure("WARNING")
    if pin_file is not None:
        pin = pin_file.read_text().strip()
    else:
        pin = getpass.getpass("PIN: ")
        if getpass.getpass("PIN again: ") != pin:
            raise typer.BadParameter("the two PINs differ")
    cfg = settings.sensors.fingerprint
    data = settings.station.data_dir
    registry = OperatorRegistry(data / "operators.sqlite")
    cache = PreregisteredCache(data / "preregistered.sqlite")
    with FingerprintSensor.open(cfg.port, baudrate=cfg.baudrate, password=cfg.password) as sensor:
        operator = registry.add(sensor, operator_id, name, pin, prompt=typer.echo)
    by_pin = None
    if admitted_by is not None:
        by_pin = (admitted_by, getpass.getpass(f"PIN of {admitted_by}: "))
    try:
        cache.grant(operator_id, pin, by_pin=by_pin)
    except Exception as exc:
        typer.echo(f"warning: no access to pre-registered applications yet: {exc}", err=True)
    typer.echo(
        json.dumps(
            {
                "operator_id": operator.operator_id,
                "name": operator.name,
                "module_pages": list(operator.pages),
            }
        )
    )


@operator_app.command("list")
def operator_list(config: ConfigOption) -> None:
    """Operators of this station as JSON."""
    from edge.agent.operators import OperatorRegistry

    settings = _settings(config)
    registry = OperatorRegistry(settings.station.data_dir / "operators.sqlite")
    typer.echo(
        json.dumps(
            [
                {"operator_id": o.operator_id, "name": o.name, "active": o.active}
                for o in registry.list()
            ]
        )
    )


@app.command("status")
def application_status(
    config: ConfigOption,
    application_number: Annotated[
        str | None, typer.Argument(help="one application (default: the latest 50)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """Decisions of the central system on applications enrolled at this station."""
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from edge.agent.application_status import ApplicationStatusStore

    settings = _settings(config)
    with ApplicationStatusStore(settings.station.data_dir) as store:
        if application_number is not None:
            found = store.get(application_number.strip().upper())
            rows = [found] if found else []
        else:
            rows = store.latest()
    if application_number is not None and not rows:
        typer.echo(
            f"no status for {application_number} yet: the central system has not decided, or "
            "this station has been offline since",
            err=True,
        )
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows]))
        return
    table = Table(title=f"{len(rows)} application statuses")
    for column in ("application", "status", "reason", "decided at"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.application_number, r.status, r.reason or "", r.at)
    Console().print(table)

"""`ewp fleet` commands: set up, serve, run the broker, manage stations."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fleet.context import FleetContext
    from fleet.roles import Role
    from fleet.settings import FleetSettings
    from fleet.store.admin_models import User

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
    context = _context(config)
    if retire:
        try:
            retire_sessions(context.service_login, client_ids)
        finally:
            context.close()
        typer.echo(f"retired {len(client_ids)} ingest session(s): {', '.join(client_ids)}")
        return
    run_ingest_only(context, workers, process)


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
        token = context.claim_token(
            provisioning.add_station(
                session,
                station_id,
                kind=kind,
                name=name,
                ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
                actor=_actor(),
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


@station_app.command("reissue")
def station_reissue(station_id: str, config: ConfigOption) -> None:
    """Print a new claim token for an existing station (new hardware, lost key)."""
    from fleet import provisioning

    context = _context(config)
    with context.sessions() as session:
        typer.echo(
            context.claim_token(
                provisioning.reissue_claim(
                    session,
                    station_id,
                    ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
                    actor=_actor(),
                )
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
def audit_verify(
    config: ConfigOption,
    expect: Annotated[
        str | None,
        typer.Option(
            help="ID:HASH of a head printed by an earlier run (kept outside the fleet): it must "
            "still be in the log, or the log was cut short or rolled back"
        ),
    ] = None,
) -> None:
    """Check every link of the audit log's keyed hash chain with the audit key (the
    ``secrets/audit-key`` file, never in the database); exit code 1 if it was tampered with."""
    from fleet import audit
    from fleet.context import audit_key_path
    from fleet.store.models import AuditEntry

    wanted: tuple[int, str] | None = None
    if expect is not None:
        expect_id, _, expect_hash = expect.partition(":")
        if not expect_id.isdigit() or len(expect_hash) != 64:
            raise typer.BadParameter("give ID:HASH as printed under `head`", param_hint="--expect")
        wanted = (int(expect_id), expect_hash)
    key_path = audit_key_path(_settings(config))
    try:
        key = audit.load_key(key_path)
    except (OSError, ValueError) as exc:
        typer.echo(
            json.dumps({"ok": False, "problem": f"cannot read the audit key {key_path}: {exc}"})
        )
        raise typer.Exit(2) from None
    context = _context(config)
    try:
        with context.sessions() as session:
            result = audit.verify(session, key)
            problem, first_bad = result.problem, result.first_bad_id
            head = session.get(AuditEntry, result.entries) if result.entries else None
            if result.ok and wanted is not None:
                earlier = session.get(AuditEntry, wanted[0])
                if earlier is None or earlier.hash != wanted[1]:
                    problem = (
                        f"entry {wanted[0]} recorded earlier as the head is gone or different: "
                        "the log was cut short or rolled back"
                    )
                    first_bad = wanted[0]
    finally:
        context.close()
    ok = problem is None
    typer.echo(
        json.dumps(
            {
                "ok": ok,
                "entries": result.entries,
                "problem": problem,
                "first_bad_id": first_bad,
                "head": f"{head.id}:{head.hash}" if head is not None and ok else None,
            }
        )
    )
    if not ok:
        typer.echo(f"the audit log was tampered with: {problem}", err=True)
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


admin_app = typer.Typer(no_args_is_help=True, help="The first admin.")
app.add_typer(admin_app, name="admin")
user_app = typer.Typer(no_args_is_help=True, help="Users of the fleet service and their roles.")
app.add_typer(user_app, name="user")
token_app = typer.Typer(no_args_is_help=True, help="API tokens for scripts (Prometheus, cron).")
app.add_typer(token_app, name="token")

RoleOption = Annotated[
    str, typer.Option(help="viewer, operator, release-manager, admin or central", show_default=True)
]
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(help="read the password from this file's first line instead of a prompt"),
]


def _role(text: str) -> Role:
    from fleet.roles import Role

    try:
        return Role.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from None


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _user_json(user: User) -> str:
    from fleet.api.access_schemas import UserPublic

    return UserPublic.of(user).model_dump_json()


def _add_user(config: Path, username: str, role: Role, password_file: Path | None) -> None:
    from fleet.access import users

    context = _context(config)
    try:
        with context.sessions() as session:
            user = users.create_user(
                session, username, _password(password_file), role=role, actor=_actor()
            )
            typer.echo(_user_json(user))
    finally:
        context.close()


@admin_app.command("create")
def admin_create(
    username: str,
    config: ConfigOption,
    role: RoleOption = "admin",
    password_file: PasswordFileOption = None,
) -> None:
    """Create a user (the first admin, typically) with a password from a prompt or a file."""
    _add_user(config, username, _role(role), password_file)


@user_app.command("add")
def user_add(
    username: str,
    config: ConfigOption,
    role: RoleOption = "viewer",
    password_file: PasswordFileOption = None,
) -> None:
    """Add a user."""
    _add_user(config, username, _role(role), password_file)


@user_app.command("list")
def user_list(config: ConfigOption) -> None:
    """Users as JSON lines."""
    from fleet.access import users

    context = _context(config)
    with context.sessions() as session:
        for user in users.list_users(session):
            typer.echo(_user_json(user))
    context.close()


def _update_user(config: Path, username: str, **changes: object) -> None:
    from fleet.access import users

    context = _context(config)
    try:
        with context.sessions() as session:
            user = users.update_user(session, username, actor=_actor(), **changes)  # type: ignore[arg-type]
            typer.echo(_user_json(user))
    finally:
        context.close()


@user_app.command("role")
def user_role(username: str, role: str, config: ConfigOption) -> None:
    """Give a user another role (their web sessions end)."""
    _update_user(config, username, role=_role(role))


@user_app.command("disable")
def user_disable(username: str, config: ConfigOption) -> None:
    """Disable a user now: sessions end, tokens stop working, logins are refused."""
    _update_user(config, username, disabled=True)


@user_app.command("enable")
def user_enable(username: str, config: ConfigOption) -> None:
    """Enable a disabled user again."""
    _update_user(config, username, disabled=False)


@user_app.command("password")
def user_password(
    username: str, config: ConfigOption, password_file: PasswordFileOption = None
) -> None:
    """Set a user's password (their web sessions end)."""
    _update_user(config, username, password=_password(password_file))


@user_app.command("unlock")
def user_unlock(username: str, config: ConfigOption) -> None:
    """Lift a login lockout on a username before it runs out."""
    from fleet import audit
    from fleet.access import throttle

    context = _context(config)
    with context.sessions() as session:
        throttle.clear(session, f"user:{username}")
        audit.record(session, actor=_actor(), action="auth.unlock", target=username)
        session.commit()
    context.close()
    typer.echo(f"{username} may log in again")


@token_app.command("create")
def token_create(
    username: str,
    config: ConfigOption,
    name: Annotated[str, typer.Option(help="what the token is for, e.g. prometheus")],
    role: Annotated[str | None, typer.Option(help="default: the user's role")] = None,
    days: Annotated[int, typer.Option(min=1, help="days until it expires")] = 90,
) -> None:
    """Create an API token for a user and print it (shown only this once)."""
    from fleet.access import tokens, users
    from fleet.roles import Principal, Role

    context = _context(config)
    try:
        with context.sessions() as session:
            owner = users.get_user(session, username)
            _, secret = tokens.create_token(
                session,
                owner=owner,
                name=name,
                role=_role(role) if role else Role.parse(owner.role),
                days=days,
                creator=Principal(_actor(), Role.ADMIN),
                max_days=context.settings.access.token_max_days,
            )
    finally:
        context.close()
    typer.echo(secret)


@token_app.command("revoke")
def token_revoke(token_id: int, config: ConfigOption) -> None:
    """Revoke an API token by its id (see GET /api/v1/tokens)."""
    from fleet.access import tokens
    from fleet.errors import AccessError
    from fleet.store.admin_models import ApiToken

    context = _context(config)
    try:
        with context.sessions() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise AccessError(f"no API token {token_id}")
            tokens.revoke(session, row, actor=_actor())
    finally:
        context.close()
    typer.echo(f"token {token_id} revoked")


def _add_quarantine() -> None:
    from ewp.cli import fleet_quarantine

    app.add_typer(
        fleet_quarantine.app,
        name="quarantine",
        help="Messages ingest could not handle (kept, acknowledged, never handled again).",
    )


_add_quarantine()

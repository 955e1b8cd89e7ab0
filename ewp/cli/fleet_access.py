"""`ewp fleet admin|user|token ...`: the fleet service's users, their roles and API tokens."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ewp.cli.fleet_host import ConfigOption, actor, fleet_context

if TYPE_CHECKING:
    from fleet.roles import Role
    from fleet.store.admin_models import User

admin_app = typer.Typer(no_args_is_help=True, help="The first admin.")
user_app = typer.Typer(no_args_is_help=True, help="Users of the fleet service and their roles.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens for scripts (Prometheus, cron).")

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

    with fleet_context(config) as context, context.sessions() as session:
        user = users.create_user(
            session, username, _password(password_file), role=role, actor=actor()
        )
        typer.echo(_user_json(user))


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

    with fleet_context(config) as context, context.sessions() as session:
        for user in users.list_users(session):
            typer.echo(_user_json(user))


def _update_user(config: Path, username: str, **changes: object) -> None:
    from fleet.access import users

    with fleet_context(config) as context, context.sessions() as session:
        user = users.update_user(session, username, actor=actor(), **changes)  # type: ignore[arg-type]
        typer.echo(_user_json(user))


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

    with fleet_context(config) as context, context.sessions() as session:
        throttle.clear(session, f"user:{username}")
        audit.record(session, actor=actor(), action="auth.unlock", target=username)
        session.commit()
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

    with fleet_context(config) as context, context.sessions() as session:
        owner = users.get_user(session, username)
        _, secret = tokens.create_token(
            session,
            owner=owner,
            name=name,
            role=_role(role) if role else Role.parse(owner.role),
            days=days,
            creator=Principal(actor(), Role.ADMIN),
            max_days=context.settings.access.token_max_days,
        )
    typer.echo(secret)


@token_app.command("revoke")
def token_revoke(token_id: int, config: ConfigOption) -> None:
    """Revoke an API token by its id (see GET /api/v1/tokens)."""
    from fleet.access import tokens
    from fleet.errors import AccessError
    from fleet.store.admin_models import ApiToken

    with fleet_context(config) as context, context.sessions() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise AccessError(f"no API token {token_id}")
        tokens.revoke(session, row, actor=actor())
    typer.echo(f"token {token_id} revoked")

"""What the `ewp fleet ...` commands run on the fleet host share: the settings file option, the
fleet's context opened around one command and closed after it, and who the audit log names."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fleet.context import FleetContext
    from fleet.settings import FleetSettings

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="fleet settings file (TOML)", envvar="EWP_FLEET_CONFIG"),
]


def fleet_settings(config: Path) -> FleetSettings:
    from ewp.cli.settings_loader import load_settings
    from fleet.settings import FleetSettings

    return load_settings(FleetSettings, config)


def open_context(config: Path) -> FleetContext:
    """The fleet's context (store, broker logins, keys) for a process that keeps it open."""
    from ewp import log
    from fleet.context import FleetContext

    settings = fleet_settings(config)
    log.configure(settings.log.level)
    return FleetContext.create(settings)


@contextmanager
def fleet_context(config: Path) -> Iterator[FleetContext]:
    """The fleet's context for one command, closed when the command is done."""
    context = open_context(config)
    try:
        yield context
    finally:
        context.close()


def actor() -> str:
    """Who runs a fleet command on the fleet host, for the audit log."""
    return f"cli:{getpass.getuser()}"

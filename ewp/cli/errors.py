"""The one place where library errors become what the person at the terminal reads.

Library code raises typed errors whose message already says what to do ("fingerprint sensor
not answering on /dev/ttyUSB0 ..."). Here they are printed without a traceback and turned into
exit code 2. Anything else is a bug: it keeps its traceback.
"""

from __future__ import annotations

import logging
import sys

import click
import typer

log = logging.getLogger(__name__)

EXIT_USER_ERROR = 2


def _known_error_types() -> tuple[type[BaseException], ...]:
    """Base classes of the errors our libraries raise for the user to act on."""
    types: list[type[BaseException]] = []
    candidates = [
        ("ewp.cli.settings_loader", "SettingsError"),
        ("protocol.errors", "ProtocolError"),
        ("edge.drivers.fingerprint_r30x", "FingerprintError"),
        ("edge.drivers.iris_frames", "IrisCameraError"),
        ("edge.drivers.controller", "ControllerError"),
        ("edge.drivers.device_errors", "DeviceError"),
        ("edge.agent.errors", "AgentError"),
        ("fleet.errors", "FleetError"),
        ("simulators.errors", "SimulatorError"),
        ("simulators.fake_iddk2000", "FakeIddkBuildError"),
    ]
    for module_name, attr in candidates:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, attr):
            types.append(getattr(module, attr))
    return tuple(types)


def run_with_friendly_errors(app: typer.Typer) -> None:
    try:
        # Without standalone mode click returns the code of a `typer.Exit(code)` instead of
        # raising it.
        exit_code = app(standalone_mode=False)
        if isinstance(exit_code, int) and exit_code:
            sys.exit(exit_code)
    except (click.exceptions.Abort, typer.Abort):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:
        # Recent typer vendors its own click: its usage errors (typer.BadParameter, ...) are
        # TyperExceptions that know how to show themselves.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc}", err=True)
        sys.exit(int(getattr(exc, "exit_code", EXIT_USER_ERROR)))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if isinstance(exc, _known_error_types()):
            typer.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USER_ERROR)
        raise

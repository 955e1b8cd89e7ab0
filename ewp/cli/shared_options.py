"""Options several commands of one device take, declared once as the fields of a dataclass and
given to each command as one object (Typer has no option groups)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, get_type_hints

import typer


def command_taking(
    app: typer.Typer, name: str, options_type: type[Any]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``command(shared, ...)`` as command ``name`` of ``app``. Besides its own options
    it takes those every command of the device takes: the fields of the dataclass
    ``options_type``, each an ``Annotated[..., typer.Option(...)]`` with its default. The first
    is listed first, the rest after the command's own; they come to the command as one
    ``options_type`` (``shared``)."""
    hints = get_type_hints(options_type, include_extras=True)
    shared_options = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=hints[field.name],
            default=inspect.Parameter.empty if field.default is MISSING else field.default,
        )
        for field in fields(options_type)
    ]

    def register(command: Callable[..., None]) -> Callable[..., None]:
        own = [
            option.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for option in list(inspect.signature(command, eval_str=True).parameters.values())[1:]
        ]
        shown = [shared_options[0], *own, *shared_options[1:]]

        def run(**options: Any) -> None:
            given = {option.name: options.pop(option.name) for option in shared_options}
            command(options_type(**given), **options)

        run.__signature__ = inspect.Signature(shown)  # type: ignore[attr-defined]
        run.__annotations__ = {option.name: option.annotation for option in shown}
        run.__doc__ = command.__doc__
        app.command(name)(run)
        return command

    return register


def number(text: str, option: str) -> int:
    """An option given as a number in decimal or ``0x...`` (addresses, passwords, USB ids)."""
    try:
        return int(text, 0)
    except ValueError:
        raise typer.BadParameter(
            f"{option} must be a number (decimal or 0x...), got {text!r}"
        ) from None

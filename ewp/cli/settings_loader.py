"""Load a process's settings file (TOML) into its one settings model, failing loudly.

Every ewp process has exactly one settings model (pydantic, unknown keys rejected). This is the
one place that turns a missing file, a TOML syntax error or an invalid value into a message
that names the file, the key and what is wrong.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class SettingsError(Exception):
    """A settings file that cannot be used; the message says what to fix."""


def load_settings(model: type[M], path: Path) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(
            f"settings file {path} not found: copy one from examples/ and edit it"
        ) from None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    return validate_settings(model, data, source=str(path))


def validate_settings(model: type[M], data: dict[str, object], *, source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                problems.append(f"  {where}: unknown setting (a typo?)")
            else:
                problems.append(f"  {where}: {err['msg']}")
        raise SettingsError(f"{source} has invalid settings:\n" + "\n".join(problems)) from None

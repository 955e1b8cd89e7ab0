"""docs/settings.md, generated from the settings models: every key of every process's settings
file, with its type, default, limits and meaning, so the page cannot drift from the code.

``python -m ewp.settings_reference`` rewrites the page; a test fails when it is out of date.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from edge.agent.settings import AgentSettings
from fleet.secret_ref import SecretRef
from fleet.settings import FleetSettings
from protocol.station_config import StationConfig

PAGE = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


@dataclass(frozen=True)
class SettingsFile:
    title: str
    model: type[BaseModel]
    intro: str


FILES = (
    SettingsFile(
        "Station agent: `agent.toml`",
        AgentSettings,
        "Read by every `ewp agent` command (`--config`); example: "
        "[examples/agent.toml](../examples/agent.toml). The station's keys and broker "
        "credentials are not settings: `ewp agent provision` writes them under "
        "`{data_dir}/identity/`.",
    ),
    SettingsFile(
        "Fleet service: `fleet.toml`",
        FleetSettings,
        "Read by every `ewp fleet` command (`--config` or `EWP_FLEET_CONFIG`); `ewp fleet init` "
        "writes one with fresh secrets; example: [examples/fleet.toml](../examples/fleet.toml). "
        'A *secret* is `{ file = "PATH" }` (its first line) or `{ env = "NAME" }`, never the '
        "value itself.",
    ),
    SettingsFile(
        "Station configuration pushed by the fleet",
        StationConfig,
        "Not a file on the station: fleet admins set it per fleet, tag or station (configuration "
        "layers, [dashboard.md](dashboard.md)) and the fleet sends the merged result; the "
        "station applies it over its own `[capture]` and `[upload]` sections.",
    ),
)


@dataclass(frozen=True)
class Key:
    table: str  # "uplink", "upload.windows" ("" for top-level keys)
    array_of_tables: bool
    name: str
    type: str
    default: str
    limits: str
    description: str


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        inner = args[0] if len(args) == 1 else annotation
        return inner, optional
    return annotation, False


def _type_name(annotation: Any) -> str:
    annotation, optional = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0]) + (", optional" if optional else "")
    if origin is Literal:
        name = " \\| ".join(
            f'`"{v}"`' if isinstance(v, str) else f"`{v}`" for v in typing.get_args(annotation)
        )
    elif origin is list:
        (item,) = typing.get_args(annotation)
        name = f"list of {_type_name(item)}"
    elif annotation is SecretRef:
        name = "secret"
    elif isinstance(annotation, type):
        name = {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}.get(
            annotation.__name__, "path" if issubclass(annotation, Path) else annotation.__name__
        )
    else:
        name = str(annotation)
    return name + (", optional" if optional else "")


def _limits(field: FieldInfo) -> str:
    metadata = list(field.metadata)
    annotation, _ = _unwrap(field.annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in typing.get_args(annotation)[1:]:
            metadata.extend(getattr(extra, "metadata", [extra]))
    words = []
    for item in metadata:
        for attr, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                words.append(
                    f"{symbol} {value:g}" if isinstance(value, float) else f"{symbol} {value}"
                )
        for attr, label in (("min_length", "length ≥"), ("max_length", "length ≤")):
            value = getattr(item, attr, None)
            if value is not None:
                words.append(f"{label} {value}")
        multiple = getattr(item, "multiple_of", None)
        if multiple is not None:
            words.append(f"multiple of {multiple}")
    return ", ".join(dict.fromkeys(words))


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, list):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def _section_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The settings section a field opens (a table, or an array of tables), if any."""
    annotation, _ = _unwrap(annotation)
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel) and item is not SecretRef:
            return item, True
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    if is_model and annotation is not SecretRef:
        return annotation, False
    return None, False


def keys(model: type[BaseModel], table: str = "", array: bool = False) -> Iterator[Key]:
    """Every key of a settings model, depth first: a section's own keys before its sub-tables."""
    sections = []
    for name, field in model.model_fields.items():
        section, is_array = _section_model(field.annotation)
        if section is not None:
            sections.append((f"{table}.{name}" if table else name, section, is_array))
            continue
        yield Key(
            table,
            array,
            name,
            _type_name(field.annotation),
            _default(field),
            _limits(field),
            (field.description or "").replace("\n", " ").replace("|", "\\|"),
        )
    for path, section, is_array in sections:
        yield from keys(section, path, is_array)


def section_doc(model: type[BaseModel], table: str) -> str:
    for name, field in model.model_fields.items():
        section, _ = _section_model(field.annotation)
        if table.split(".")[0] == name and section is not None:
            rest = table.split(".", 1)[1] if "." in table else ""
            return section_doc(section, rest) if rest else (section.__doc__ or "")
    return ""


def render() -> str:
    lines = [
        "# Settings reference",
        "",
        "<!-- generated by `python -m ewp.settings_reference` from the settings models; "
        "do not edit by hand -->",
        "",
        "Every key of every settings file, from the models each process validates at start-up "
        "(an unknown key, a value out of its limits or a missing required key stops the "
        "process with a message naming the key). Optional sections may be left out whole.",
    ]
    for settings_file in FILES:
        lines += ["", f"## {settings_file.title}", "", settings_file.intro]
        current: tuple[str, bool] | None = None
        for key in keys(settings_file.model):
            if (key.table, key.array_of_tables) != current:
                current = (key.table, key.array_of_tables)
                heading = f"[[{key.table}]]" if key.array_of_tables else f"[{key.table}]"
                doc = " ".join(section_doc(settings_file.model, key.table).split())
                lines += ["", f"### `{heading}`" if key.table else "### top level", ""]
                if doc:
                    lines += [doc, ""]
                lines += [
                    "| key | type | default | limits | meaning |",
                    "| --- | --- | --- | --- | --- |",
                ]
            lines.append(
                f"| `{key.name}` | {key.type} | {key.default} | {key.limits} | {key.description} |"
            )
    return "\n".join(lines) + "\n"


def undocumented() -> list[str]:
    """Keys without a meaning: each one is a question a new user cannot answer from the page."""
    return [
        f"{f.model.__name__}: {k.table + '.' if k.table else ''}{k.name}"
        for f in FILES
        for k in keys(f.model)
        if not k.description
    ]


def main() -> None:
    PAGE.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Configuration layers: validated on their own, found for a station and merged in order
fleet -> its tags -> the station."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.errors import InvalidError
from fleet.store.models import Station
from fleet.store.ops_models import ConfigLayer, StationTag
from protocol import topics
from protocol.station_config import StationConfig

Scope = Literal["fleet", "tag", "station"]
FLEET = "*"
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Problem:
    key: str
    problem: str
    station_id: str | None = None


class ConfigRefusedError(InvalidError):
    """A configuration that does not validate: ``problems`` name each key."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: objects merge key by key; anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _problems(exc: ValidationError, station_id: str | None = None) -> list[Problem]:
    return [
        Problem(".".join(str(p) for p in err["loc"]) or "(document)", err["msg"], station_id)
        for err in exc.errors()
    ]


def validate(document: dict[str, Any], *, station_id: str | None = None) -> StationConfig:
    try:
        return StationConfig.model_validate(document)
    except ValidationError as exc:
        problems = _problems(exc, station_id)
        where = f" for station {station_id}" if station_id else ""
        summary = "; ".join(f"{p.key}: {p.problem}" for p in problems[:5])
        raise ConfigRefusedError(f"invalid configuration{where}: {summary}", problems) from None


def check_target(scope: Scope, target: str) -> str:
    if scope == "fleet":
        return FLEET
    if scope == "tag" and not TAG_RE.fullmatch(target):
        raise ConfigRefusedError(
            f"tag {target!r}: use 1-63 characters of a-z, 0-9 and '-'",
            [Problem("tag", "use 1-63 characters of a-z, 0-9 and '-'")],
        )
    if scope == "station":
        try:
            topics.validate_station_id(target)
        except ValueError as exc:
            raise ConfigRefusedError(str(exc), [Problem("station_id", str(exc))]) from None
    return target


def tags_of(session: Session, station_id: str) -> list[str]:
    return list(
        session.scalars(
            select(StationTag.tag)
            .where(StationTag.station_id == station_id)
            .order_by(StationTag.tag)
        )
    )


def layers_for(session: Session, station_id: str) -> list[ConfigLayer]:
    """The layers that apply to a station, in merge order."""
    layers: list[ConfigLayer] = []
    fleet = session.get(ConfigLayer, ("fleet", FLEET))
    if fleet is not None:
        layers.append(fleet)
    for tag in tags_of(session, station_id):
        layer = session.get(ConfigLayer, ("tag", tag))
        if layer is not None:
            layers.append(layer)
    own = session.get(ConfigLayer, ("station", station_id))
    if own is not None:
        layers.append(own)
    return layers


def merge_for(
    session: Session,
    station_id: str,
    override: tuple[Scope, str, dict[str, Any] | None] | None = None,
) -> tuple[StationConfig, list[dict[str, Any]]] | None:
    """The merged configuration of a station and its sources, or None (no layer applies).

    ``override`` = (scope, target, document or None to remove) stands in for a layer being
    changed, so a change is checked before it is stored.
    """
    documents: list[tuple[str, str, int, dict[str, Any]]] = [
        (layer.scope, layer.target, layer.version, json.loads(layer.document))
        for layer in layers_for(session, station_id)
    ]
    if override is not None:
        scope, target, document = override
        applies = (
            scope == "fleet"
            or (scope == "station" and target == station_id)
            or (scope == "tag" and target in tags_of(session, station_id))
        )
        if applies:
            documents = [d for d in documents if (d[0], d[1]) != (scope, target)]
            if document is not None:
                documents.append((scope, target, -1, document))
                order = {"fleet": 0, "tag": 1, "station": 2}
                documents.sort(key=lambda d: (order[d[0]], d[1]))
    if not documents:
        return None
    merged: dict[str, Any] = {}
    for _, _, _, document in documents:
        merged = deep_merge(merged, document)
    config = validate(merged, station_id=station_id)
    sources = [{"scope": s, "target": t, "version": v} for s, t, v, _ in documents]
    return config, sources


def managed_stations(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Station.station_id)
            .where(Station.state != "revoked")
            .order_by(Station.station_id)
        )
    )


def affected_by(session: Session, scope: Scope, target: str) -> list[str]:
    stations = managed_stations(session)
    if scope == "fleet":
        return stations
    if scope == "station":
        return [target] if target in stations else []
    members = set(session.scalars(select(StationTag.station_id).where(StationTag.tag == target)))
    return [s for s in stations if s in members]

"""The station registry: where a station is (region, Thai province), its tags and assigned
operators, and what it runs (software from heartbeats and status, controller firmware from the
heartbeat's environment). Provinces: ``protocol/data/provinces.json`` (protocol.reference_data)."""

from __future__ import annotations

import json
import re

from sqlalchemy.orm import Session

from fleet import audit
from fleet.errors import RegistryError, UnknownStationError
from fleet.provisioning import KINDS
from fleet.store.models import Station, utcnow
from protocol.reference_data import Province, province_by_name

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,39}$")
OPERATOR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_TAGS = 32
MAX_OPERATORS = 64


def find_province(text: str) -> Province:
    """By ISO code (``TH-50``), English name (``Chiang Mai``, any case) or Thai name."""
    province = province_by_name(text)
    if province is None:
        raise RegistryError(
            f"unknown province {text!r}: give its ISO 3166-2 code (TH-10 ... TH-96) or its "
            "English or Thai name, as listed by GET /api/v1/provinces"
        )
    return province


def _checked(values: list[str], pattern: re.Pattern[str], most: int, what: str) -> list[str]:
    unique = list(dict.fromkeys(values))
    if len(unique) > most:
        raise RegistryError(f"at most {most} {what}s per station")
    for value in unique:
        if not pattern.match(value):
            raise RegistryError(f"{what} {value!r} does not match {pattern.pattern}")
    return unique


def tags_of(station: Station) -> list[str]:
    return list(json.loads(station.tags or "[]"))


def operators_of(station: Station) -> list[str]:
    return list(json.loads(station.operators or "[]"))


_UNSET: object = object()


def update_station(
    session: Session,
    station_id: str,
    *,
    actor: str,
    name: str | None = None,
    kind: str | None = None,
    region: str | object | None = _UNSET,
    province: str | object | None = _UNSET,
    tags: list[str] | None = None,
    operators: list[str] | None = None,
) -> Station:
    """Change registry fields (only those given); ``None`` clears region or province."""
    station = session.get(Station, station_id)
    if station is None:
        raise UnknownStationError(f"no station {station_id}")
    detail: audit.Detail = {}
    if name is not None and name != station.name:
        station.name = detail["name"] = name
    if kind is not None and kind != station.kind:
        if kind not in KINDS:
            raise RegistryError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        station.kind = detail["kind"] = kind
    if province is not _UNSET:
        found = find_province(province) if isinstance(province, str) and province else None
        station.province = detail["province"] = found.code if found else None
        if found is not None and region is _UNSET and not station.region:
            station.region = detail["region"] = found.region
    if region is not _UNSET:
        text = region.strip() if isinstance(region, str) else ""
        if len(text) > 64:
            raise RegistryError("a region name has at most 64 characters")
        station.region = detail["region"] = text or None
    if tags is not None:
        station.tags = json.dumps(_checked(tags, TAG_RE, MAX_TAGS, "tag"))
        detail["tags"] = station.tags
    if operators is not None:
        station.operators = json.dumps(
            _checked(operators, OPERATOR_RE, MAX_OPERATORS, "operator id")
        )
        detail["operators"] = station.operators
    if detail:
        station.updated_at = utcnow()
        audit.record(
            session, actor=actor, action="station.update", target=station_id, detail=detail
        )
        session.commit()
    return station

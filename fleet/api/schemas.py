"""What the API shows: public views of stations and packets (never secrets or key material
beyond the public key id)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from fleet.registry import OPERATOR_RE, TAG_RE, operators_of, tags_of
from fleet.store.models import Station, StationCommand
from protocol.enrolment import Application
from protocol.reference_data import provinces

Shown = TypeVar("Shown", bound=BaseModel)


class Strict(BaseModel):
    """What a caller sends: an unknown field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ReadOff(BaseModel):
    """A public view whose every field is the record's attribute of the same name."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, record: object) -> Self:
        return cls.model_validate(record)


def shown_from(model: type[Shown], *sources: object, **values: object) -> Shown:
    """A public view read off records: each of ``model``'s fields from ``values``, else from the
    first of ``sources`` with an attribute of that name; a field found nowhere is an error."""
    found = dict(values)
    for name in model.model_fields.keys() - found.keys():
        source = next((s for s in sources if hasattr(s, name)), None)
        if source is None:
            raise AttributeError(f"{model.__name__}.{name}: in none of the sources")
        found[name] = getattr(source, name)
    return model.model_validate(found)


class ErrorDetail(BaseModel):
    """Every error answer: what went wrong and what to do."""

    detail: str | list[dict[str, object]]


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """``responses=`` entries for the error statuses a route can answer."""
    descriptions = {
        400: "bad request",
        401: "no or invalid credentials",
        403: "the caller's role is too low (or a cookie request without its CSRF token)",
        404: "not found",
        409: "conflicts with the current state",
        422: "invalid input",
        429: "too many failed logins: wait (Retry-After)",
        502: "the broker refused or did not answer",
    }
    return {code: {"model": ErrorDetail, "description": descriptions[code]} for code in codes}


class StationCreate(BaseModel):
    station_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", examples=["mu-01"])
    kind: Literal["mobile", "center"]
    name: str | None = Field(default=None, max_length=200)


class StationCreated(BaseModel):
    station_id: str
    claim_token: str
    provision_command: str


class ProvincePublic(BaseModel):
    code: str = Field(description="ISO 3166-2:TH", examples=["TH-50"])
    en: str
    th: str
    region: str


class StationUpdate(Strict):
    """Registry fields to change; leave out what stays. ``null`` clears region or province."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: Literal["mobile", "center"] | None = None
    region: str | None = Field(default=None, max_length=64)
    province: str | None = Field(
        default=None, max_length=64, description="ISO code (TH-50) or English or Thai name"
    )
    tags: list[Annotated[str, Field(pattern=TAG_RE.pattern)]] | None = Field(
        default=None, max_length=32
    )
    operators: list[Annotated[str, Field(pattern=OPERATOR_RE.pattern)]] | None = Field(
        default=None, max_length=64, description="operator ids of the field staff assigned"
    )


StationKind = Literal["mobile", "center"]
StationState = Literal["awaiting_claim", "active", "revoked"]


class StationPublic(BaseModel):
    station_id: str
    name: str
    kind: StationKind
    state: StationState = Field(description="provisioning state")
    created_at: datetime
    claimed_at: datetime | None
    region: str | None
    province: ProvincePublic | None
    tags: list[str]
    operators: list[str]
    key_id: str | None = Field(description="fingerprint of the station's current Ed25519 key")
    previous_key_id: str | None = Field(
        description="the key before the last rotation, still accepted until previous_key_until"
    )
    previous_key_until: datetime | None
    key_rotated_at: datetime | None
    credentials_rotated_at: datetime | None
    online: bool
    last_seen_at: datetime | None
    software_version: str | None
    firmware_version: str | None = Field(description="the station controller board's firmware")
    heartbeat: dict[str, object] | None

    @classmethod
    def of(cls, station: Station) -> StationPublic:
        province = provinces().get(station.province or "")
        return shown_from(
            cls,
            station,
            province=ProvincePublic(**asdict(province)) if province else None,
            tags=tags_of(station),
            operators=operators_of(station),
            heartbeat=json.loads(station.last_heartbeat) if station.last_heartbeat else None,
        )


class ClaimToken(BaseModel):
    station_id: str
    claim_token: str = Field(description="works once; shown only this once")
    provision_command: str


class RotationStarted(BaseModel):
    station_id: str
    command_id: str = Field(description="follow it at GET /stations/{id}/commands/{command_id}")
    kind: str


class PacketPublic(ReadOff):
    packet_id: str
    station_id: str
    seq: int
    sha256: str
    size: int
    content_type: str
    created_at: str
    received_at: datetime
    resends: int
    state: str


class StationCount(BaseModel):
    station_id: str
    packets: int
    last_seq: int


class Summary(BaseModel):
    stations: int
    stations_online: int
    packets: int
    packet_bytes: int
    resends_acknowledged: int
    rejections: int
    per_station: list[StationCount] = Field(
        description="packets per station for a page of the stations in station id order "
        "(per_station_limit, per_station_offset); stations without packets are left out"
    )


class RejectionPublic(BaseModel):
    at: datetime
    station_id: str
    packet_id: str | None
    reason: str
    detail: str


class CommandCreate(BaseModel):
    kind: Literal["ping", "tamper-challenge", "tamper-clear"]
    args: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class CommandPublic(BaseModel):
    command_id: str
    station_id: str
    kind: str
    state: str
    status: str | None
    issued_at: datetime
    answered_at: datetime | None
    detail: dict[str, object] | None

    @classmethod
    def of(cls, command: StationCommand) -> CommandPublic:
        response = json.loads(command.response) if command.response else None
        return cls(
            command_id=command.command_id,
            station_id=command.station_id,
            kind=command.kind,
            state=command.state,
            status=command.status,
            issued_at=command.issued_at,
            answered_at=command.answered_at,
            detail=response["detail"] if response else None,
        )


class PreregistrationsCreate(BaseModel):
    applications: list[Application] = Field(min_length=1, max_length=2000)
    valid_days: float = Field(
        default=30.0, gt=0, le=180, description="the station deletes them after this"
    )


class PreregistrationsSent(BaseModel):
    batch_id: str
    station_id: str
    applications: int
    expires_at: str

"""What the API shows: public views of stations and packets (never secrets or key material
beyond the public key id)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from fleet.store.models import Packet, Station, StationCommand
from protocol.enrolment import Application


class StationCreate(BaseModel):
    station_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", examples=["mu-01"])
    kind: Literal["mobile", "center"]
    name: str | None = Field(default=None, max_length=200)


class StationCreated(BaseModel):
    station_id: str
    claim_token: str
    provision_command: str


class StationPublic(BaseModel):
    station_id: str
    name: str
    kind: str
    state: str
    key_id: str | None
    online: bool
    last_seen_at: datetime | None
    software_version: str | None
    heartbeat: dict[str, object] | None

    @classmethod
    def of(cls, station: Station) -> StationPublic:
        return cls(
            station_id=station.station_id,
            name=station.name,
            kind=station.kind,
            state=station.state,
            key_id=station.key_id,
            online=station.online,
            last_seen_at=station.last_seen_at,
            software_version=station.software_version,
            heartbeat=json.loads(station.last_heartbeat) if station.last_heartbeat else None,
        )


class PacketPublic(BaseModel):
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

    @classmethod
    def of(cls, packet: Packet) -> PacketPublic:
        return cls.model_validate(packet, from_attributes=True)


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
    per_station: list[StationCount]


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

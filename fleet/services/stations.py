"""Stations: the registry, claim tokens, revocation, rotation, commands and pre-registrations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet import provisioning, registry, rotation
from fleet.api.schemas import (
    ClaimToken,
    CommandPublic,
    PreregistrationsSent,
    RotationStarted,
    StationCreated,
    StationPublic,
)
from fleet.commands import issue_command, send_preregistration_batch
from fleet.context import FleetContext
from fleet.errors import NotFoundError, UnknownStationError
from fleet.services.lookup import found
from fleet.store.models import Station, StationCommand
from protocol.enrolment import Application
from protocol.messages import Scalar


def station_row(session: Session, station_id: str) -> Station:
    return found(
        session, Station, station_id, f"no station {station_id}", error=UnknownStationError
    )


def get_station(session: Session, station_id: str) -> StationPublic:
    return StationPublic.of(station_row(session, station_id))


@dataclass(frozen=True)
class StationFilter:
    """Which stations a list shows (``None``: any)."""

    kind: str | None = None
    state: str | None = None
    region: str | None = None
    province: str | None = None
    tag: str | None = None


def list_stations(
    session: Session, where: StationFilter, *, limit: int, offset: int = 0, after: str | None
) -> tuple[int, list[StationPublic]]:
    """How many match in all, and a page of them in station id order (after the station id
    ``after``, then skipping ``offset``)."""
    query = select(Station)
    for column, value in (
        (Station.kind, where.kind),
        (Station.state, where.state),
        (Station.region, where.region),
        (Station.province, where.province),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.tag is not None:  # a JSON list of plain strings: the tag, quoted, is in it
        query = query.where(Station.tags.contains(json.dumps(where.tag), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if after is not None:
        query = query.where(Station.station_id > after)
    page = query.order_by(Station.station_id).limit(limit).offset(offset)
    return total, [StationPublic.of(s) for s in session.scalars(page)]


def provision_command(context: FleetContext, token: str) -> str:
    return (
        f"ewp agent provision --fleet {context.settings.service.public_url} --token {token} "
        "--config /etc/ewp/agent.toml"
    )


def add_station(
    session: Session,
    context: FleetContext,
    station_id: str,
    *,
    kind: str,
    name: str | None,
    actor: str,
) -> StationCreated:
    secret = provisioning.add_station(
        session,
        station_id,
        kind=kind,
        name=name,
        ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
        actor=actor,
    )
    token = context.claim_token(secret)
    return StationCreated(
        station_id=station_id,
        claim_token=token,
        provision_command=provision_command(context, token),
    )


def update_station(
    session: Session, station_id: str, changes: dict[str, Any], *, actor: str
) -> StationPublic:
    """Registry fields (name and kind cannot be emptied: a ``None`` for them changes nothing)."""
    station_row(session, station_id)
    changes = {k: v for k, v in changes.items() if not (k in ("name", "kind") and v is None)}
    return StationPublic.of(registry.update_station(session, station_id, actor=actor, **changes))


def revoke_station(
    session: Session, context: FleetContext, station_id: str, *, actor: str
) -> StationPublic:
    station_row(session, station_id)
    provisioning.revoke_station(session, context.broker_admin(), station_id, actor=actor)
    return get_station(session, station_id)


def reissue_claim(
    session: Session, context: FleetContext, station_id: str, *, actor: str
) -> ClaimToken:
    station_row(session, station_id)
    token = context.claim_token(
        provisioning.reissue_claim(
            session,
            station_id,
            ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
            actor=actor,
        )
    )
    return ClaimToken(
        station_id=station_id,
        claim_token=token,
        provision_command=provision_command(context, token),
    )


def start_rotation(
    session: Session, context: FleetContext, station_id: str, kind: str, *, actor: str
) -> RotationStarted:
    station_row(session, station_id)
    command_id = rotation.start(session, context.publisher(), station_id, kind, actor=actor)
    return RotationStarted(station_id=station_id, command_id=command_id, kind=kind)


def send_command(
    session: Session,
    context: FleetContext,
    station_id: str,
    kind: str,
    args: dict[str, Scalar] | None,
    *,
    actor: str,
) -> CommandPublic:
    command_id = issue_command(session, context.publisher(), station_id, kind, args, actor=actor)
    return CommandPublic.of(session.get_one(StationCommand, command_id))


def get_command(session: Session, station_id: str, command_id: str) -> CommandPublic:
    command = session.get(StationCommand, command_id)
    if command is None or command.station_id != station_id:
        raise NotFoundError(f"no command {command_id}")
    return CommandPublic.of(command)


def send_preregistrations(
    session: Session,
    context: FleetContext,
    station_id: str,
    applications: list[Application],
    *,
    valid_days: float,
    actor: str,
) -> PreregistrationsSent:
    batch = send_preregistration_batch(
        session,
        context.publisher(),
        station_id,
        applications,
        valid_for=timedelta(days=valid_days),
        actor=actor,
    )
    return PreregistrationsSent(
        batch_id=batch.batch_id,
        station_id=station_id,
        applications=len(batch.applications),
        expires_at=batch.expires_at,
    )


def _registry(session: Session, now: datetime) -> dict[str, StationPublic]:
    stations = session.scalars(select(Station).order_by(Station.station_id))
    return {s.station_id: StationPublic.of(s) for s in stations}


def registry_view(session: Session, context: FleetContext) -> dict[str, StationPublic]:
    """Every station of the registry by id, for the dashboard's overview: live, or for a large
    fleet as of a few seconds ago (fleet/fleet_view.py)."""
    return context.view("registry", _registry).get(session, context.ops.clock())

"""/api/v1/stations: the station registry."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from fleet import provisioning
from fleet.api.deps import Admin, AdminUser, Context, DbSession, Operator
from fleet.api.schemas import (
    CommandCreate,
    CommandPublic,
    PreregistrationsCreate,
    PreregistrationsSent,
    StationCreate,
    StationCreated,
    StationPublic,
)
from fleet.commands import issue_command, send_preregistration_batch
from fleet.errors import (
    BrokerAdminError,
    ClaimRefusedError,
    StationExistsError,
    UnknownStationError,
)
from fleet.store.models import Station, StationCommand

router = APIRouter(prefix="/stations", tags=["stations"], dependencies=[Admin])


@router.get("", response_model=list[StationPublic])
def list_stations(session: DbSession) -> list[StationPublic]:
    stations = session.scalars(select(Station).order_by(Station.station_id)).all()
    return [StationPublic.of(s) for s in stations]


@router.post("", response_model=StationCreated, status_code=status.HTTP_201_CREATED)
def add_station(
    body: StationCreate, session: DbSession, context: Context, caller: AdminUser
) -> StationCreated:
    try:
        token = provisioning.add_station(
            session,
            body.station_id,
            kind=body.kind,
            name=body.name,
            ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
            actor=caller.name,
        )
    except StationExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ClaimRefusedError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    command = (
        f"ewp agent provision --fleet {context.settings.service.public_url} --token {token} "
        "--config /etc/ewp/agent.toml"
    )
    return StationCreated(station_id=body.station_id, claim_token=token, provision_command=command)


@router.get("/{station_id}", response_model=StationPublic)
def get_station(station_id: str, session: DbSession) -> StationPublic:
    station = session.get(Station, station_id)
    if station is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id}")
    return StationPublic.of(station)


@router.post("/{station_id}/revoke", response_model=StationPublic)
def revoke_station(
    station_id: str, session: DbSession, context: Context, caller: AdminUser
) -> StationPublic:
    if session.get(Station, station_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id}")
    try:
        provisioning.revoke_station(session, context.broker_admin(), station_id, actor=caller.name)
    except BrokerAdminError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    station = session.get(Station, station_id)
    assert station is not None
    return StationPublic.of(station)


@router.post(
    "/{station_id}/commands", response_model=CommandPublic, status_code=status.HTTP_202_ACCEPTED
)
def send_command(
    station_id: str, body: CommandCreate, session: DbSession, context: Context, caller: Operator
) -> CommandPublic:
    """Send a command; the station's signed answer appears on the command when it comes."""
    try:
        command_id = issue_command(
            session, context.publisher(), station_id, body.kind, body.args, actor=caller.name
        )
    except UnknownStationError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except BrokerAdminError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    command = session.get(StationCommand, command_id)
    assert command is not None
    return CommandPublic.of(command)


@router.get("/{station_id}/commands/{command_id}", response_model=CommandPublic)
def get_command(station_id: str, command_id: str, session: DbSession) -> CommandPublic:
    command = session.get(StationCommand, command_id)
    if command is None or command.station_id != station_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no command {command_id}")
    return CommandPublic.of(command)


@router.post(
    "/{station_id}/preregistrations",
    response_model=PreregistrationsSent,
    status_code=status.HTTP_202_ACCEPTED,
)
def send_preregistrations(
    station_id: str,
    body: PreregistrationsCreate,
    session: DbSession,
    context: Context,
    caller: Operator,
) -> PreregistrationsSent:
    """Send applications submitted online to the station that will enrol them (offline lookup).

    The fleet passes them on and keeps no copy; the station keeps them encrypted.
    """
    try:
        batch = send_preregistration_batch(
            session,
            context.publisher(),
            station_id,
            body.applications,
            valid_for=timedelta(days=body.valid_days),
            actor=caller.name,
        )
    except UnknownStationError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except BrokerAdminError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    return PreregistrationsSent(
        batch_id=batch.batch_id,
        station_id=station_id,
        applications=len(batch.applications),
        expires_at=batch.expires_at,
    )

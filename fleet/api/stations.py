"""/api/v1/stations: the station registry, revocation, rotation and commands."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy import func, select

from fleet import provisioning, registry, rotation
from fleet.api.deps import AdminUser, Context, DbSession, Operator, ReadSession, Viewer
from fleet.api.schemas import (
    ClaimToken,
    CommandCreate,
    CommandPublic,
    PreregistrationsCreate,
    PreregistrationsSent,
    ProvincePublic,
    RotationStarted,
    StationCreate,
    StationCreated,
    StationKind,
    StationPublic,
    StationState,
    StationUpdate,
    errors,
)
from fleet.commands import issue_command, send_preregistration_batch
from fleet.errors import (
    BrokerAdminError,
    ClaimRefusedError,
    RegistryError,
    RotationError,
    StationExistsError,
    StationOfflineError,
    UnknownStationError,
)
from fleet.store.models import Station, StationCommand
from protocol.reference_data import provinces

router = APIRouter(tags=["stations"])


def _station(session: DbSession, station_id: str) -> Station:
    station = session.get(Station, station_id)
    if station is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id}")
    return station


def _provision_command(context: Context, token: str) -> str:
    return (
        f"ewp agent provision --fleet {context.settings.service.public_url} --token {token} "
        "--config /etc/ewp/agent.toml"
    )


@router.get("/provinces", response_model=list[ProvincePublic], responses=errors(401))
def list_provinces(caller: Viewer) -> list[ProvincePublic]:
    """Thailand's 77 provinces (ISO 3166-2:TH code, English and Thai names, region)."""
    return [
        ProvincePublic(code=p.code, en=p.en, th=p.th, region=p.region) for p in provinces().values()
    ]


@router.get("/stations", response_model=list[StationPublic], responses=errors(401))
def list_stations(
    caller: Viewer,
    session: ReadSession,
    response: Response,
    kind: StationKind | None = None,
    state: StationState | None = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    province: Annotated[str | None, Query(max_length=8, description="ISO code")] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    after: Annotated[
        str | None, Query(max_length=63, description="the next page: after this station id")
    ] = None,
) -> list[StationPublic]:
    """In station id order, a page at a time: ``limit`` stations after the station id
    ``after`` (the last of the previous page; cheap at any depth) or after skipping
    ``offset``. ``X-Total-Count`` says how many match the filters in all."""
    query = select(Station)
    for column, value in (
        (Station.kind, kind),
        (Station.state, state),
        (Station.region, region),
        (Station.province, province),
    ):
        if value is not None:
            query = query.where(column == value)
    if tag is not None:  # a JSON list of plain strings: the tag, quoted, is in it
        query = query.where(Station.tags.contains(json.dumps(tag), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    response.headers["X-Total-Count"] = str(total)  # before ``after``: all that match
    if after is not None:
        query = query.where(Station.station_id > after)
    page = query.order_by(Station.station_id).limit(limit).offset(offset)
    return [StationPublic.of(s) for s in session.scalars(page)]


@router.post(
    "/stations",
    response_model=StationCreated,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 409, 422),
)
def add_station(
    body: StationCreate, session: DbSession, context: Context, caller: AdminUser
) -> StationCreated:
    try:
        secret = provisioning.add_station(
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
    token = context.claim_token(secret)
    return StationCreated(
        station_id=body.station_id,
        claim_token=token,
        provision_command=_provision_command(context, token),
    )


@router.get("/stations/{station_id}", response_model=StationPublic, responses=errors(401, 404))
def get_station(station_id: str, caller: Viewer, session: ReadSession) -> StationPublic:
    return StationPublic.of(_station(session, station_id))


@router.patch(
    "/stations/{station_id}",
    response_model=StationPublic,
    responses=errors(401, 403, 404, 422),
)
def update_station(
    station_id: str, body: StationUpdate, caller: AdminUser, session: DbSession
) -> StationPublic:
    """Registry fields: name, kind, region, province, tags, assigned operators."""
    _station(session, station_id)
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "kind"):
        if required in changes and changes[required] is None:
            del changes[required]
    try:
        station = registry.update_station(session, station_id, actor=caller.name, **changes)
    except RegistryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return StationPublic.of(station)


@router.post(
    "/stations/{station_id}/revoke",
    response_model=StationPublic,
    responses=errors(401, 403, 404, 502),
)
def revoke_station(
    station_id: str, session: DbSession, context: Context, caller: AdminUser
) -> StationPublic:
    """Revoke at once: the broker disconnects the station; its later packets are refused."""
    _station(session, station_id)
    try:
        provisioning.revoke_station(session, context.broker_admin(), station_id, actor=caller.name)
    except BrokerAdminError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    return StationPublic.of(_station(session, station_id))


@router.post(
    "/stations/{station_id}/reissue",
    response_model=ClaimToken,
    responses=errors(401, 403, 404),
)
def reissue_claim(
    station_id: str, session: DbSession, context: Context, caller: AdminUser
) -> ClaimToken:
    """A new one-time claim token (new hardware, lost key); the old identity works until the
    new claim replaces it."""
    _station(session, station_id)
    token = context.claim_token(
        provisioning.reissue_claim(
            session,
            station_id,
            ttl_hours=context.settings.provisioning.claim_token_ttl_hours,
            actor=caller.name,
        )
    )
    return ClaimToken(
        station_id=station_id,
        claim_token=token,
        provision_command=_provision_command(context, token),
    )


def _start_rotation(
    kind: str, station_id: str, session: DbSession, context: Context, caller: AdminUser
) -> RotationStarted:
    _station(session, station_id)
    try:
        command_id = rotation.start(
            session, context.publisher(), station_id, kind, actor=caller.name
        )
    except (RotationError, UnknownStationError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except BrokerAdminError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    return RotationStarted(station_id=station_id, command_id=command_id, kind=kind)


@router.post(
    "/stations/{station_id}/rotate-key",
    response_model=RotationStarted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(401, 403, 404, 409, 502),
)
def rotate_key(
    station_id: str, session: DbSession, context: Context, caller: AdminUser
) -> RotationStarted:
    """Ask the station for a new Ed25519 key, proven with the old and the new key
    (docs/decisions/0023-station-key-rotation.md)."""
    return _start_rotation(rotation.ROTATE_KEY, station_id, session, context, caller)


@router.post(
    "/stations/{station_id}/rotate-credentials",
    response_model=RotationStarted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(401, 403, 404, 409, 502),
)
def rotate_credentials(
    station_id: str, session: DbSession, context: Context, caller: AdminUser
) -> RotationStarted:
    """New broker password for the station (docs/decisions/0021-broker-credential-rotation.md)."""
    return _start_rotation(rotation.ROTATE_CREDENTIALS, station_id, session, context, caller)


@router.post(
    "/stations/{station_id}/commands",
    response_model=CommandPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(401, 403, 404, 502),
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
    return CommandPublic.of(session.get_one(StationCommand, command_id))


@router.get(
    "/stations/{station_id}/commands/{command_id}",
    response_model=CommandPublic,
    responses=errors(401, 404),
)
def get_command(
    station_id: str, command_id: str, caller: Viewer, session: DbSession
) -> CommandPublic:
    command = session.get(StationCommand, command_id)
    if command is None or command.station_id != station_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no command {command_id}")
    return CommandPublic.of(command)


@router.post(
    "/stations/{station_id}/preregistrations",
    response_model=PreregistrationsSent,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(401, 403, 404, 409, 502),
)
def send_preregistrations(
    station_id: str,
    body: PreregistrationsCreate,
    session: DbSession,
    context: Context,
    caller: Operator,
) -> PreregistrationsSent:
    """Send applications submitted online to the station that will enrol them (offline lookup).

    Only to a station online now (409 otherwise): personal data is never left queued at the
    broker for an offline station. The fleet passes them on and keeps no copy; the station keeps
    them encrypted and confirms with a ``preregistrations-received`` event.
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
    except StationOfflineError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except BrokerAdminError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    return PreregistrationsSent(
        batch_id=batch.batch_id,
        station_id=station_id,
        applications=len(batch.applications),
        expires_at=batch.expires_at,
    )

"""/api/v1/stations: the station registry, revocation, rotation and commands
(``fleet/services/stations.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from fleet import rotation
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
from fleet.services import stations
from fleet.services.stations import StationFilter
from protocol.reference_data import provinces

router = APIRouter(tags=["stations"])


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
    where = StationFilter(kind=kind, state=state, region=region, province=province, tag=tag)
    total, page = stations.list_stations(session, where, limit=limit, offset=offset, after=after)
    response.headers["X-Total-Count"] = str(total)
    return page


@router.post(
    "/stations",
    response_model=StationCreated,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 409, 422),
)
def add_station(
    body: StationCreate, session: DbSession, context: Context, caller: AdminUser
) -> StationCreated:
    return stations.add_station(
        session, context, body.station_id, kind=body.kind, name=body.name, actor=caller.name
    )


@router.get("/stations/{station_id}", response_model=StationPublic, responses=errors(401, 404))
def get_station(station_id: str, caller: Viewer, session: ReadSession) -> StationPublic:
    return stations.get_station(session, station_id)


@router.patch(
    "/stations/{station_id}",
    response_model=StationPublic,
    responses=errors(401, 403, 404, 422),
)
def update_station(
    station_id: str, body: StationUpdate, caller: AdminUser, session: DbSession
) -> StationPublic:
    """Registry fields: name, kind, region, province, tags, assigned operators."""
    changes = body.model_dump(exclude_unset=True)
    return stations.update_station(session, station_id, changes, actor=caller.name)


@router.post(
    "/stations/{station_id}/revoke",
    response_model=StationPublic,
    responses=errors(401, 403, 404, 502),
)
def revoke_station(
    station_id: str, session: DbSession, context: Context, caller: AdminUser
) -> StationPublic:
    """Revoke at once: the broker disconnects the station; its later packets are refused."""
    return stations.revoke_station(session, context, station_id, actor=caller.name)


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
    return stations.reissue_claim(session, context, station_id, actor=caller.name)


# The two rotations: one route each, alike but for the kind.
ROTATIONS = {
    rotation.ROTATE_KEY: (
        "rotate_key",
        "Ask the station for a new Ed25519 key, proven with the old and the new key\n"
        "(docs/decisions/0023-station-key-rotation.md).",
    ),
    rotation.ROTATE_CREDENTIALS: (
        "rotate_credentials",
        "New broker password for the station (docs/decisions/0021-broker-credential-rotation.md).",
    ),
}


def _rotation_route(kind: str, name: str, doc: str) -> None:
    def route(
        station_id: str, session: DbSession, context: Context, caller: AdminUser
    ) -> RotationStarted:
        return stations.start_rotation(session, context, station_id, kind, actor=caller.name)

    route.__name__ = route.__qualname__ = name
    route.__doc__ = doc
    router.post(
        f"/stations/{{station_id}}/{kind}",
        response_model=RotationStarted,
        status_code=status.HTTP_202_ACCEPTED,
        responses=errors(401, 403, 404, 409, 502),
    )(route)


for _kind, (_name, _doc) in ROTATIONS.items():
    _rotation_route(_kind, _name, _doc)


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
    return stations.send_command(
        session, context, station_id, body.kind, body.args, actor=caller.name
    )


@router.get(
    "/stations/{station_id}/commands/{command_id}",
    response_model=CommandPublic,
    responses=errors(401, 404),
)
def get_command(
    station_id: str, command_id: str, caller: Viewer, session: DbSession
) -> CommandPublic:
    return stations.get_command(session, station_id, command_id)


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
    return stations.send_preregistrations(
        session,
        context,
        station_id,
        body.applications,
        valid_days=body.valid_days,
        actor=caller.name,
    )

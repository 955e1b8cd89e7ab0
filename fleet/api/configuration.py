"""/api/v1/config: desired configuration per fleet, tag and station; tags; drift; history
(``fleet/services/configuration.py``).

Changes need the release-manager role and are audited. A refused change answers 422 with one
entry per problem, ``loc`` naming the key (``["body", "capture", "attempts"]``) and, for a
change that would break a station's merged configuration, that station.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from fleet.api.deps import Context, DbSession, ReleaseManager, Viewer
from fleet.api.ops_schemas import (
    ConfigLayerPublic,
    ConfigRevisionPublic,
    LayerChangePublic,
    StationConfigPublic,
    TagMembers,
    TagPublic,
)
from fleet.api.schemas import errors
from fleet.configuration.layers import FLEET, Scope
from fleet.services import configuration

router = APIRouter(prefix="/config", tags=["configuration"], responses=errors(401, 403, 404))

LayerDocument = Annotated[
    dict[str, Any],
    Body(
        description="a partial StationConfig: only the keys this layer sets",
        examples=[{"capture": {"finger_quality_min": 50}, "heartbeat_interval_s": 60}],
    ),
]


@router.get("/layers", response_model=list[ConfigLayerPublic])
def list_layers(session: DbSession, caller: Viewer) -> list[ConfigLayerPublic]:
    return configuration.list_layers(session)


@router.get("/fleet", response_model=ConfigLayerPublic)
def get_fleet_layer(session: DbSession, caller: Viewer) -> ConfigLayerPublic:
    return configuration.get_layer(session, "fleet", FLEET)


@router.put("/fleet", response_model=LayerChangePublic)
def put_fleet_layer(
    document: LayerDocument, session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    """The fleet-wide layer (``{}``: the defaults for everything)."""
    return configuration.change_layer(session, context, "fleet", FLEET, document, actor=caller.name)


@router.delete("/fleet", response_model=LayerChangePublic)
def delete_fleet_layer(
    session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    return configuration.change_layer(session, context, "fleet", FLEET, None, actor=caller.name)


@router.get("/tags", response_model=list[TagPublic])
def list_tags(session: DbSession, caller: Viewer) -> list[TagPublic]:
    return configuration.list_tags(session)


@router.get("/tags/{tag}", response_model=ConfigLayerPublic)
def get_tag_layer(tag: str, session: DbSession, caller: Viewer) -> ConfigLayerPublic:
    return configuration.get_layer(session, "tag", tag)


@router.put("/tags/{tag}", response_model=LayerChangePublic)
def put_tag_layer(
    tag: str,
    document: LayerDocument,
    session: DbSession,
    context: Context,
    caller: ReleaseManager,
) -> LayerChangePublic:
    """A group's layer; a station with several tags merges them by tag name."""
    return configuration.change_layer(session, context, "tag", tag, document, actor=caller.name)


@router.delete("/tags/{tag}", response_model=LayerChangePublic)
def delete_tag_layer(
    tag: str, session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    return configuration.change_layer(session, context, "tag", tag, None, actor=caller.name)


@router.put("/tags/{tag}/members", response_model=LayerChangePublic)
def put_tag_members(
    tag: str, body: TagMembers, session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    """Exactly these stations carry the tag (the others lose it)."""
    return configuration.set_tag_members(session, context, tag, body.stations, actor=caller.name)


@router.get("/stations", response_model=list[StationConfigPublic])
def list_station_configs(
    session: DbSession,
    caller: Viewer,
    drifted: Annotated[bool, Query(description="only stations not in sync")] = False,
) -> list[StationConfigPublic]:
    """Drift across the fleet: desired against applied, per station."""
    return configuration.station_configs(session, drifted=drifted)


@router.get("/stations/{station_id}", response_model=ConfigLayerPublic)
def get_station_layer(station_id: str, session: DbSession, caller: Viewer) -> ConfigLayerPublic:
    return configuration.get_layer(session, "station", station_id)


@router.put("/stations/{station_id}", response_model=LayerChangePublic)
def put_station_layer(
    station_id: str,
    document: LayerDocument,
    session: DbSession,
    context: Context,
    caller: ReleaseManager,
) -> LayerChangePublic:
    return configuration.change_layer(
        session, context, "station", station_id, document, actor=caller.name
    )


@router.delete("/stations/{station_id}", response_model=LayerChangePublic)
def delete_station_layer(
    station_id: str, session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    return configuration.change_layer(
        session, context, "station", station_id, None, actor=caller.name
    )


@router.get("/stations/{station_id}/effective", response_model=StationConfigPublic)
def get_effective(station_id: str, session: DbSession, caller: Viewer) -> StationConfigPublic:
    """What the station should run (merged), what it runs, and the drift between them."""
    return configuration.effective(session, station_id)


@router.get("/history", response_model=list[ConfigRevisionPublic])
def history(
    session: DbSession,
    caller: Viewer,
    scope: Scope | None = None,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ConfigRevisionPublic]:
    """Every version of every layer, newest first."""
    return configuration.history(session, scope=scope, target=target, limit=limit)

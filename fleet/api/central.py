"""/api/v1/central: the central e-WorkPermit system takes the sealed packets, marks them
processed, and posts application status (sent on to the station that enrolled the applicant).

Only the central system calls here: a user with the ``central`` role and its API tokens (no
other role, admin included, may list, fetch, mark processed or post decisions: decision 0040);
every change it makes is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet import application_status, audit
from fleet.api.deps import Central, Context, DbSession
from fleet.api.ops_schemas import (
    ApplicationStatusPost,
    ApplicationStatusPublic,
    StatusEventPublic,
)
from fleet.api.schemas import PacketPublic, errors
from fleet.application_status import StatusPost
from fleet.services.lookup import found
from fleet.services.packets import packet_row
from fleet.store.models import Packet
from fleet.store.ops_models import ApplicationRecord

router = APIRouter(prefix="/central", tags=["central"], responses=errors(401, 403, 404, 409))


@router.get("/packets", response_model=list[PacketPublic])
def list_packets(
    session: DbSession,
    caller: Central,
    state: Literal["received", "processed", "all"] = "received",
    station_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[PacketPublic]:
    """Packets in the order they arrived (default: those not processed yet)."""
    query = select(Packet).order_by(Packet.received_at, Packet.packet_id)
    if state != "all":
        query = query.where(Packet.state == state)
    if station_id is not None:
        query = query.where(Packet.station_id == station_id)
    return [PacketPublic.of(p) for p in session.scalars(query.limit(limit).offset(offset))]


@router.get("/packets/{packet_id}", response_model=PacketPublic)
def get_packet(packet_id: str, session: DbSession, caller: Central) -> PacketPublic:
    return PacketPublic.of(packet_row(session, packet_id))


@router.get(
    "/packets/{packet_id}/envelope",
    response_class=Response,
    responses={200: {"content": {"application/vnd.ewp.sealed-packet": {}}}},
)
def get_envelope(packet_id: str, session: DbSession, context: Context, caller: Central) -> Response:
    """The sealed envelope as the station signed it; only the central key opens it."""
    packet = packet_row(session, packet_id)
    data = context.files.path(packet.path).read_bytes()
    return Response(data, media_type="application/vnd.ewp.sealed-packet")


@router.post("/packets/{packet_id}/processed", response_model=PacketPublic)
def mark_processed(packet_id: str, session: DbSession, caller: Central) -> PacketPublic:
    """The central system has the packet: received -> processed (audited; again: no change)."""
    packet = packet_row(session, packet_id)
    if packet.state != "processed":
        packet.state = "processed"
        audit.record(
            session,
            actor=caller.name,
            action="packet.processed",
            target=packet_id,
            detail={"station_id": packet.station_id, "seq": packet.seq},
        )
        session.commit()
    return PacketPublic.of(packet)


def _public(session: Session, record: ApplicationRecord) -> ApplicationStatusPublic:
    return ApplicationStatusPublic(
        application_number=record.application_number,
        packet_id=record.packet_id,
        station_id=record.station_id,
        status=record.status,
        reason=record.reason,
        status_at=record.status_at,
        updated_at=record.updated_at,
        published_at=record.published_at,
        history=[
            StatusEventPublic(
                status=e.status,
                reason=e.reason,
                status_at=e.status_at,
                recorded_at=e.recorded_at,
                actor=e.actor,
            )
            for e in application_status.history(session, record.application_number)
        ],
    )


@router.post("/application-status", response_model=ApplicationStatusPublic)
def post_application_status(
    body: ApplicationStatusPost, session: DbSession, context: Context, caller: Central
) -> ApplicationStatusPublic:
    """Record a decision and send it to the station that enrolled the applicant (QoS 1; a
    station out of coverage gets it when it reconnects). Posting the same status again
    changes nothing."""
    now = context.ops.clock()
    at: datetime = body.at or now
    record, changed = application_status.post_status(
        session,
        StatusPost(
            application_number=body.application_number,
            status=body.status,
            reason=body.reason,
            at=at if at.tzinfo else at.replace(tzinfo=now.tzinfo),
            packet_id=body.packet_id,
            passport_number=body.passport_number,
        ),
        actor=caller.name,
        now=now,
    )
    session.commit()
    if changed:
        context.ops.publish_application_statuses([record.application_number])
        session.refresh(record)
    return _public(session, record)


@router.get("/application-status/{application_number}", response_model=ApplicationStatusPublic)
def get_application_status(
    application_number: str, session: DbSession, caller: Central
) -> ApplicationStatusPublic:
    record = found(
        session, ApplicationRecord, application_number, f"no application {application_number}"
    )
    return _public(session, record)

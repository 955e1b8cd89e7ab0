"""What the operations routes show: alerts, configuration, reconciliation, central hand-off and
application status (health: health_schemas.py). Never secrets, never personal data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from fleet.api.schemas import ReadOff, Strict, shown_from
from fleet.reconciliation import ranges_text
from fleet.store.ops_models import Alert, ReconciliationDayRow, ReconciliationState
from protocol.ops_messages import ApplicationState

# -- alerts ------------------------------------------------------------------------------------


class AlertPublic(BaseModel):
    id: int
    rule: str
    station_id: str
    severity: str
    summary: str
    detail: dict[str, object]
    state: Literal["active", "cleared"]
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_note: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertPublic:
        return shown_from(
            cls,
            alert,
            detail=json.loads(alert.detail),
            state="active" if alert.cleared_at is None else "cleared",
        )


class AcknowledgeRequest(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class NotificationPublic(ReadOff):
    id: int
    alert_id: int
    event: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


# -- configuration -----------------------------------------------------------------------------


class ConfigLayerPublic(BaseModel):
    scope: Literal["fleet", "tag", "station"]
    target: str = Field(description='"*" for the fleet, else the tag or station id')
    version: int
    document: dict[str, object] = Field(description="a partial StationConfig")
    updated_at: datetime
    updated_by: str


class StationDesired(BaseModel):
    station_id: str
    desired_version: int
    desired_sha256: str | None


class LayerChangePublic(BaseModel):
    layer: ConfigLayerPublic | None
    stations: list[StationDesired] = Field(description="stations whose configuration changed")
    published: list[str] = Field(description="of those, delivered to the broker already")


class TagMembers(BaseModel):
    stations: list[str] = Field(max_length=10_000)


class TagPublic(BaseModel):
    tag: str
    stations: list[str]
    layer_version: int | None


class ConfigRevisionPublic(BaseModel):
    scope: str
    target: str
    version: int
    document: dict[str, object] | None = Field(description="null: the layer was removed")
    at: datetime
    by: str


class StationConfigPublic(BaseModel):
    station_id: str
    tags: list[str]
    drift: Literal["unmanaged", "in-sync", "pending", "not-published", "refused"] = Field(
        description="unmanaged: no layer applies, the station runs its local settings; "
        "in-sync: it runs the desired hash; not-published: the broker has not had it yet; "
        "pending: delivered, not yet applied (the station may be offline); refused: the "
        "station refused this version (see error)"
    )
    desired_version: int
    desired_sha256: str | None
    desired_at: datetime | None
    sources: list[dict[str, object]] = Field(description="the layers merged, in order")
    config: dict[str, object] | None = Field(description="the whole desired StationConfig")
    published_version: int
    applied_version: int | None
    applied_sha256: str | None
    applied_at: datetime | None
    report_status: str | None
    report_error: str | None
    report_at: datetime | None


# -- reconciliation ----------------------------------------------------------------------------


class ReconciliationDayPublic(BaseModel):
    day: str = Field(description="YYYY-MM-DD, Asia/Bangkok")
    created: int = Field(description="packets the station created that day")
    received: int = Field(description="of those, stored at the fleet")
    pending: int = Field(description="waiting at the station, not yet at the fleet (not a gap)")
    lost: int = Field(description="neither at the fleet nor waiting: the gap")
    lost_seqs: str = Field(description="sequence numbers lost, e.g. 2,5-7")
    first_seq: int | None
    last_seq: int | None

    @classmethod
    def of(cls, row: ReconciliationDayRow) -> ReconciliationDayPublic:
        return shown_from(cls, row, lost_seqs=ranges_text(row.lost_seqs))


class ReconciliationPublic(BaseModel):
    station_id: str
    reported_at: datetime | None = Field(description="when the last report arrived")
    last_seq: int
    high_water_seq: int = Field(description="the highest sequence number ever reported")
    created_total: int
    received_total: int
    pending_total: int
    lost_total: int
    lost_seqs: str
    missing_at_station: str = Field(
        description="numbers with no row at the station (lost there unless received)"
    )
    duplicate_seqs: str = Field(description="numbers the fleet stored under two packet ids")

    @classmethod
    def of(cls, state: ReconciliationState) -> ReconciliationPublic:
        ranges = ("lost_seqs", "missing_at_station", "duplicate_seqs")  # stored as JSON pairs
        return shown_from(
            cls, state, **{name: ranges_text(getattr(state, name)) for name in ranges}
        )


class StationReconciliation(ReconciliationPublic):
    days: list[ReconciliationDayPublic]


# -- central hand-off and application status ------------------------------------------------------


class ApplicationStatusPost(Strict):
    """What the central system posts. The first post for an application must name its packet
    and the applicant's passport number (kept only as a salted hash)."""

    application_number: str = Field(pattern=r"^[A-Z0-9-]{4,32}$", examples=["WP-MU-01-000001"])
    status: ApplicationState
    reason: str | None = Field(default=None, max_length=500, description="why, when rejected")
    at: datetime | None = Field(default=None, description="when it was decided (default: now)")
    packet_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    passport_number: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9 -]{5,30}$", description="never stored in clear"
    )

    @field_validator("at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 2000 <= value.year <= 2199:
            raise ValueError("must be a time between the years 2000 and 2199")
        return value

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> ApplicationStatusPost:
        if self.status == "rejected" and not self.reason:
            raise ValueError("a rejection needs its reason")
        return self


class StatusEventPublic(BaseModel):
    status: str
    reason: str | None
    status_at: datetime
    recorded_at: datetime
    actor: str


class ApplicationStatusPublic(BaseModel):
    application_number: str
    packet_id: str
    station_id: str
    status: str
    reason: str | None
    status_at: datetime
    updated_at: datetime
    published_at: datetime | None = Field(description="sent to the station (null: not yet)")
    history: list[StatusEventPublic]


class PublicStatusQuery(Strict):
    application_number: str = Field(min_length=1, max_length=40)
    passport_number: str = Field(min_length=1, max_length=40)


class PublicStatus(BaseModel):
    """What an applicant sees: the status only, in Thai and English."""

    application_number: str
    status: str
    status_en: str
    status_th: str
    reason: str | None
    updated_at: datetime

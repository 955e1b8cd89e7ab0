"""Tables of software rollouts (fleet/updates/): a rollout, its phases, and each targeted
station's progress. The plan itself (phases, thresholds, soak) is kept as the JSON the rollout
was created with, so a later change of defaults never changes a running rollout.

Shares ``Base`` with fleet/store/models.py; fleet/store/migrations/env.py imports this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fleet.store.models import Base, UtcDateTime


class Rollout(Base):
    """One release rolled out to a set of stations, phase by phase."""

    __tablename__ = "rollouts"

    rollout_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    component: Mapped[str] = mapped_column(String(16))  # agent | firmware
    version: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(400))  # the full bundle's TUF target path
    allow_downgrade: Mapped[bool] = mapped_column(Boolean, default=False)
    rollback_of: Mapped[str | None] = mapped_column(String(40))  # the rollout this undoes
    selector: Mapped[str] = mapped_column(Text)  # JSON: {"fleet": true} | {"tags": [...]} | ...
    plan: Mapped[str] = mapped_column(Text)  # JSON: fleet.updates.plan.RolloutPlan
    # running | paused | waiting-approval | halted | cancelled | completed
    state: Mapped[str] = mapped_column(String(20), index=True)
    current_phase: Mapped[int] = mapped_column(Integer, default=0)
    halt_reason: Mapped[str | None] = mapped_column(Text)
    halt_measure: Mapped[str | None] = mapped_column(String(40))  # the soak measure, if any
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RolloutPhase(Base):
    """A phase of a rollout and how it went."""

    __tablename__ = "rollout_phases"

    rollout_id: Mapped[str] = mapped_column(
        ForeignKey("rollouts.rollout_id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    # pending | running | soaking | waiting-approval | passed | failed
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    soak_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    soak_result: Mapped[str | None] = mapped_column(Text)  # JSON: the measures compared


class RolloutStation(Base):
    """A targeted station in a rollout: its phase and the last state it reported."""

    __tablename__ = "rollout_stations"

    rollout_id: Mapped[str] = mapped_column(
        ForeignKey("rollouts.rollout_id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    phase: Mapped[int] = mapped_column(Integer)
    # pending | waiting-window | offered | <UpdateState> | timed-out | skipped
    state: Mapped[str] = mapped_column(String(20))
    from_version: Mapped[str | None] = mapped_column(String(64))
    offered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    delta: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(300))
    log_tail: Mapped[str | None] = mapped_column(Text)
    # the retained offer on the station's ``update`` topic: none | install | cancel | cleared
    offer: Mapped[str] = mapped_column(String(10), default="none")
    offer_dirty: Mapped[bool] = mapped_column(Boolean, default=False)  # to (re)publish

    __table_args__ = (Index("ix_rollout_stations_station_id", "station_id"),)

"""station latest health: each station's newest heartbeat in typed columns

Revision ID: 0008
Revises: 0005a
Create Date: 2026-11-26 04:17:01.420314
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import fleet.store.models

revision = "0008"
down_revision = "0005a"
branch_labels = None
depends_on = None

FAULTY = ("missing", "error")


def upgrade() -> None:
    table = op.create_table(
        "station_latest_health",
        sa.Column("station_id", sa.String(length=63), nullable=False),
        sa.Column("at", fleet.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("waiting_bytes", sa.BigInteger(), nullable=False),
        sa.Column(
            "oldest_pending_since", fleet.store.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("disk_used_pct", sa.Float(), nullable=True),
        sa.Column("cpu_temperature_c", sa.Float(), nullable=True),
        sa.Column("battery_v", sa.Float(), nullable=True),
        sa.Column("external_power", sa.Boolean(), nullable=True),
        sa.Column("sensors_faulty", sa.Integer(), nullable=False),
        sa.Column("tamper_latched", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.station_id"],
            name=op.f("fk_station_latest_health_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_latest_health")),
    )
    for column in ("oldest_pending_since", "disk_used_pct", "cpu_temperature_c", "battery_v"):
        op.create_index(f"ix_station_latest_health_{column}", "station_latest_health", [column])
    # From the heartbeat JSON each station row keeps (the stations heartbeat again within
    # their interval anyway).
    stations = sa.table(
        "stations",
        sa.column("station_id", sa.String()),
        sa.column("last_heartbeat", sa.Text()),
        sa.column("last_seen_at", fleet.store.models.UtcDateTime(timezone=True)),
    )
    rows = []
    query = sa.select(stations).where(stations.c.last_heartbeat.is_not(None))
    for station_id, text, seen in op.get_bind().execute(query):
        latest = _latest(station_id, json.loads(text), seen or datetime.now(UTC))
        if latest is not None:
            rows.append(latest)
    if rows:
        op.bulk_insert(table, rows)


def _latest(station_id: str, beat: dict[str, Any], at: datetime) -> dict[str, Any] | None:
    try:
        queue, disk = beat["queue"], beat["disk"]
        env = beat.get("environment") or {}
        total = disk.get("total_bytes") or 0
        return {
            "station_id": station_id,
            "at": at,
            "waiting": int(queue["pending"]) + int(queue["sending"]),
            "waiting_bytes": int(queue["pending_bytes"]),
            "oldest_pending_since": (
                None
                if queue.get("oldest_pending_age_s") is None
                else at - timedelta(seconds=queue["oldest_pending_age_s"])
            ),
            "disk_used_pct": (
                round(100.0 * (1 - disk["free_bytes"] / total), 2) if total else None
            ),
            "cpu_temperature_c": beat.get("cpu_temperature_c"),
            "battery_v": env.get("battery_v"),
            "external_power": env.get("external_power"),
            "sensors_faulty": sum(1 for s in beat.get("sensors", []) if s["state"] in FAULTY),
            "tamper_latched": env.get("tamper_latched"),
        }
    except (KeyError, TypeError, ValueError):
        return None  # filled by the station's next heartbeat


def downgrade() -> None:
    op.drop_table("station_latest_health")

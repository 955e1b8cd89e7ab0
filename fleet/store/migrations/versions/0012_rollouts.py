"""rollouts: rollouts, their phases and stations; heartbeat counters for the soak check

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-06 19:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.models

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None

COUNTERS = (
    "enrolments_completed",
    "attempts_ok",
    "attempts_failed",
    "sensor_errors",
    "agent_starts",
)


def _utc() -> fleet.store.models.UtcDateTime:
    return fleet.store.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("health_samples") as batch:
        for name in COUNTERS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
    op.create_table(
        "rollouts",
        sa.Column("rollout_id", sa.String(length=40), nullable=False),
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("allow_downgrade", sa.Boolean(), nullable=False),
        sa.Column("rollback_of", sa.String(length=40), nullable=True),
        sa.Column("selector", sa.Text(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("current_phase", sa.Integer(), nullable=False),
        sa.Column("halt_reason", sa.Text(), nullable=True),
        sa.Column("halt_measure", sa.String(length=40), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("rollout_id", name=op.f("pk_rollouts")),
    )
    op.create_index(op.f("ix_rollouts_state"), "rollouts", ["state"], unique=False)
    op.create_table(
        "rollout_phases",
        sa.Column("rollout_id", sa.String(length=40), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("soak_started_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("soak_result", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.rollout_id"],
            name=op.f("fk_rollout_phases_rollout_id_rollouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rollout_id", "index", name=op.f("pk_rollout_phases")),
    )
    op.create_table(
        "rollout_stations",
        sa.Column("rollout_id", sa.String(length=40), nullable=False),
        sa.Column("station_id", sa.String(length=63), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("from_version", sa.String(length=64), nullable=True),
        sa.Column("offered_at", _utc(), nullable=True),
        sa.Column("reported_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("delta", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("log_tail", sa.Text(), nullable=True),
        sa.Column("offer", sa.String(length=10), nullable=False),
        sa.Column("offer_dirty", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.rollout_id"],
            name=op.f("fk_rollout_stations_rollout_id_rollouts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.station_id"],
            name=op.f("fk_rollout_stations_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rollout_id", "station_id", name=op.f("pk_rollout_stations")),
    )
    op.create_index(
        "ix_rollout_stations_station_id", "rollout_stations", ["station_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_rollout_stations_station_id", table_name="rollout_stations")
    op.drop_table("rollout_stations")
    op.drop_table("rollout_phases")
    op.drop_index(op.f("ix_rollouts_state"), table_name="rollouts")
    op.drop_table("rollouts")
    with op.batch_alter_table("health_samples") as batch:
        for name in reversed(COUNTERS):
            batch.drop_column(name)

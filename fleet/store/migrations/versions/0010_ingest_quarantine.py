"""ingest quarantine: messages that could not be handled; held chunks indexed by station

Revision ID: 0010
Revises: 0012
Create Date: 2026-12-06 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.models

revision = "0010"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", fleet.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("station_id", sa.String(length=63), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("excerpt", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_at"), "quarantine", ["at"], unique=False)
    op.create_index(op.f("ix_quarantine_station_id"), "quarantine", ["station_id"], unique=False)
    op.create_index(
        op.f("ix_packet_chunks_station_id"), "packet_chunks", ["station_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_packet_chunks_station_id"), table_name="packet_chunks")
    op.drop_index(op.f("ix_quarantine_station_id"), table_name="quarantine")
    op.drop_index(op.f("ix_quarantine_at"), table_name="quarantine")
    op.drop_table("quarantine")

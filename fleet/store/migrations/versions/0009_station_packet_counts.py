"""station packet counts: running totals of each station's stored packets

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_packet_counts",
        sa.Column("station_id", sa.String(length=63), nullable=False),
        sa.Column("packets", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("resends", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.station_id"],
            name=op.f("fk_station_packet_counts_station_id_stations"),
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_packet_counts")),
    )
    op.execute(
        "INSERT INTO station_packet_counts (station_id, packets, bytes, last_seq, resends) "
        "SELECT station_id, count(*), sum(size), max(seq), sum(resends) FROM packets "
        "GROUP BY station_id"
    )


def downgrade() -> None:
    op.drop_table("station_packet_counts")

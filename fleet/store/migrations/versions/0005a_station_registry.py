"""station registry (region, province, tags, operators, firmware), key rotation, key history

Revision ID: 0005a
Revises: 0004a
Create Date: 2026-11-26 00:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.models

revision = "0005a"
down_revision = "0004a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = fleet.store.models.UtcDateTime(timezone=True)
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("province", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("operators", sa.Text(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("firmware_version", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("updated_at", when, nullable=True))
        batch_op.add_column(sa.Column("previous_public_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("previous_key_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("previous_key_until", when, nullable=True))
        batch_op.add_column(sa.Column("key_rotated_at", when, nullable=True))
        batch_op.add_column(sa.Column("credentials_rotated_at", when, nullable=True))
    op.create_table(
        "station_keys",
        sa.Column("station_id", sa.String(length=63), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("registered_at", when, nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("retired_at", when, nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.station_id"],
            name=op.f("fk_station_keys_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("station_id", "key_id", name=op.f("pk_station_keys")),
    )
    # Keys registered before this migration join the history.
    op.execute(
        "INSERT INTO station_keys (station_id, key_id, public_key, registered_at, how) "
        "SELECT station_id, key_id, public_key, COALESCE(claimed_at, created_at), 'claim' "
        "FROM stations WHERE public_key IS NOT NULL AND key_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("station_keys")
    with op.batch_alter_table("stations", schema=None) as batch_op:
        for column in (
            "credentials_rotated_at",
            "key_rotated_at",
            "previous_key_until",
            "previous_key_id",
            "previous_public_key",
            "updated_at",
            "firmware_version",
            "operators",
            "tags",
            "province",
            "region",
        ):
            batch_op.drop_column(column)

"""Alembic environment: run migrations on the connection the fleet hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import fleet.store.admin_models
import fleet.store.ops_models
import fleet.store.rollout_models  # noqa: F401  (registers the operations and rollout tables)
from fleet.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only alter tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()

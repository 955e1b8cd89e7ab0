"""Where a fleet benchmark's run keeps its store: SQLite in the run's directory, or a durable
PostgreSQL cluster started for the run."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ewp.local_postgres import PostgresCluster


@contextmanager
def backend_store(backend: str) -> Iterator[tuple[Path, str | None]]:
    """The run's directory (kept under ``EWP_BENCH_KEEP`` when set, else removed after) and
    the store's URL: None for ``sqlite`` (the fleet's default, in that directory), a database
    of a PostgreSQL cluster with fsync on for ``postgresql``, stopped after the run."""
    with tempfile.TemporaryDirectory(prefix="ewp-bench-") as tmp:
        root = Path(os.environ.get("EWP_BENCH_KEEP") or tmp) / backend
        cluster = None
        database_url = None
        if backend == "postgresql":
            cluster = PostgresCluster(durable=True).start()
            database_url = cluster.create_database("ewp")
        try:
            yield root, database_url
        finally:
            if cluster is not None:
                cluster.stop()

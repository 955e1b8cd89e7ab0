"""What the station's SQLite stores open the same way: one connection to their file, in
autocommit mode with a write-ahead log, their schema created if missing."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Self


class SqliteStore:
    """A store on one SQLite file; closed by ``close()`` or on leaving a ``with``."""

    def __init__(
        self, path: Path, schema: str, *, timeout: float = 5.0, check_same_thread: bool = True
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, isolation_level=None, timeout=timeout, check_same_thread=check_same_thread
        )
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(schema)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

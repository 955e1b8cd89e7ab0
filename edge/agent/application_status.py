"""Application statuses the fleet sent this station (decisions of the central system), kept
so staff can tell an applicant who comes back: ``{data_dir}/app_status.sqlite``.

One row per application, the newest decision wins (a late, older message does not overwrite a
newer one). No personal data: application number, packet, status, reason, time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from edge.agent.errors import AgentError
from edge.agent.sqlite_store import SqliteStore
from protocol.envelope import utc_timestamp
from protocol.ops_messages import ApplicationStatus

FILE_NAME = "app_status.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS statuses (
    application_number TEXT PRIMARY KEY,
    packet_id          TEXT,
    status             TEXT NOT NULL,
    reason             TEXT,
    at                 TEXT NOT NULL,
    received_at        TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredStatus:
    application_number: str
    packet_id: str | None
    status: str
    reason: str | None
    at: str
    received_at: str


class ApplicationStatusStore(SqliteStore):
    """A connection to the status file (one per thread)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME
        try:
            super().__init__(self.path, _SCHEMA, timeout=30.0)
        except sqlite3.Error as exc:
            raise AgentError(f"cannot open the application status file {self.path}: {exc}") from exc

    def record(self, message: ApplicationStatus) -> bool:
        """Keep it unless a newer decision is already kept; True if it was stored."""
        cursor = self._db.execute(
            "INSERT INTO statuses (application_number, packet_id, status, reason, at,"
            " received_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (application_number) DO UPDATE SET packet_id = excluded.packet_id,"
            " status = excluded.status, reason = excluded.reason, at = excluded.at,"
            " received_at = excluded.received_at WHERE excluded.at >= statuses.at",
            (
                message.application_number,
                message.packet_id,
                message.status,
                message.reason,
                message.at,
                utc_timestamp(),
            ),
        )
        return cursor.rowcount == 1

    def get(self, application_number: str) -> StoredStatus | None:
        row = self._db.execute(
            "SELECT application_number, packet_id, status, reason, at, received_at"
            " FROM statuses WHERE application_number = ?",
            (application_number,),
        ).fetchone()
        return StoredStatus(*row) if row else None

    def latest(self, limit: int = 50) -> list[StoredStatus]:
        rows = self._db.execute(
            "SELECT application_number, packet_id, status, reason, at, received_at"
            " FROM statuses ORDER BY received_at DESC, application_number LIMIT ?",
            (limit,),
        ).fetchall()
        return [StoredStatus(*row) for row in rows]

"""What a fleet admin sees of the quarantine (fleet/ingest/quarantine.py): the messages ingest
could not handle, newest first.

Everything in a quarantined row came from a station (the payload, and the station id and topic
as the topic claimed them; the reason's detail may quote them), so nothing is shown raw: the
payload only as its size, sha256 and a short preview, and every text with anything but plain
printable characters escaped (``\\xNN``, ``\\uNNNN``) — safe in a terminal, a log line or an
HTML page, whatever the station sent.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.store.models import QuarantinedMessage

PREVIEW_BYTES = 64
DETAIL_CHARS = 500
MAX_LIMIT = 1000
# Printable ASCII that means nothing special in a terminal, HTML, JSON or a shell.
_PLAIN = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%()*+,-./:;=?@[]^_{|}~"
)


def escape_bytes(data: bytes) -> str:
    """Plain characters as they are, every other byte as ``\\xNN``."""
    return "".join(chr(b) if chr(b) in _PLAIN else f"\\x{b:02x}" for b in data)


def escape_text(text: str) -> str:
    """Plain characters as they are, every other character as ``\\xNN`` or ``\\uNNNN``."""
    out = []
    for char in text:
        if char in _PLAIN:
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


class QuarantinedView(BaseModel):
    """One quarantined message, every station-controlled text escaped."""

    id: int
    at: datetime
    station_id: str = Field(description="as the topic claimed it (escaped)")
    topic: str = Field(description="escaped")
    reason: str
    detail: str = Field(description=f"why, escaped, the first {DETAIL_CHARS} characters")
    size: int = Field(description="the payload's size in bytes")
    sha256: str = Field(description="the payload's sha256 (hex)")
    preview: str = Field(
        description=f"the payload's first {PREVIEW_BYTES} bytes, every byte but plain "
        "printable ASCII written as \\xNN"
    )

    @classmethod
    def of(cls, row: QuarantinedMessage) -> QuarantinedView:
        detail = row.detail[:DETAIL_CHARS]
        return cls(
            id=row.id,
            at=row.at,
            station_id=escape_text(row.station_id),
            topic=escape_text(row.topic),
            reason=escape_text(row.reason),
            detail=escape_text(detail) + ("..." if len(row.detail) > DETAIL_CHARS else ""),
            size=row.size,
            sha256=row.sha256,
            preview=escape_bytes(bytes(row.excerpt[:PREVIEW_BYTES])),
        )


def list_quarantined(
    session: Session, *, station_id: str | None = None, limit: int = 100
) -> list[QuarantinedView]:
    """The newest ``limit`` quarantined messages (of one station if ``station_id``)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}, not {limit}")
    query = select(QuarantinedMessage).order_by(QuarantinedMessage.id.desc())
    if station_id is not None:
        query = query.where(QuarantinedMessage.station_id == station_id)
    return [QuarantinedView.of(row) for row in session.scalars(query.limit(limit))]

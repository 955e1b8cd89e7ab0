"""Application status from the central system: stored, sent to the station that enrolled the
applicant, and looked up by the applicant with application number + passport number.

The fleet cannot read sealed packets, so the central system's first status post for an
application names its packet (hence its station) and its passport number. The passport number
is never stored: only a salted scrypt hash, compared when an applicant looks the status up.
A lookup answers the same way, after the same work, whether the application number is unknown
or the passport number wrong, so it tells an outsider nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fleet import audit
from fleet.broker.publisher import FleetPublisher
from fleet.errors import ConflictError, NotFoundError
from fleet.store.locking import locked, serialised
from fleet.store.models import Packet
from fleet.store.ops_models import ApplicationRecord, ApplicationStatusEvent
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.ops_messages import ApplicationState, ApplicationStatus

log = logging.getLogger(__name__)

# scrypt: about 16 MiB and tens of milliseconds per check; lookups are rate-limited too.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}
_DUMMY_SALT = secrets.token_bytes(16)

LABELS: dict[str, dict[str, str]] = {
    "received": {"en": "Application received", "th": "ได้รับคำขอแล้ว"},
    "biometrics-verified": {"en": "Biometrics verified", "th": "ตรวจสอบข้อมูลชีวภาพแล้ว"},
    "permit-approved": {"en": "Work permit approved", "th": "อนุมัติใบอนุญาตทำงานแล้ว"},
    "card-ready": {"en": "Card ready for collection", "th": "บัตรพร้อมให้รับแล้ว"},
    "rejected": {"en": "Rejected", "th": "ไม่อนุมัติ"},
}


class ApplicationStatusError(ConflictError):
    """A status post the fleet cannot accept (unknown packet, conflicting facts)."""


class UnknownPacketError(NotFoundError, ApplicationStatusError):
    pass


def normalise_passport(text: str) -> str:
    """Upper case, without spaces or dashes: how applicants type it should not matter."""
    return re.sub(r"[\s-]", "", text).upper()


def passport_hash(passport_number: str, salt: bytes) -> str:
    return hashlib.scrypt(
        normalise_passport(passport_number).encode("utf-8"), salt=salt, **SCRYPT
    ).hex()


@dataclass(frozen=True)
class StatusPost:
    application_number: str
    status: ApplicationState
    reason: str | None
    at: datetime
    packet_id: str | None = None
    passport_number: str | None = None


def post_status(
    session: Session, post: StatusPost, *, actor: str, now: datetime
) -> tuple[ApplicationRecord, bool]:
    """Record a status (caller commits, then publishes). Returns (record, changed)."""
    # Posts for one application run one at a time (the first one creates its record).
    serialised(session, f"application:{post.application_number}")
    record = locked(session, ApplicationRecord, post.application_number)
    if record is None:
        if post.packet_id is None or post.passport_number is None:
            raise ApplicationStatusError(
                f"application {post.application_number} is new to the fleet: its first status "
                "must name packet_id and passport_number"
            )
        packet = session.get(Packet, post.packet_id)
        if packet is None:
            raise UnknownPacketError(f"no packet {post.packet_id} at the fleet")
        salt = secrets.token_bytes(16)
        record = ApplicationRecord(
            application_number=post.application_number,
            packet_id=packet.packet_id,
            station_id=packet.station_id,
            passport_salt=salt.hex(),
            passport_hash=passport_hash(post.passport_number, salt),
            status=post.status,
            reason=post.reason,
            status_at=post.at,
            updated_at=now,
        )
        session.add(record)
        changed = True
    else:
        if post.packet_id is not None and post.packet_id != record.packet_id:
            raise ApplicationStatusError(
                f"application {post.application_number} came in packet {record.packet_id}, "
                f"not {post.packet_id}"
            )
        if post.passport_number is not None and not _matches(record, post.passport_number):
            raise ApplicationStatusError(
                f"application {post.application_number} was registered with another passport number"
            )
        changed = (record.status, record.reason) != (post.status, post.reason)
        if not changed:
            return record, False  # the same post again: idempotent
        if post.at < record.status_at:
            log.info("older status for %s recorded in history only", post.application_number)
        else:
            record.status, record.reason, record.status_at = post.status, post.reason, post.at
            record.updated_at, record.published_at = now, None
    session.add(
        ApplicationStatusEvent(
            application_number=post.application_number,
            status=post.status,
            reason=post.reason,
            status_at=post.at,
            recorded_at=now,
            actor=actor,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="application.status",
        target=post.application_number,
        detail={"status": post.status, "station_id": record.station_id},
    )
    return record, changed


def _matches(record: ApplicationRecord, passport_number: str) -> bool:
    candidate = passport_hash(passport_number, bytes.fromhex(record.passport_salt))
    return hmac.compare_digest(candidate, record.passport_hash)


def lookup(
    session: Session, application_number: str, passport_number: str
) -> ApplicationRecord | None:
    """The applicant's lookup: None for an unknown application and for a wrong passport alike."""
    record = session.get(ApplicationRecord, application_number.strip().upper())
    if record is None:
        passport_hash(passport_number, _DUMMY_SALT)  # the same work as a real check
        return None
    return record if _matches(record, passport_number) else None


def history(session: Session, application_number: str) -> list[ApplicationStatusEvent]:
    return list(
        session.scalars(
            select(ApplicationStatusEvent)
            .where(ApplicationStatusEvent.application_number == application_number)
            .order_by(ApplicationStatusEvent.id)
        )
    )


def unpublished(session: Session, limit: int = 500) -> list[str]:
    return list(
        session.scalars(
            select(ApplicationRecord.application_number)
            .where(
                or_(
                    ApplicationRecord.published_at.is_(None),
                    ApplicationRecord.published_at < ApplicationRecord.updated_at,
                )
            )
            .limit(limit)
        )
    )


def message_for(record: ApplicationRecord) -> ApplicationStatus:
    return ApplicationStatus.model_validate(
        {
            "station_id": record.station_id,
            "application_number": record.application_number,
            "packet_id": record.packet_id,
            "status": record.status,
            "reason": record.reason,
            "at": utc_timestamp(record.status_at),
        }
    )


def publish(
    session: Session, publisher: FleetPublisher, application_number: str, *, now: datetime
) -> bool:
    """Send the current status to the station that enrolled the applicant (caller commits)."""
    record = session.get(ApplicationRecord, application_number)
    if record is None:
        return False
    spec = topics.APPLICATION_STATUS
    publisher.publish(
        spec.for_station(record.station_id), message_for(record).to_payload(), qos=spec.qos
    )
    record.published_at = now
    return True

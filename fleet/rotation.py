"""Rotating a station's Ed25519 key and its broker password (docs/decisions/
0023-station-key-rotation.md and 0021-broker-credential-rotation.md).

Both start with a command to the station (``start``) and finish when its signed answer comes
back through ingest (``finish``), on whichever ingest worker receives it.

- ``rotate-key``: the answer, signed with the current key, carries the new public key and the
  new key's signature over the station id, command id, nonce and old key id. The fleet makes
  the new key current, keeps the old one as ``previous`` for ``rotation.key_grace_hours`` (packets
  sealed before the switch are still accepted), and sends ``activate-key``.
- ``rotate-credentials``: the answer carries the station's new broker password, which the
  station already keeps beside its current one; the fleet sets it in the broker (which
  disconnects the station) and the station logs in with it.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta

from cryptography.exceptions import InvalidSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet import audit
from fleet.broker.publisher import FleetPublisher
from fleet.commands import issue_command, new_command
from fleet.errors import FleetError, RotationError
from fleet.provisioning import register_key
from fleet.store.locking import locked
from fleet.store.models import Station, StationCommand, utcnow
from protocol.errors import KeyFileError
from protocol.keys import decode_station_public_key, encode_station_public_key, station_key_id
from protocol.messages import Command, CommandResponse
from protocol.rotation import (
    ACTIVATE_KEY,
    MIN_PASSWORD_LENGTH,
    ROTATE_CREDENTIALS,
    ROTATE_KEY,
    rotation_message,
)

log = logging.getLogger(__name__)
security = logging.getLogger("ewp.security")

ACTOR = "fleet:rotation"
KINDS = (ROTATE_KEY, ROTATE_CREDENTIALS)
__all__ = ["ACTIVATE_KEY", "KINDS", "ROTATE_CREDENTIALS", "ROTATE_KEY", "finish", "start"]

# Sets a station's broker password: DynsecAdmin.set_station_password.
SetPassword = Callable[[str, str], None]


def start(
    session: Session, publisher: FleetPublisher, station_id: str, kind: str, *, actor: str
) -> str:
    """Send the rotation command; returns its id (its answer finishes the rotation)."""
    if kind not in KINDS:
        raise RotationError(f"unknown rotation {kind!r}")
    station = locked(session, Station, station_id)  # two requests at once: one rotation
    if station is None or station.state != "active" or station.public_key is None:
        state = "unknown" if station is None else station.state
        raise RotationError(
            f"station {station_id} is {state}: only an active (claimed, not revoked) station "
            "can rotate; a lost key needs `ewp fleet station reissue`"
        )
    pending = _in_progress(session, station_id, kind)
    if pending is not None:
        raise RotationError(
            f"a {kind} of station {station_id} is in progress (command {pending.command_id}, "
            f"sent {pending.issued_at:%Y-%m-%d %H:%M} UTC): wait for the station's answer; it "
            "may be offline (commands wait for it at the broker)"
        )
    args = {"nonce": secrets.token_hex(16)} if kind == ROTATE_KEY else {}
    return issue_command(session, publisher, station_id, kind, dict(args), actor=actor)


# A rotation's commands wait at the broker as long as the station's MQTT session lives.
PENDING_FOR = timedelta(days=7)


def _in_progress(session: Session, station_id: str, kind: str) -> StationCommand | None:
    """An unanswered command of the same rotation: a second one would overlap it (a key made
    while another waits for activation; a password while another is being set)."""
    kinds = (ROTATE_KEY, ACTIVATE_KEY) if kind == ROTATE_KEY else (kind,)
    return session.scalars(
        select(StationCommand)
        .where(
            StationCommand.station_id == station_id,
            StationCommand.kind.in_(kinds),
            StationCommand.state == "sent",
            StationCommand.issued_at > utcnow() - PENDING_FOR,
        )
        .order_by(StationCommand.issued_at.desc())
        .limit(1)
    ).first()


def finish(
    session: Session,
    command: StationCommand,
    response: CommandResponse,
    *,
    grace: timedelta,
    set_password: SetPassword | None,
) -> list[Command]:
    """Finish a rotation with the station's (verified, first) answer; returns the commands to
    publish next (``activate-key``)."""
    station = session.get(Station, command.station_id)
    if station is None or station.state != "active":
        return []
    if response.status != "ok":
        audit.record(
            session,
            actor=f"station:{station.station_id}",
            action=f"station.{command.kind}-failed",
            target=station.station_id,
            detail={"status": response.status, **_scalars(response.detail)},
        )
        session.commit()
        return []
    if command.kind == ROTATE_KEY:
        return _finish_key(session, station, command, response, grace)
    if command.kind == ROTATE_CREDENTIALS:
        _finish_credentials(session, station, response, set_password)
    return []


def _scalars(detail: Mapping[str, object]) -> audit.Detail:
    return {k: v for k, v in detail.items() if k != "password" and isinstance(v, str | int | bool)}


def _refuse(session: Session, station: Station, action: str, why: str) -> None:
    security.warning("station %s: %s refused: %s", station.station_id, action, why)
    audit.record(
        session,
        actor=ACTOR,
        action=f"security.{action}-refused",
        target=station.station_id,
        detail={"reason": why},
    )
    session.commit()


def _finish_key(
    session: Session,
    station: Station,
    command: StationCommand,
    response: CommandResponse,
    grace: timedelta,
) -> list[Command]:
    nonce = str(json.loads(command.args).get("nonce", ""))
    old_key_id = station.key_id or ""
    try:
        new_key = decode_station_public_key(str(response.detail.get("public_key", "")))
        proof = base64.b64decode(str(response.detail.get("proof", "")), validate=True)
        new_key.verify(
            proof,
            rotation_message(
                station.station_id,
                command.command_id,
                nonce,
                old_key_id,
                new_key.public_bytes_raw(),
            ),
        )
    except (KeyFileError, ValueError, InvalidSignature):
        _refuse(session, station, "key-rotation", "the new key's proof does not verify")
        return []
    new_key_id = station_key_id(new_key)
    if new_key_id == old_key_id:
        _refuse(session, station, "key-rotation", "the new key is the old key")
        return []
    now = utcnow()
    station.previous_public_key, station.previous_key_id = station.public_key, station.key_id
    station.previous_key_until = now + grace
    station.public_key = encode_station_public_key(new_key)
    station.key_id = new_key_id
    station.key_rotated_at = now
    register_key(session, station.station_id, station.public_key, "rotation", now)
    audit.record(
        session,
        actor=ACTOR,
        action="station.key-rotated",
        target=station.station_id,
        detail={
            "old_key_id": old_key_id,
            "new_key_id": new_key_id,
            "old_key_accepted_until": station.previous_key_until.isoformat(),
            "command_id": command.command_id,
        },
    )
    activate = new_command(
        session, station.station_id, ACTIVATE_KEY, {"key_id": new_key_id}, actor=ACTOR
    )
    session.commit()
    log.info("station %s rotated its key %s -> %s", station.station_id, old_key_id, new_key_id)
    return [activate]


def _finish_credentials(
    session: Session,
    station: Station,
    response: CommandResponse,
    set_password: SetPassword | None,
) -> None:
    password = response.detail.get("password")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        _refuse(session, station, "credential-rotation", "no usable password in the answer")
        return
    if set_password is None:
        _refuse(session, station, "credential-rotation", "this process cannot manage the broker")
        return
    try:
        set_password(station.station_id, password)
    except FleetError as exc:
        log.error("station %s: the broker refused the new password: %s", station.station_id, exc)
        audit.record(
            session,
            actor=ACTOR,
            action="station.rotate-credentials-failed",
            target=station.station_id,
            detail={"error": str(exc)[:500]},
        )
        session.commit()
        return
    station.credentials_rotated_at = utcnow()
    audit.record(
        session, actor=ACTOR, action="station.credentials-rotated", target=station.station_id
    )
    session.commit()
    log.info("station %s has new broker credentials", station.station_id)

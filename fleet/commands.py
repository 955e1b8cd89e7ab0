"""Commands to stations: issue them over MQTT, record the stations' signed responses."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.orm import Session, sessionmaker

from fleet import audit
from fleet.broker.publisher import FleetPublisher
from fleet.errors import FleetError, StationOfflineError, UnknownStationError
from fleet.store.locking import locked
from fleet.store.models import Station, StationCommand, utcnow
from protocol import topics
from protocol.commands import verify_response
from protocol.controller_tamper import tamper_clear_mac
from protocol.enrolment import Application
from protocol.envelope import utc_timestamp
from protocol.errors import ProtocolError
from protocol.keys import decode_station_public_key
from protocol.messages import Command, CommandResponse, PreregistrationBatch, Scalar

log = logging.getLogger(__name__)


def new_command(
    session: Session,
    station_id: str,
    kind: str,
    args: dict[str, Scalar] | None = None,
    *,
    actor: str,
) -> Command:
    """Record a command (and its audit entry) in the caller's transaction; publish it after
    the commit."""
    station = session.get(Station, station_id)
    if station is None or station.state != "active":
        raise UnknownStationError(f"no active station {station_id}")
    command = Command.model_validate(
        {
            "command_id": uuid.uuid4().hex,
            "kind": kind,
            "args": args or {},
            "issued_at": utc_timestamp(),
        }
    )
    session.add(
        StationCommand(
            command_id=command.command_id,
            station_id=station_id,
            kind=kind,
            args=json.dumps(command.args),
        )
    )
    audit.record(
        session,
        actor=actor,
        action=f"command.{kind}",
        target=station_id,
        detail={"command_id": command.command_id},
    )
    return command


def issue_command(
    session: Session,
    publisher: FleetPublisher,
    station_id: str,
    kind: str,
    args: dict[str, Scalar] | None = None,
    *,
    actor: str,
) -> str:
    """Record and publish a command; returns its id. The station answers on ``responses``."""
    command = new_command(session, station_id, kind, args, actor=actor)
    session.commit()
    publisher.publish(topics.COMMANDS.for_station(station_id), command.to_payload(), qos=1)
    log.info("command %s (%s) sent to %s", command.command_id, kind, station_id)
    return command.command_id


def station_keys(station: Station) -> list[ed25519.Ed25519PublicKey]:
    """The keys a station's signature is checked against: its current key, and its previous
    key while the rotation grace period lasts."""
    keys = []
    if station.public_key is not None:
        keys.append(decode_station_public_key(station.public_key))
    if (
        station.previous_public_key is not None
        and station.previous_key_until is not None
        and station.previous_key_until > utcnow()
    ):
        keys.append(decode_station_public_key(station.previous_public_key))
    return keys


def record_response(
    session: Session, station_id: str, response: CommandResponse
) -> tuple[StationCommand, bool] | None:
    """Store a response if the station's key signed it; None (and nothing stored) if not.

    Returns the command and whether this was its first answer (a redelivered response is not
    stored again).
    """
    station = session.get(Station, station_id)
    # Locked: a redelivered answer on another worker waits and then finds it answered.
    command = locked(session, StationCommand, response.command_id)
    if station is None or station.public_key is None or command is None:
        return None
    if command.station_id != station_id or response.station_id != station_id:
        return None
    for key in station_keys(station):
        try:
            verify_response(response, key)
            break
        except ProtocolError:
            continue
    else:
        return None
    if command.state == "answered":
        return command, False
    command.state = "answered"
    command.status = response.status
    command.response = _redacted(response).model_dump_json()
    command.answered_at = utcnow()
    session.commit()
    return command, True


SECRET_DETAILS = frozenset({"password"})  # never stored: a new broker password


def _redacted(response: CommandResponse) -> CommandResponse:
    """The response as stored: secrets in its detail replaced (its signature was checked)."""
    if not SECRET_DETAILS & response.detail.keys():
        return response
    detail = {k: ("[redacted]" if k in SECRET_DETAILS else v) for k, v in response.detail.items()}
    return response.model_copy(update={"detail": detail})


def wait_for_response(
    sessions: sessionmaker[Session],
    command_id: str,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> CommandResponse:
    deadline = clock() + timeout
    while clock() < deadline:
        with sessions() as session:
            command = session.get(StationCommand, command_id)
            if command is not None and command.response is not None:
                return CommandResponse.model_validate_json(command.response)
        time.sleep(0.1)
    raise FleetError(
        f"no answer to command {command_id} within {timeout:.0f} s: the station may be "
        "offline (it will answer when it reconnects) or the fleet service is not running"
    )


def clear_tamper(
    sessions: sessionmaker[Session],
    publisher: FleetPublisher,
    station_id: str,
    secret: bytes,
    *,
    actor: str,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Ask the station's controller for a challenge, answer it with the board's secret."""
    with sessions() as session:
        challenge_id = issue_command(
            session, publisher, station_id, "tamper-challenge", actor=actor
        )
    challenge = wait_for_response(sessions, challenge_id, timeout)
    if challenge.status != "ok":
        raise FleetError(f"station {station_id} gave no tamper challenge: {challenge.detail}")
    detail = challenge.detail
    mac = tamper_clear_mac(
        secret,
        bytes.fromhex(str(detail["board_id"])),
        bytes.fromhex(str(detail["nonce"])),
        int(str(detail["tamper_count"])),
    )
    with sessions() as session:
        clear_id = issue_command(
            session, publisher, station_id, "tamper-clear", {"mac": mac.hex()}, actor=actor
        )
    answer = wait_for_response(sessions, clear_id, timeout)
    if answer.status != "ok":
        raise FleetError(f"station {station_id} refused the tamper clear: {answer.detail}")
    return {
        "station_id": station_id,
        "board_id": detail["board_id"],
        "cleared": True,
        "tamper_count": detail["tamper_count"],
    }


def send_preregistration_batch(
    session: Session,
    publisher: FleetPublisher,
    station_id: str,
    applications: list[Application],
    *,
    valid_for: timedelta,
    actor: str,
) -> PreregistrationBatch:
    """Publish applications to a station that is online now (QoS 0, decision 0042).

    Personal data must not wait at the broker for a station out of coverage: Mosquitto would
    keep a queued QoS 1 message in its persistence file. At QoS 0 the broker delivers to a
    connected session or drops it; the station confirms with a ``preregistrations-received``
    event, and an offline station is refused here so the sender knows to try again later."""
    station = session.get(Station, station_id)
    if station is None or station.state != "active":
        raise UnknownStationError(f"no active station {station_id}")
    if not station.online:
        raise StationOfflineError(
            f"station {station_id} is offline: pre-registrations are sent only to a station "
            "online now (they are never left waiting at the broker); send them when it is back"
        )
    now = datetime.now(UTC)
    batch = PreregistrationBatch(
        batch_id=uuid.uuid4().hex,
        issued_at=utc_timestamp(now),
        expires_at=utc_timestamp(now + valid_for),
        applications=applications,
    )
    audit.record(
        session,
        actor=actor,
        action="preregistrations.send",
        target=station_id,
        detail={"batch_id": batch.batch_id, "applications": len(applications)},
    )
    session.commit()
    spec = topics.PREREGISTRATIONS
    publisher.publish(spec.for_station(station_id), batch.to_payload(), qos=spec.qos)
    return batch

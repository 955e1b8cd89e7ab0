"""Telemetry and answers from stations: heartbeats, status, events, command responses,
configuration reports and reconciliation reports (the last two handed to fleet/ops.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from fleet import audit, rotation
from fleet.commands import record_response
from fleet.ingest.core import IngestCore
from fleet.store.db import relax_durability
from fleet.store.locking import locked
from fleet.store.models import Station, StationEventRow, utcnow
from protocol.errors import ProtocolError
from protocol.messages import (
    Command,
    CommandResponse,
    Heartbeat,
    StationEvent,
    StationStatus,
    parse_message,
)

log = logging.getLogger(__name__)

# Station events that also go into the audit log.
SECURITY_EVENTS = frozenset({"tamper", "tamper-cleared", "agent-watchdog", "packet-refused"})


class TelemetryIngest(IngestCore):
    """Everything a station sends besides packet chunks."""

    def handle_heartbeat(self, topic_station: str, payload: bytes) -> None:
        self.handle_heartbeats([(topic_station, payload)])

    def handle_heartbeats(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Heartbeats ((topic station, payload) each) received at once, in one transaction:
        stations are locked in the order of their ids (a station's heartbeats keep theirs), so
        two workers' batches never wait on each other in a cycle.

        Heartbeats are telemetry: the commit does not wait for the disk (PostgreSQL;
        ``relax_durability``). A crash may lose the samples of its last moments, and the next
        heartbeat comes within the station's interval."""
        valid: list[tuple[str, Heartbeat]] = []
        for topic_station, payload in items:
            try:
                heartbeat = parse_message(Heartbeat, payload)
            except ProtocolError as exc:
                self._reject(topic_station, None, "malformed-heartbeat", str(exc))
                continue
            if heartbeat.station_id != topic_station:
                self._reject(
                    topic_station, None, "station-mismatch", "heartbeat for another station"
                )
                continue
            valid.append((topic_station, heartbeat))
        if not valid:
            return
        valid.sort(key=lambda item: item[0])
        recorded = 0
        with self._sessions() as session:
            relax_durability(session)
            for topic_station, heartbeat in valid:
                # Locked, then its liveness (fleet/store/locking.py: the station's row first).
                station = locked(session, Station, topic_station)
                if station is None or station.state != "active":
                    continue
                station.last_seen_at = utcnow()
                station.online = True
                station.software_version = heartbeat.software_version
                environment = heartbeat.environment
                if environment is not None and environment.controller_firmware:
                    station.firmware_version = environment.controller_firmware
                station.last_heartbeat = heartbeat.model_dump_json()
                if self.ops is not None:
                    self.ops.on_heartbeat(session, topic_station, heartbeat)
                recorded += 1
            session.commit()
        with self._lock:
            self.counters.heartbeats += recorded
        self.metrics.heartbeats.inc(recorded)

    def handle_status(self, topic_station: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            status = parse_message(StationStatus, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed-status", str(exc))
            return
        with self._sessions() as session:
            # Every worker gets the status (not shared): they take turns on the station's row.
            station = locked(session, Station, topic_station)
            if station is None or status.station_id != topic_station:
                return
            station.online = status.state == "online" and station.state == "active"
            station.status_at = utcnow()
            if status.software_version:
                station.software_version = status.software_version
            if self.ops is not None and station.state == "active":
                self.ops.on_status(session, topic_station, status)
            session.commit()
        log.info(
            "station %s is %s%s",
            topic_station,
            status.state,
            f" ({status.reason})" if status.reason else "",
        )

    def handle_response(self, topic_station: str, payload: bytes) -> list[Command]:
        """Store a signed answer; returns the commands to send next (a rotation's next step)."""
        try:
            response = parse_message(CommandResponse, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed-response", str(exc))
            return []
        follow_up: list[Command] = []
        with self._sessions() as session:
            recorded = record_response(session, topic_station, response)
            if recorded is None:
                self._reject(
                    topic_station,
                    None,
                    "bad-response",
                    f"response to {response.command_id} unknown or not signed by the station",
                    session,
                )
                return []
            command, first = recorded
            if first and command.kind in rotation.KINDS:
                follow_up = rotation.finish(
                    session,
                    command,
                    response,
                    grace=self._key_grace,
                    set_password=self.set_station_password,
                )
        if first:
            self.metrics.command_responses.labels(status=response.status).inc()
        log.info(
            "station %s answered command %s: %s",
            topic_station,
            response.command_id,
            response.status,
        )
        return follow_up

    def handle_event(self, topic_station: str, payload: bytes) -> None:
        try:
            event = parse_message(StationEvent, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed-event", str(exc))
            return
        with self._sessions() as session:
            if session.get(Station, topic_station) is None or event.station_id != topic_station:
                return
            self.metrics.events.labels(severity=event.severity).inc()
            row = StationEventRow(
                station_id=topic_station,
                kind=event.kind,
                severity=event.severity,
                detail=json.dumps(event.detail),
            )
            session.add(row)
            if self.ops is not None:
                self.ops.on_event(session, topic_station, event, row)
            if event.kind in SECURITY_EVENTS:  # the audit head last (it serialises appends)
                audit.record(
                    session,
                    actor=f"station:{topic_station}",
                    action=f"security.{event.kind}",
                    target=topic_station,
                    detail=dict(event.detail),
                )
            session.commit()
        level = logging.WARNING if event.severity in ("error", "critical") else logging.INFO
        log.log(level, "event from %s: %s %s", topic_station, event.kind, event.detail)

    def handle_ops_message(self, topic_station: str, suffix: str, payload: bytes) -> None:
        """``config-applied`` and ``reconciliation``: handed to fleet/ops.py."""
        if self.ops is None:
            return
        try:
            self.ops.handle_message(topic_station, suffix, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, f"malformed-{suffix}", str(exc))

    def handle_update_status(self, topic_station: str, payload: bytes) -> None:
        """``update-status``: handed to the rollouts (fleet/updates/status_ingest.py)."""
        if self.on_update_status is None:
            return
        try:
            self.on_update_status(topic_station, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed-update-status", str(exc))

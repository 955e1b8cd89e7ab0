"""The uplink: sealed packets from the outbox to the fleet over MQTT v5, resumably.

One thread owns the MQTT session (``mqtt_session``, driven with ``step()`` from this thread, so
handlers and hooks run here and need no locks) and its own outbox connection. The broker is
reached over TLS (``mqtts://``), its certificate checked against the fleet CA pinned at
provisioning.

- Packets go oldest first, split into chunks, each a QoS 1 message. At most ``max_inflight``
  chunks wait for the broker's PUBACK at a time.
- Progress (chunks acknowledged by the broker) is written to the outbox; after a restart the
  upload resumes at the first unacknowledged chunk. Within one process, paho re-sends in-flight
  messages itself after a reconnect (persistent session: ``clean_start=False``).
- A packet is done only when the fleet's receipt arrives. With no receipt within
  ``receipt_timeout_s`` (growing with each attempt) the packet is sent again from its first
  chunk; the fleet acknowledges a resent packet again and stores it once.
- Reconnects back off exponentially with full jitter (the session library), so a fleet of
  stations does not stampede a restarted broker.
- A retained ``status`` message says online; the broker publishes the retained ``offline`` last
  will if the station vanishes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.agent.errors import AgentError
from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.settings import UplinkSettings
from edge.agent.upload_windows import UploadWindows
from mqtt_session import (
    Backoff,
    BrokerAddress,
    Credentials,
    MqttSession,
    Refusal,
    SessionError,
    SessionHooks,
    SessionOptions,
    Subscription,
    TlsOptions,
    Will,
)
from mqtt_session import (
    Message as MqttMessage,
)
from protocol import topics
from protocol.chunks import chunk_count, split_packet
from protocol.commands import sign_response
from protocol.envelope import SealedPacket, utc_timestamp
from protocol.errors import MessageError
from protocol.messages import (
    Command,
    CommandResponse,
    Heartbeat,
    Message,
    Receipt,
    Scalar,
    StationEvent,
    StationStatus,
    parse_message,
)

log = logging.getLogger(__name__)
wire = logging.getLogger("ewp.wire.mqtt")

# A command handler returns (status, detail): status "ok", "refused" or "error".
CommandHandler = Callable[[Command], tuple[str, dict[str, Scalar]]]
# A handler for another down topic (config, app-status): gets the payload, in this thread.
MessageHandler = Callable[[bytes], None]

# Chunks between progress writes to the outbox. Every chunk: a write without fsync costs far
# less than sending a chunk again over a van's link after a restart.
PROGRESS_EVERY = 1
MAX_AWAITING_RECEIPT = 64  # packets fully sent but not yet acknowledged by the fleet
HOUSEKEEPING_INTERVAL_S = 600.0


@dataclass
class LinkStats:
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    chunks_sent: int = 0
    bytes_sent: int = 0
    receipts: int = 0
    receipt_timeouts: int = 0
    rejected: int = 0
    last_error: str | None = None

    def as_heartbeat_fields(self) -> dict[str, float | int]:
        return {
            "connects": self.connects,
            "disconnects": self.disconnects,
            "chunks_sent": self.chunks_sent,
            "bytes_sent": self.bytes_sent,
            "receipts": self.receipts,
            "receipt_timeouts": self.receipt_timeouts,
            "rejected": self.rejected,
        }


@dataclass
class PeriodicMessage:
    """A message sent every ``interval_s`` while connected, and soon after each connect."""

    spec: topics.TopicSpec
    interval_s: float
    build: Callable[[], Message]
    next_at: float = 0.0


@dataclass
class _Upload:
    """A packet being uploaded in this process."""

    packet_id: str
    packet: SealedPacket | None  # released once every chunk is with the broker
    count: int
    attempt: int
    next_index: int  # next chunk to hand to MQTT
    acked: set[int] = field(default_factory=set)
    contiguous: int = 0  # chunks 0..contiguous-1 acknowledged by the broker
    recorded: int = 0  # what the outbox knows of ``contiguous``
    all_acked_at: float | None = None


class Uplink:
    def __init__(
        self,
        settings: UplinkSettings,
        identity: StationIdentity,
        outbox: Outbox,
        *,
        heartbeat: Callable[[LinkStats], Heartbeat],
        software_version: str,
        retention_s: float = 30 * 86400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.identity = identity
        self.outbox = outbox
        self._make_heartbeat = heartbeat
        self._software_version = software_version
        self.retention_s = retention_s
        self.heartbeat_interval_s = settings.heartbeat_interval_s
        self.upload_windows: UploadWindows | None = None  # None: upload whenever connected
        self._windows_open = True
        self._clock = clock
        self.stats = LinkStats()
        self.address = broker_address(settings, identity)
        self.host, self.port = self.address.host, self.address.port
        self._station = identity.station_id
        self._uploads: dict[str, _Upload] = {}
        self._inflight: dict[int, tuple[str, int]] = {}
        self._held: set[str] = set()  # refused for good by the fleet: keep, don't resend now
        self._connected = False
        self._next_heartbeat_at = 0.0
        self._next_housekeeping_at = 0.0
        self._heartbeats_sent = 0
        self._events: list[StationEvent] = []
        self._events_lock = threading.Lock()
        self._not_authorised_logged = False
        self.command_handlers: dict[str, CommandHandler] = {"ping": _pong}
        self.message_handlers: dict[str, MessageHandler] = {}  # by topic suffix
        self.periodic: list[PeriodicMessage] = []
        self._outgoing: list[tuple[topics.TopicSpec, Message]] = []
        # Credential rotation: with a new password waiting, log in with it first, and
        # alternate with the current one on refusals; a login with it calls this.
        self.on_login_with_next_password: Callable[[], None] | None = None
        self._using_next_password = False
        self._next_password_refused = False
        self._session = self._make_session()

    # -- MQTT session --------------------------------------------------------------------------

    def _make_session(self) -> MqttSession:
        will = StationStatus(
            station_id=self._station, state="offline", reason="last will"
        ).to_payload()
        downs = [spec for spec in topics.ALL_TOPICS if spec.direction is topics.Direction.DOWN]
        return MqttSession(
            self.address,
            SessionOptions(
                client_id=self.identity.mqtt.client_id,
                session_expiry_s=self.settings.session_expiry_s,
                clean_start=False,
                keepalive_s=self.settings.keepalive_s,
                backoff=Backoff(
                    self.settings.reconnect_min_s,
                    max(self.settings.reconnect_min_s, self.settings.reconnect_max_s),
                ),
                max_inflight=self.settings.max_inflight + 8,
                will=Will(topics.STATUS.for_station(self._station), will, qos=1, retain=True),
            ),
            # Sent again on every connect, so a broker that lost our session restores it.
            [
                Subscription(spec.for_station(self._station), spec.qos, self._on_message)
                for spec in downs
            ],
            SessionHooks(
                credentials=self._credentials,
                on_connected=self._on_connect,
                on_refused=self._on_refused,
                on_disconnected=self._on_disconnect,
                on_published=self._on_publish,
            ),
            clock=self._clock,
        )

    def _credentials(self) -> Credentials:
        """Asked before every connect: with a new password waiting, log in with it first, and
        alternate with the current one on refusals."""
        mqtt_login = self.identity.mqtt
        self._using_next_password = (
            mqtt_login.next_password is not None and not self._next_password_refused
        )
        password = mqtt_login.password
        if self._using_next_password and mqtt_login.next_password is not None:
            password = mqtt_login.next_password
        return Credentials(mqtt_login.username, password)

    def _on_refused(self, refusal: Refusal) -> None:
        if self.identity.mqtt.next_password is not None:
            # Alternate between the new and the current password until one works.
            self._next_password_refused = self._using_next_password
        if refusal.not_authorised and not self._not_authorised_logged:
            log.error(
                "the broker refused this station's credentials (%s): the station may have "
                "been revoked; contact the fleet admin",
                refusal.text,
            )
            self._not_authorised_logged = True
        self.stats.last_error = f"broker refused the connection: {refusal.text}"

    def _on_connect(self, session_present: bool) -> None:
        self._connected = True
        self._not_authorised_logged = False
        self._next_password_refused = False
        if self._using_next_password and self.on_login_with_next_password is not None:
            self.on_login_with_next_password()
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.last_error = None
        status = StationStatus(
            station_id=self._station,
            state="online",
            at=utc_timestamp(),
            software_version=self._software_version,
        )
        self._session.publish(
            topics.STATUS.for_station(self._station), status.to_payload(), qos=1, retain=True
        )
        self._next_heartbeat_at = self._clock()
        for periodic in self.periodic:
            periodic.next_at = min(periodic.next_at, self._clock() + 2.0)

    def _on_disconnect(self, why: str) -> None:
        if self._connected:
            self.stats.disconnects += 1
        self._connected = False
        self.stats.connected = False
        self.stats.last_error = why

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Upload until ``stop`` is set; then say goodbye cleanly."""
        log.info("uplink for station %s to %s:%d", self._station, self.host, self.port)
        while not stop.is_set():
            self.step()
        self.shutdown()

    def step(self, timeout: float = 0.05) -> None:
        self._session.step(timeout)
        now = self._clock()
        if self._connected:
            self._pump()
            self._send_events()
            self._send_outgoing(now)
            if now >= self._next_heartbeat_at:
                self._send_heartbeat()
                self._next_heartbeat_at = now + self.heartbeat_interval_s
        self._check_receipt_timeouts(now)
        if now >= self._next_housekeeping_at:
            self._next_housekeeping_at = now + HOUSEKEEPING_INTERVAL_S
            self.outbox.purge_acked(self.retention_s)

    def shutdown(self) -> None:
        """Publish ``offline`` (so the fleet knows this was on purpose) and disconnect."""
        self._flush_progress()
        if self._connected:
            status = StationStatus(
                station_id=self._station,
                state="offline",
                at=utc_timestamp(),
                software_version=self._software_version,
                reason="clean shutdown",
            )
            goodbye = self._session.publish(
                topics.STATUS.for_station(self._station), status.to_payload(), qos=1, retain=True
            )
            self._session.flush(goodbye, 2.0)
        self._session.close()
        self._connected = False
        self.stats.connected = False

    # -- sending packets -----------------------------------------------------------------------

    def set_heartbeat_interval(self, interval_s: float) -> None:
        """A new interval (from the fleet's configuration), effective from the next one."""
        self.heartbeat_interval_s = interval_s
        self._next_heartbeat_at = min(self._next_heartbeat_at, self._clock() + interval_s)

    def _upload_allowed(self) -> bool:
        """Inside an upload window (or no windows). Logged when it opens or closes."""
        is_open = self.upload_windows is None or self.upload_windows.is_open()
        if is_open != self._windows_open:
            self._windows_open = is_open
            if is_open:
                log.info("upload window open: uploading what waits")
            else:
                assert self.upload_windows is not None
                opening = self.upload_windows.next_opening()
                log.info(
                    "upload window closed: packets wait until %s (heartbeats still flow)",
                    opening.isoformat(timespec="minutes") if opening else "the next window",
                )
        return is_open

    def _pump(self) -> None:
        if not self._upload_allowed():
            return  # chunks in flight finish; the rest resumes when a window opens
        while len(self._inflight) < self.settings.max_inflight:
            upload = self._next_upload()
            if upload is None or upload.packet is None:
                return
            chunk = next(
                split_packet(upload.packet, self.settings.chunk_size, start=upload.next_index)
            )
            payload = chunk.to_bytes()
            publication = self._session.publish(
                topics.packet_topic(self._station, upload.packet_id), payload, qos=1
            )
            if not publication.queued:
                log.debug("publish deferred (not connected or in-flight window full)")
                return
            self._inflight[publication.mid] = (upload.packet_id, chunk.index)
            upload.next_index += 1
            self.stats.chunks_sent += 1
            self.stats.bytes_sent += len(payload)
            wire.debug(
                "-> chunk %s %d/%d (%d bytes)",
                upload.packet_id,
                chunk.index + 1,
                chunk.count,
                len(payload),
            )

    def _next_upload(self) -> _Upload | None:
        for upload in self._uploads.values():
            if upload.next_index < upload.count:
                return upload
        awaiting = sum(1 for u in self._uploads.values() if u.next_index >= u.count)
        if awaiting >= MAX_AWAITING_RECEIPT:
            return None  # let the fleet's receipts catch up first
        busy = set(self._uploads) | self._held
        for entry in self.outbox.waiting(limit=len(busy) + 1):
            if entry.packet_id in busy:
                continue
            packet = self.outbox.load(entry.packet_id)
            count = chunk_count(len(packet.sealed), self.settings.chunk_size)
            start = min(entry.chunks_sent, count)
            self.outbox.mark_sending(entry.packet_id)
            upload = _Upload(
                packet_id=entry.packet_id,
                packet=packet,
                count=count,
                attempt=entry.attempts + 1,
                next_index=start,
                acked=set(range(start)),
                contiguous=start,
                recorded=start,
            )
            if start:
                log.info("resuming packet %s at chunk %d of %d", entry.packet_id, start, count)
            if start >= count:
                upload.all_acked_at = self._clock()
                upload.packet = None
            self._uploads[entry.packet_id] = upload
            if upload.next_index < upload.count:
                return upload
        return None

    def _on_publish(self, mid: int, refused: str | None) -> None:
        where = self._inflight.pop(mid, None)
        if where is None:
            return  # status, heartbeat or event
        packet_id, index = where
        upload = self._uploads.get(packet_id)
        if upload is None:
            return
        if refused is not None:
            # The broker refused the chunk (e.g. not authorised): start this packet over later.
            log.error("broker refused chunk %d of packet %s: %s", index, packet_id, refused)
            self.stats.last_error = f"broker refused a chunk: {refused}"
            self._restart_upload(upload, reset_outbox=True)
            return
        upload.acked.add(index)
        while upload.contiguous in upload.acked:
            upload.contiguous += 1
        if upload.contiguous >= upload.count and upload.all_acked_at is None:
            upload.all_acked_at = self._clock()
            upload.packet = None
        if upload.contiguous - upload.recorded >= PROGRESS_EVERY or (
            upload.contiguous >= upload.count > upload.recorded
        ):
            self.outbox.record_progress(packet_id, upload.contiguous)
            upload.recorded = upload.contiguous

    def _flush_progress(self) -> None:
        for upload in self._uploads.values():
            if upload.contiguous > upload.recorded:
                self.outbox.record_progress(upload.packet_id, upload.contiguous)
                upload.recorded = upload.contiguous

    def _restart_upload(self, upload: _Upload, *, reset_outbox: bool) -> None:
        del self._uploads[upload.packet_id]
        for mid, (packet_id, _) in list(self._inflight.items()):
            if packet_id == upload.packet_id:
                del self._inflight[mid]
        if reset_outbox:
            self.outbox.reset_to_pending(upload.packet_id)

    def _receipt_timeout(self, attempt: int) -> float:
        return float(min(self.settings.receipt_timeout_s * 2 ** max(0, attempt - 1), 1800.0))

    def _check_receipt_timeouts(self, now: float) -> None:
        for upload in list(self._uploads.values()):
            if upload.all_acked_at is None:
                continue
            if now - upload.all_acked_at >= self._receipt_timeout(upload.attempt):
                self.stats.receipt_timeouts += 1
                log.warning(
                    "no receipt for packet %s after %.0f s (attempt %d): sending it again",
                    upload.packet_id,
                    now - upload.all_acked_at,
                    upload.attempt,
                )
                self._restart_upload(upload, reset_outbox=True)

    # -- messages from the fleet ---------------------------------------------------------------

    def _on_message(self, message: MqttMessage) -> None:
        try:
            _, suffix = topics.parse_station_topic(message.topic)
        except ValueError:
            log.warning("message on unexpected topic %s ignored", message.topic)
            return
        if suffix == topics.RECEIPTS.suffix:
            self._handle_receipt(bytes(message.payload))
        elif suffix == topics.COMMANDS.suffix:
            self._handle_command(bytes(message.payload))
        elif suffix in self.message_handlers:
            try:
                self.message_handlers[suffix](bytes(message.payload))
            except Exception:
                log.exception("handling a message on %s failed", suffix)
        else:
            log.info("message on %s (%d bytes) not handled", suffix, len(message.payload))

    def _handle_receipt(self, payload: bytes) -> None:
        try:
            receipt = parse_message(Receipt, payload)
        except MessageError as exc:
            log.warning("malformed receipt ignored: %s", exc)
            return
        wire.debug("<- receipt %s %s", receipt.packet_id, receipt.status)
        self.stats.receipts += 1
        try:
            entry = self.outbox.entry(receipt.packet_id)
        except Exception:
            log.warning("receipt for unknown packet %s ignored", receipt.packet_id)
            return
        if receipt.sha256 != entry.sha256:
            log.error(
                "receipt for packet %s names hash %s, ours is %s: ignored",
                receipt.packet_id,
                receipt.sha256[:12],
                entry.sha256[:12],
            )
            return
        upload = self._uploads.get(receipt.packet_id)
        if receipt.status in ("stored", "duplicate"):
            if self.outbox.mark_acked(receipt.packet_id, payload.decode("utf-8", "replace")):
                log.info(
                    "packet %s acknowledged by the fleet (%s)", receipt.packet_id, receipt.status
                )
            if upload is not None:
                self._restart_upload(upload, reset_outbox=False)
            return
        self.stats.rejected += 1
        if receipt.retry:
            log.warning("fleet asks to resend packet %s: %s", receipt.packet_id, receipt.reason)
            if upload is not None:
                self._restart_upload(upload, reset_outbox=True)
            else:
                self.outbox.reset_to_pending(receipt.packet_id)
            return
        log.error(
            "fleet refused packet %s: %s; it stays in the outbox, contact fleet support",
            receipt.packet_id,
            receipt.reason,
        )
        self._held.add(receipt.packet_id)
        if upload is not None:
            self._restart_upload(upload, reset_outbox=False)
        self.report_event(
            "packet-refused", "error", packet_id=receipt.packet_id, reason=receipt.reason
        )

    def _handle_command(self, payload: bytes) -> None:
        try:
            command = parse_message(Command, payload)
        except MessageError as exc:
            log.warning("malformed command ignored: %s", exc)
            return
        handler = self.command_handlers.get(command.kind)
        detail: dict[str, Scalar]
        if handler is None:
            status, detail = "unknown-command", {"kind": command.kind}
        else:
            try:
                status, detail = handler(command)
            except Exception as exc:
                log.exception("command %s (%s) failed", command.command_id, command.kind)
                status, detail = "error", {"error": str(exc)}
        log.info("command %s (%s): %s", command.command_id, command.kind, status)
        response = sign_response(
            CommandResponse.model_validate(
                {
                    "command_id": command.command_id,
                    "station_id": self._station,
                    "status": status,
                    "detail": detail,
                    "answered_at": utc_timestamp(),
                }
            ),
            self.identity.signing_key,
        )
        self._session.publish(
            topics.RESPONSES.for_station(self._station), response.to_payload(), qos=1
        )

    # -- heartbeat and events ------------------------------------------------------------------

    def _send_heartbeat(self) -> None:
        heartbeat = self._make_heartbeat(self.stats)
        self._session.publish(
            topics.HEARTBEAT.for_station(self._station),
            heartbeat.to_payload(),
            qos=topics.HEARTBEAT.qos,
        )
        self._heartbeats_sent += 1

    def report_event(self, kind: str, severity: str = "info", **detail: Scalar) -> None:
        """Queue an event for the fleet (thread-safe; sent when connected)."""
        event = StationEvent.model_validate(
            {
                "station_id": self._station,
                "at": utc_timestamp(),
                "kind": kind,
                "severity": severity,
                "detail": detail,
            }
        )
        with self._events_lock:
            self._events.append(event)
            del self._events[:-100]  # keep the newest 100 while offline

    def _send_events(self) -> None:
        with self._events_lock:
            events, self._events = self._events, []
        for event in events:
            self._session.publish(
                topics.EVENTS.for_station(self._station), event.to_payload(), qos=1
            )

    def send(self, spec: topics.TopicSpec, message: Message) -> None:
        """Queue a message for one of this station's up topics (thread-safe; sent when
        connected; the newest 100 are kept while offline)."""
        with self._events_lock:
            self._outgoing.append((spec, message))
            del self._outgoing[:-100]

    def _send_outgoing(self, now: float) -> None:
        for periodic in self.periodic:
            if now >= periodic.next_at:
                periodic.next_at = now + periodic.interval_s
                try:
                    self.send(periodic.spec, periodic.build())
                except Exception:
                    log.exception("building the periodic %s message failed", periodic.spec.suffix)
        with self._events_lock:
            outgoing, self._outgoing = self._outgoing, []
        for spec, message in outgoing:
            self._session.publish(
                spec.for_station(self._station), message.to_payload(), qos=spec.qos
            )

    def describe(self) -> dict[str, object]:
        return {
            "connected": self._connected,
            "uploads": len(self._uploads),
            "inflight": len(self._inflight),
            "held": sorted(self._held),
            **json.loads(json.dumps(self.stats.__dict__)),
        }


def _pong(command: Command) -> tuple[str, dict[str, Scalar]]:
    return "ok", {"pong": utc_timestamp()}


def broker_address(settings: UplinkSettings, identity: StationIdentity) -> BrokerAddress:
    """Where the uplink connects: the settings' override or what provisioning gave, over TLS
    checked against the settings' CA file or the fleet CA pinned at provisioning."""
    ca_file = settings.ca_file or identity.fleet_ca_file
    try:
        if settings.broker_url is not None:
            url = settings.broker_url
        else:
            scheme = "mqtts" if identity.mqtt.tls else "mqtt"
            url = f"{scheme}://{identity.mqtt.host}:{identity.mqtt.port}"
        tls = TlsOptions(ca_file=ca_file) if url.startswith("mqtts://") else None
        return BrokerAddress.from_url(url, tls)
    except SessionError as exc:
        raise AgentError(f"uplink: {exc}") from exc

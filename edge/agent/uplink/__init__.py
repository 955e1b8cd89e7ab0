"""The uplink: the station's one link to the fleet over MQTT v5, by job.

One thread owns the link: it drives the MQTT session with ``step()``, so every handler and hook
runs in it and needs no lock, and it has its own outbox connection. The jobs, one module each:

- ``session``: the MQTT session (login, credential rotation, TLS, status, last will);
- ``packets``: sealed packets in chunks, the in-flight window, progress, receipt timeouts;
- ``receipts``: the fleet's receipts, and after each reconnect the resume query (which chunks
  the fleet holds) and its answer;
- ``telemetry``: heartbeats, events, periodic reports (reconciliation) and messages queued by
  other threads (``Outbound``);
- ``commands``: the fleet's commands and other down messages, to handlers given at
  construction (``FleetHandlers``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.settings import UplinkSettings
from edge.agent.uplink.commands import CommandHandler, FleetCommands, FleetHandlers, MessageHandler
from edge.agent.uplink.packets import PacketSender
from edge.agent.uplink.receipts import FleetAnswers
from edge.agent.uplink.session import LinkStats, StationSession
from edge.agent.uplink.telemetry import Outbound, PeriodicMessage, Telemetry
from mqtt_session import Message as MqttMessage
from protocol import topics
from protocol.messages import Heartbeat

__all__ = [
    "CommandHandler",
    "FleetHandlers",
    "LinkStats",
    "MessageHandler",
    "Outbound",
    "PeriodicMessage",
    "Uplink",
]

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_S = 600.0


class Uplink:
    def __init__(
        self,
        settings: UplinkSettings,
        identity: StationIdentity,
        outbox: Outbox,
        *,
        heartbeat: Callable[[LinkStats], Heartbeat],
        software_version: str,
        handlers: FleetHandlers | None = None,
        periodic: Sequence[PeriodicMessage] = (),
        outbound: Outbound | None = None,
        retention_s: float = 30 * 86400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        handlers = handlers or FleetHandlers()
        self.outbox = outbox
        self.retention_s = retention_s
        self.outbound = outbound or Outbound(identity.station_id)
        self._clock = clock
        self._next_housekeeping_at = 0.0
        self.session = StationSession(
            settings,
            identity,
            software_version=software_version,
            on_message=self._on_message,
            on_connected=self._on_connected,
            on_ready=self._on_ready,
            on_published=self._on_published,
            on_login_with_next_password=handlers.on_login_with_next_password,
            clock=clock,
        )
        self.stats = self.session.stats
        self.packets = PacketSender(settings, self.session, outbox, clock=clock)
        self.answers = FleetAnswers(self.packets, self.session, outbox, self.outbound)
        self.telemetry = Telemetry(
            self.session,
            self.outbound,
            heartbeat=heartbeat,
            interval_s=settings.heartbeat_interval_s,
            periodic=list(periodic),
            clock=clock,
        )
        self.commands = FleetCommands(self.session, handlers)

    def adopt(self, identity: StationIdentity) -> None:
        """A rotated key or password: sign and log in with it from now on."""
        self.session.identity = identity

    @property
    def heartbeat_interval_s(self) -> float:
        return self.telemetry.interval_s

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Upload until ``stop`` is set; then say goodbye cleanly."""
        address = self.session.address
        log.info(
            "uplink for station %s to %s:%d", self.session.station_id, address.host, address.port
        )
        while not stop.is_set():
            self.step()
        self.shutdown()

    def step(self, timeout: float = 0.05) -> None:
        self.session.step(timeout)
        now = self._clock()
        if self.session.connected:
            self.packets.pump()
            self.telemetry.tick(now)
        self.packets.check_receipt_timeouts(now)
        if now >= self._next_housekeeping_at:
            self._next_housekeeping_at = now + HOUSEKEEPING_INTERVAL_S
            self.outbox.purge_acked(self.retention_s)

    def shutdown(self) -> None:
        """Publish ``offline`` (so the fleet knows this was on purpose) and disconnect."""
        self.packets.flush_progress()
        self.session.close()

    # -- the session's hooks -------------------------------------------------------------------

    def _on_connected(self) -> None:
        self.telemetry.on_connected()

    def _on_ready(self) -> None:
        self.answers.ask_what_the_fleet_holds()

    def _on_published(self, mid: int, refused: str | None) -> None:
        self.packets.on_published(mid, refused)

    def _on_message(self, message: MqttMessage) -> None:
        try:
            _, suffix = topics.parse_station_topic(message.topic)
        except ValueError:
            log.warning("message on unexpected topic %s ignored", message.topic)
            return
        if suffix == topics.RECEIPTS.suffix:
            self.answers.on_receipt(bytes(message.payload))
        elif suffix == topics.RESUME_ANSWER.suffix:
            self.answers.on_resume_answer(bytes(message.payload))
        else:
            self.commands.on_message(suffix, bytes(message.payload))

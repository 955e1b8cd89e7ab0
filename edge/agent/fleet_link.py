"""The station's side of fleet operations, as handlers given to the uplink: the desired
configuration (applied live and answered), the reconciliation report (what this station
created), and the application statuses the central system sends back.

Everything here runs in the uplink thread (message handlers, periodic messages); the capture
side only reads `AppliedConfig.current`.
"""

from __future__ import annotations

import logging

from edge.agent.application_status import ApplicationStatusStore
from edge.agent.applied_config import AppliedConfig
from edge.agent.outbox import Outbox
from edge.agent.reconciliation import build_report
from edge.agent.uplink import FleetHandlers, MessageHandler, Outbound, PeriodicMessage, Uplink
from edge.agent.uplink.commands import parsed
from edge.agent.upload_windows import UploadWindows
from protocol import topics
from protocol.ops_messages import ApplicationStatus
from protocol.station_config import StationConfig

log = logging.getLogger(__name__)


def apply_to_uplink(uplink: Uplink, config: StationConfig) -> None:
    """What of the configuration the uplink uses: heartbeat interval, retention, windows."""
    uplink.telemetry.set_interval(config.heartbeat_interval_s)
    uplink.retention_s = config.retention_days * 86400
    uplink.packets.upload_windows = (
        None if not config.upload.windows else UploadWindows(config.upload)
    )


def follow_config(uplink: Uplink, applied: AppliedConfig) -> None:
    """Apply the running configuration to the uplink now and on every change."""
    applied.subscribe(lambda config: apply_to_uplink(uplink, config))


def handlers(
    applied: AppliedConfig, outbound: Outbound, statuses: ApplicationStatusStore | None = None
) -> FleetHandlers:
    """Handle ``config`` (answered on ``config-applied`` through ``outbound``) and keep the
    application statuses that arrive on ``app-status`` (``statuses`` opened in the uplink
    thread)."""

    def on_config(payload: bytes) -> None:
        answer = applied.handle(payload)
        if answer is not None:
            outbound.send(topics.CONFIG_APPLIED, answer)

    messages: dict[str, MessageHandler] = {topics.CONFIG.suffix: on_config}
    if statuses is not None:
        messages[topics.APPLICATION_STATUS.suffix] = _status_handler(statuses, outbound.station_id)
    return FleetHandlers(messages=messages)


def _status_handler(statuses: ApplicationStatusStore, station_id: str) -> MessageHandler:
    def on_status(payload: bytes) -> None:
        message = parsed(ApplicationStatus, payload, "application status")
        if message is None:
            return
        if message.station_id != station_id:
            log.warning("application status for %s ignored", message.station_id)
            return
        if statuses.record(message):
            log.info(
                "application %s: %s%s",
                message.application_number,
                message.status,
                f" ({message.reason})" if message.reason else "",
            )

    return on_status


def reconciliation(station_id: str, outbox: Outbox, interval_s: float) -> PeriodicMessage:
    """Report what the outbox holds every ``interval_s`` (and soon after connecting); ``outbox``
    is the uplink's own connection: this runs in the uplink thread."""
    return PeriodicMessage(
        topics.RECONCILIATION, interval_s, lambda: build_report(station_id, outbox.entries())
    )

"""The station's side of fleet operations, wired onto the uplink: the desired configuration
(applied live and answered), the reconciliation report (what this station created), and the
application statuses the central system sends back.

Everything here runs in the uplink thread (message handlers, periodic messages); the capture
side only reads `AppliedConfig.current`.
"""

from __future__ import annotations

import logging

from edge.agent.application_status import ApplicationStatusStore
from edge.agent.applied_config import AppliedConfig
from edge.agent.reconciliation import build_report
from edge.agent.uplink import PeriodicMessage, Uplink
from edge.agent.upload_windows import UploadWindows
from protocol import topics
from protocol.errors import MessageError
from protocol.messages import parse_message
from protocol.ops_messages import ApplicationStatus
from protocol.station_config import StationConfig

log = logging.getLogger(__name__)


def apply_to_uplink(uplink: Uplink, config: StationConfig) -> None:
    """What of the configuration the uplink uses: heartbeat interval, retention, windows."""
    uplink.set_heartbeat_interval(config.heartbeat_interval_s)
    uplink.retention_s = config.retention_days * 86400
    uplink.upload_windows = None if not config.upload.windows else UploadWindows(config.upload)


def attach(
    uplink: Uplink,
    applied: AppliedConfig,
    *,
    reconciliation_interval_s: float,
    statuses: ApplicationStatusStore | None = None,
) -> None:
    """Handle ``config`` on this uplink, apply the running configuration to it now, report
    what the outbox holds every ``reconciliation_interval_s`` (and soon after connecting), and
    keep the application statuses that arrive on ``app-status`` (opened in the uplink thread).
    """

    def on_config(payload: bytes) -> None:
        answer = applied.handle(payload)
        if answer is not None:
            uplink.send(topics.CONFIG_APPLIED, answer)

    uplink.message_handlers[topics.CONFIG.suffix] = on_config
    applied.subscribe(lambda config: apply_to_uplink(uplink, config))
    if statuses is not None:
        station_id = uplink.identity.station_id

        def on_status(payload: bytes) -> None:
            try:
                message = parse_message(ApplicationStatus, payload)
            except MessageError as exc:
                log.warning("malformed application status ignored: %s", exc)
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

        uplink.message_handlers[topics.APPLICATION_STATUS.suffix] = on_status
    uplink.periodic.append(
        PeriodicMessage(
            topics.RECONCILIATION,
            reconciliation_interval_s,
            # The uplink's own outbox connection: this runs in the uplink thread.
            lambda: build_report(uplink.identity.station_id, uplink.outbox.entries()),
        )
    )

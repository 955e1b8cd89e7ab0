"""The updater inside the running agent: offers from the ``update`` topic, reports to
``update-status``, the health check after a restart, and the restart itself.

Offers are handled one at a time in a thread of their own, so the uplink never waits for a
download. A download runs only while the uplink has nothing to send (no sealed packet waiting,
upload window open): packets always come first. Reports queued by the boot counter, the
rollback unit or the health check (layout.py) are sent once the uplink is connected.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.agent.outbox import Outbox
from edge.agent.updater.download import Downloader
from edge.agent.updater.firmware import Deploy, FirmwareUpdater
from edge.agent.updater.health import outbox_fingerprint
from edge.agent.updater.layout import Layout
from edge.agent.updater.station import StationUpdater
from edge.agent.updater.tuf_client import TrustedRepository, tls_verify
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.messages import Message
from protocol.updates import UpdateOffer, UpdateStatus

log = logging.getLogger(__name__)

MAX_OFFER_BYTES = 8192
REPORT_POLL_S = 5.0


class AgentUpdates:
    def __init__(
        self,
        *,
        station_id: str,
        layout: Layout,
        repository_url: str,
        outbox_path: Path,
        send: Callable[[topics.TopicSpec, Message], None],
        link_idle: Callable[[], bool],
        connected: Callable[[], bool],
        request_restart: Callable[[], None],
        max_download_kbps: float = 0.0,
        deploy_firmware: Deploy | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.station_id = station_id
        self.layout = layout
        base = repository_url.rstrip("/")
        self.metadata_url = f"{base}/metadata/"
        self.targets_url = f"{base}/targets/"
        self.outbox_path = outbox_path
        self._send = send
        self._link_idle = link_idle
        self._connected = connected
        self._request_restart = request_restart
        self._offers: queue.Queue[UpdateOffer | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.verify = tls_verify(ca_file)  # the fleet's HTTPS certificate: the pinned CA
        self.downloader = Downloader(
            rate_limit_bps=max_download_kbps * 1000 / 8,
            may_download=self.may_download,
            verify=self.verify,
        )
        self.updater = StationUpdater(
            station_id=station_id,
            layout=layout,
            repository=self._repository,
            downloader=self.downloader,
            report=self._report,
            trial_state=lambda: {"outbox": outbox_fingerprint(outbox_path)},
        )
        self.firmware = (
            FirmwareUpdater(
                station_id=station_id,
                root=layout.root,
                repository=self._repository,
                downloader=self.downloader,
                deploy=deploy_firmware,
                report=self._report,
            )
            if deploy_firmware is not None
            else None
        )

    def _repository(self) -> TrustedRepository:
        return TrustedRepository(
            self.layout.tuf_dir, self.metadata_url, self.targets_url, verify=self.verify
        )

    def may_download(self) -> bool:
        """Packets first: no sealed packet waiting, and the uplink free to send."""
        with Outbox(self.outbox_path) as outbox:
            waiting = outbox.stats().waiting
        return waiting == 0 and self._link_idle()

    def _report(self, status: UpdateStatus) -> None:
        self._send(topics.UPDATE_STATUS, status)

    # --- the uplink's side ---

    def on_offer(self, payload: bytes) -> None:
        """A message on the ``update`` topic (hostile until validated)."""
        if not payload:
            return  # the fleet cleared the retained offer
        if len(payload) > MAX_OFFER_BYTES:
            log.warning("update offer of %d bytes ignored", len(payload))
            return
        try:
            offer = UpdateOffer.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("invalid update offer ignored: %s", exc.errors()[:3])
            return
        self._offers.put(offer)

    @property
    def pending(self) -> bool:
        """An offer received and not acted on yet (the kiosk's "update pending" banner)."""
        return not self._offers.empty()

    def flush_reports(self) -> int:
        """Send what the boot counter, rollback or health check left for the fleet."""
        sent = 0
        for path, report in self.layout.pending_reports():
            try:
                status = UpdateStatus(
                    station_id=self.station_id,
                    rollout_id=report["rollout_id"] or "local",
                    component=report.get("component") or "agent",
                    version=report["version"],
                    from_version=report.get("from_version"),
                    state=report["state"],
                    at=utc_timestamp(),
                    bytes_done=report.get("bytes_done", 0),
                    bytes_total=report.get("bytes_total", 0),
                    delta=report.get("delta", False),
                    reason=report.get("reason"),
                    log_tail=(report.get("log_tail") or None) and report["log_tail"][-4096:],
                )
            except (ValidationError, KeyError, TypeError) as exc:
                log.warning("update report %s dropped: %s", path.name, exc)
            else:
                self._send(topics.UPDATE_STATUS, status)
                sent += 1
            path.unlink(missing_ok=True)
        return sent

    # --- the worker ---

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="updater", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._offers.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            if self._connected():
                self.flush_reports()
            try:
                offer = self._offers.get(timeout=REPORT_POLL_S)
            except queue.Empty:
                continue
            if offer is None:
                return
            if offer.component == "firmware":
                self._firmware(offer)
                continue
            try:
                outcome = self.updater.handle(offer)
            except Exception:
                log.exception("the update to %s failed unexpectedly", offer.version)
                continue
            if outcome.restart:
                log.warning("version %s installed: restarting into it", offer.version)
                self._request_restart()
                return

    def _firmware(self, offer: UpdateOffer) -> None:
        if self.firmware is None:
            self._report(
                UpdateStatus(
                    station_id=self.station_id,
                    rollout_id=offer.rollout_id,
                    component="firmware",
                    version=offer.version,
                    state="refused",
                    at=utc_timestamp(),
                    reason="refused: this station has no station controller configured",
                )
            )
            return
        try:
            self.firmware.handle(offer)
        except Exception:
            log.exception("the firmware update to %s failed unexpectedly", offer.version)


def trial_outbox(layout: Layout) -> dict[str, Any] | None:
    trial = layout.trial()
    value = trial.get("outbox") if trial else None
    return value if isinstance(value, dict) else None

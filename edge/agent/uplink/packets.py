"""Sealed packets from the outbox to the fleet, in chunks, resumably, until the fleet's receipt.

- Packets go oldest first, split into chunks of ``chunk_size`` bytes, each a QoS 1 message.
  At most ``max_inflight`` chunks wait for the broker's PUBACK at a time.
- Progress (chunks acknowledged by the broker) is written to the outbox; after a restart the
  upload resumes at the first unacknowledged chunk. Within one process, paho re-sends in-flight
  messages itself after a reconnect (persistent session: ``clean_start=False``).
- A packet is done only when the fleet's receipt arrives (``receipts.py``). With no receipt
  within ``receipt_timeout_s`` (doubling with each attempt) the packet is sent again from its
  first chunk; the fleet acknowledges a resent packet again and stores it once.
- After a reconnect the fleet says which chunks it holds (``receipts.py``); ``resume_from``
  sends the others again at once, ahead of new chunks.
- Upload windows (from the fleet's configuration) hold new chunks back outside the windows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.agent.outbox import Outbox, OutboxEntry
from edge.agent.settings import UplinkSettings
from edge.agent.uplink.session import StationSession
from edge.agent.upload_windows import UploadWindows
from protocol import topics
from protocol.chunks import chunk_count, split_packet
from protocol.envelope import SealedPacket

log = logging.getLogger(__name__)
wire = logging.getLogger("ewp.wire.mqtt")

# Chunks between progress writes to the outbox. Every chunk: a write without fsync costs far
# less than sending a chunk again over a van's link after a restart.
PROGRESS_EVERY = 1
MAX_AWAITING_RECEIPT = 64  # packets fully sent but not yet acknowledged by the fleet
MAX_RECEIPT_TIMEOUT_S = 1800.0


@dataclass
class Upload:
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
    resend: list[int] = field(default_factory=list)  # chunks the fleet lacks, sent first


class PacketSender:
    def __init__(
        self,
        settings: UplinkSettings,
        session: StationSession,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chunk_size = settings.chunk_size
        self.max_inflight = settings.max_inflight
        self.receipt_timeout_s = settings.receipt_timeout_s
        self.upload_windows: UploadWindows | None = None  # None: upload whenever connected
        self._session = session
        self._stats = session.stats
        self._outbox = outbox
        self._clock = clock
        self._windows_open = True
        self.uploads: dict[str, Upload] = {}
        self.inflight: dict[int, tuple[str, int]] = {}
        self.held: set[str] = set()  # refused for good by the fleet: keep, don't resend now
        # Chunks the fleet holds of packets not started in this process (a resume answer).
        self.fleet_holds: dict[str, set[int]] = {}

    # -- sending -------------------------------------------------------------------------------

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

    def pump(self) -> None:
        """Connected: hand chunks to MQTT until the in-flight window is full."""
        if not self._upload_allowed():
            return  # chunks in flight finish; the rest resumes when a window opens
        while len(self.inflight) < self.max_inflight:
            upload = self._next_upload()
            if upload is None or upload.packet is None:
                return
            if upload.resend:
                if not self._send_chunk(upload, upload.resend[0]):
                    return
                del upload.resend[0]
                continue
            if not self._send_chunk(upload, upload.next_index):
                return
            upload.next_index += 1

    def _send_chunk(self, upload: Upload, index: int) -> bool:
        """Chunk ``index`` of ``upload`` handed to MQTT; False: not taken, try later."""
        assert upload.packet is not None
        chunk = next(split_packet(upload.packet, self.chunk_size, start=index))
        payload = chunk.to_bytes()
        publication = self._session.publish(
            topics.PACKET_CHUNKS, payload, qos=1, key=upload.packet_id
        )
        if not publication.queued:
            log.debug("publish deferred (not connected or in-flight window full)")
            return False
        self.inflight[publication.mid] = (upload.packet_id, chunk.index)
        self._stats.chunks_sent += 1
        self._stats.bytes_sent += len(payload)
        wire.debug(
            "-> chunk %s %d/%d (%d bytes)",
            upload.packet_id,
            chunk.index + 1,
            chunk.count,
            len(payload),
        )
        return True

    def _next_upload(self) -> Upload | None:
        for upload in self.uploads.values():
            if upload.resend or upload.next_index < upload.count:
                return upload
        awaiting = sum(1 for u in self.uploads.values() if u.next_index >= u.count)
        if awaiting >= MAX_AWAITING_RECEIPT:
            return None  # let the fleet's receipts catch up first
        busy = set(self.uploads) | self.held
        for entry in self._outbox.waiting(limit=len(busy) + 1):
            if entry.packet_id in busy:
                continue
            upload = self._start(entry)
            if upload.resend or upload.next_index < upload.count:
                return upload
        return None

    def _start(self, entry: OutboxEntry) -> Upload:
        packet = self._outbox.load(entry.packet_id)
        count = chunk_count(len(packet.sealed), self.chunk_size)
        start = min(entry.chunks_sent, count)
        self._outbox.mark_sending(entry.packet_id)
        upload = Upload(
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
        self.uploads[entry.packet_id] = upload
        held = self.fleet_holds.pop(entry.packet_id, None)
        if held is not None:
            self.resume_from(upload, held)
        return upload

    def chunk_count(self, packet_id: str) -> int:
        """How many chunks this packet is sent in (its sealed size from the outbox)."""
        upload = self.uploads.get(packet_id)
        if upload is not None:
            return upload.count
        return chunk_count(self._outbox.sealed_size(packet_id), self.chunk_size)

    def resume_from(self, upload: Upload, held: set[int]) -> None:
        """The fleet holds chunks ``held`` of this packet: the others handed to MQTT already
        (and not in flight, which the session sends again itself) go again now, ahead of new
        chunks, and the receipt timer starts again once they are with the broker."""
        flying = {
            index for packet_id, index in self.inflight.values() if packet_id == upload.packet_id
        }
        missing = sorted(set(range(upload.next_index)) - held - flying - set(upload.resend))
        if missing:
            log.info(
                "the fleet lacks %d chunk(s) of packet %s: sending them again now",
                len(missing),
                upload.packet_id,
            )
            upload.acked -= set(missing)
            upload.contiguous = min(upload.contiguous, missing[0])
            upload.resend = sorted({*upload.resend, *missing})
            upload.all_acked_at = None
            if upload.packet is None:
                upload.packet = self._outbox.load(upload.packet_id)
        elif upload.all_acked_at is not None:
            upload.all_acked_at = self._clock()

    # -- the broker's acknowledgements ---------------------------------------------------------

    def on_published(self, mid: int, refused: str | None) -> None:
        where = self.inflight.pop(mid, None)
        if where is None:
            return  # status, heartbeat or event
        packet_id, index = where
        upload = self.uploads.get(packet_id)
        if upload is None:
            return
        if refused is not None:
            # The broker refused the chunk (e.g. not authorised): start this packet over later.
            log.error("broker refused chunk %d of packet %s: %s", index, packet_id, refused)
            self._stats.last_error = f"broker refused a chunk: {refused}"
            self.restart(upload, reset_outbox=True)
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
            self._outbox.record_progress(packet_id, upload.contiguous)
            upload.recorded = upload.contiguous

    def flush_progress(self) -> None:
        for upload in self.uploads.values():
            if upload.contiguous > upload.recorded:
                self._outbox.record_progress(upload.packet_id, upload.contiguous)
                upload.recorded = upload.contiguous

    def restart(self, upload: Upload, *, reset_outbox: bool) -> None:
        del self.uploads[upload.packet_id]
        for mid, (packet_id, _) in list(self.inflight.items()):
            if packet_id == upload.packet_id:
                del self.inflight[mid]
        if reset_outbox:
            self._outbox.reset_to_pending(upload.packet_id)

    # -- the fleet's receipts ------------------------------------------------------------------

    def receipt_timeout(self, attempt: int) -> float:
        return float(min(self.receipt_timeout_s * 2 ** max(0, attempt - 1), MAX_RECEIPT_TIMEOUT_S))

    def check_receipt_timeouts(self, now: float) -> None:
        for upload in list(self.uploads.values()):
            if upload.all_acked_at is None:
                continue
            if now - upload.all_acked_at >= self.receipt_timeout(upload.attempt):
                self._stats.receipt_timeouts += 1
                log.warning(
                    "no receipt for packet %s after %.0f s (attempt %d): sending it again",
                    upload.packet_id,
                    now - upload.all_acked_at,
                    upload.attempt,
                )
                self.restart(upload, reset_outbox=True)

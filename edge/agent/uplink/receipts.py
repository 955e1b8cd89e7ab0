"""What the fleet says about the station's packets: receipts, and answers to resume queries.

- A receipt is acted on only if its hash is the outbox's own record of the packet: ``stored``
  or ``duplicate`` marks it acknowledged (done); ``rejected`` with ``retry`` sends it again
  from its first chunk; ``rejected`` for good keeps it in the outbox, held, and reports a
  ``packet-refused`` event.
- After every (re)connect, once the subscriptions are in place, the station asks on ``resume``
  which chunks the fleet holds of each packet it has sent chunks of and no receipt for
  (protocol/resume.py, decision 0067): the fleet may have lost chunks the broker had
  acknowledged. Stored packets come back as receipts; for the others the answer lists the
  chunks held, and the rest are sent again at once (``PacketSender.resume_from``) instead of
  after the receipt timeout.
"""

from __future__ import annotations

import logging

from edge.agent.outbox import Outbox
from edge.agent.uplink.commands import parsed
from edge.agent.uplink.packets import PacketSender
from edge.agent.uplink.session import StationSession
from edge.agent.uplink.telemetry import Outbound
from protocol import topics
from protocol.bounds import MAX_OPEN_PACKETS
from protocol.messages import Receipt
from protocol.resume import QueriedPacket, ResumeAnswer, ResumeQuery

log = logging.getLogger(__name__)
wire = logging.getLogger("ewp.wire.mqtt")


class FleetAnswers:
    def __init__(
        self, sender: PacketSender, session: StationSession, outbox: Outbox, outbound: Outbound
    ) -> None:
        self._sender = sender
        self._session = session
        self._stats = session.stats
        self._outbox = outbox
        self._outbound = outbound
        self._asked: dict[str, int] = {}  # packet id -> chunk count, of the last query

    # -- receipts ------------------------------------------------------------------------------

    def on_receipt(self, payload: bytes) -> None:
        receipt = parsed(Receipt, payload, "receipt")
        if receipt is None:
            return
        wire.debug("<- receipt %s %s", receipt.packet_id, receipt.status)
        self._stats.receipts += 1
        try:
            entry = self._outbox.entry(receipt.packet_id)
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
        upload = self._sender.uploads.get(receipt.packet_id)
        if receipt.status in ("stored", "duplicate"):
            if self._outbox.mark_acked(receipt.packet_id, payload.decode("utf-8", "replace")):
                log.info(
                    "packet %s acknowledged by the fleet (%s)", receipt.packet_id, receipt.status
                )
            if upload is not None:
                self._sender.restart(upload, reset_outbox=False)
            return
        self._stats.rejected += 1
        if receipt.retry:
            log.warning("fleet asks to resend packet %s: %s", receipt.packet_id, receipt.reason)
            if upload is not None:
                self._sender.restart(upload, reset_outbox=True)
            else:
                self._outbox.reset_to_pending(receipt.packet_id)
            return
        log.error(
            "fleet refused packet %s: %s; it stays in the outbox, contact fleet support",
            receipt.packet_id,
            receipt.reason,
        )
        self._sender.held.add(receipt.packet_id)
        if upload is not None:
            self._sender.restart(upload, reset_outbox=False)
        self._outbound.report_event(
            "packet-refused", "error", packet_id=receipt.packet_id, reason=receipt.reason
        )

    # -- resuming ------------------------------------------------------------------------------

    def ask_what_the_fleet_holds(self) -> None:
        """Connected and subscribed: ask about every packet sent in part or whole, without a
        receipt (those of this process first, then the outbox's, oldest first)."""
        sender = self._sender
        started = [u.packet_id for u in sender.uploads.values() if u.next_index or u.resend]
        entries = {
            e.packet_id: e
            for e in self._outbox.waiting(limit=MAX_OPEN_PACKETS + len(sender.uploads))
        }
        waiting = [
            packet_id
            for packet_id, e in entries.items()
            if e.chunks_sent and packet_id not in sender.uploads
        ]
        asked = [p for p in [*started, *waiting] if p not in sender.held][:MAX_OPEN_PACKETS]
        sender.fleet_holds.clear()
        self._asked = {}
        if not asked:
            return
        packets = []
        for packet_id in asked:
            count = sender.chunk_count(packet_id)
            entry = entries.get(packet_id) or self._outbox.entry(packet_id)
            sha256 = entry.sha256
            packets.append(QueriedPacket(packet_id=packet_id, sha256=sha256, count=count))
            self._asked[packet_id] = count
        query = ResumeQuery(station_id=self._session.station_id, packets=packets)
        self._session.publish(topics.RESUME, query.to_payload())
        log.info("asked the fleet which chunks it holds of %d packet(s)", len(packets))

    def on_resume_answer(self, payload: bytes) -> None:
        answer = parsed(ResumeAnswer, payload, "resume answer")
        if answer is None:
            return
        for entry in answer.packets:
            count = self._asked.get(entry.packet_id)
            if count is None:
                log.info("resume answer about packet %s not asked about", entry.packet_id)
                continue
            held = entry.indexes()
            if held and max(held) >= count:
                log.warning("resume answer names chunks beyond packet %s's", entry.packet_id)
                continue
            del self._asked[entry.packet_id]  # one answer per question
            wire.debug("<- resume %s: fleet holds %d of %d", entry.packet_id, len(held), count)
            upload = self._sender.uploads.get(entry.packet_id)
            if upload is not None:
                self._sender.resume_from(upload, held)
            else:
                self._sender.fleet_holds[entry.packet_id] = held

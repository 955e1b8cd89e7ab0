"""A stolen station cannot hurt the fleet: hostile payloads on every topic, on a real Mosquitto.

One station is in a thief's hands: first with only its broker password, then with its signing
key too. It sends hand-picked and hypothesis-generated hostile messages on every topic it may
publish on (huge sequence ranges, 2**63, over-long strings, NUL, garbage and oversized chunks,
endless new packet ids, packets sealed to the wrong key, retained publishes, topics the fleet
does not consume) while a second station uploads 100 KB packets normally. The fleet's ingest
runs as its own process (`ewp fleet ingest`), so its memory can be measured.

Afterwards:

- every packet of the second station is stored exactly once, and all within ``DELAY_S`` of its
  last chunk;
- the ingest process's peak resident memory stayed under ``RSS_BOUND_MB``, and it still runs;
- the hostile messages were refused or quarantined, and the thief's station is flagged with a
  ``station-misbehaving`` alert; the honest station is not;
- nothing was written outside the fleet's data directory.

The stations reach the broker as provisioning tells them to (TLS where the fleet has it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from edge.agent.identity import StationIdentity
from ewp.local_fleet import FleetStack, IngestProcess, start_fleet_stack, wait_until
from fleet.ingest.budgets import MAX_OPEN_PACKETS
from fleet.store.models import Packet, PacketChunk, QuarantinedMessage, Rejection
from fleet.store.ops_models import Alert
from mqtt_session import (
    BrokerAddress,
    Credentials,
    Message,
    MqttSession,
    SessionOptions,
    Subscription,
    TlsOptions,
)
from protocol import topics
from protocol.chunks import MAX_CHUNK_MESSAGE_SIZE, split_packet
from protocol.envelope import SealedPacket, seal_packet
from protocol.keys import CentralPrivateKey

log = logging.getLogger(__name__)

HOSTILE, GOOD = "st-thief", "st-honest"
GOOD_PACKETS = 8
PACKET_BYTES = 100_000
DELAY_S = 30.0  # the honest station's packets are stored within this of their last chunk
RSS_BOUND_MB = 300  # peak resident memory of the ingest process
UP_SUFFIXES = [
    topics.STATUS.suffix,
    topics.HEARTBEAT.suffix,
    topics.EVENTS.suffix,
    topics.RESPONSES.suffix,
    topics.CONFIG_APPLIED.suffix,
    topics.RECONCILIATION.suffix,
    topics.UPDATE_STATUS.suffix,
    topics.RESUME.suffix,
    "packets/" + "ab" * 16,
]


@dataclass
class Fleet:
    stack: FleetStack
    ingest: IngestProcess
    thief: StationIdentity
    honest: StationIdentity


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    stack = start_fleet_stack(tmp_path / "fleet-root", workers=0)
    ingest = stack.ingest_process("hostile-test")
    try:
        thief = stack.provision_station(HOSTILE, tmp_path / "thief")
        honest = stack.provision_station(GOOD, tmp_path / "honest")
        ingest.start()
        ingest.wait_subscribed()
        yield Fleet(stack, ingest, thief, honest)
    finally:
        ingest.stop()
        stack.stop()


def station_session(identity: StationIdentity, subscriptions: list[Subscription]) -> MqttSession:
    creds = identity.mqtt
    tls = TlsOptions(ca_file=identity.fleet_ca_file) if creds.tls else None
    return MqttSession(
        BrokerAddress(creds.host, creds.port, tls),
        SessionOptions(
            client_id=creds.client_id,
            credentials=Credentials(creds.username, creds.password),
            session_expiry_s=0,
            clean_start=True,
        ),
        subscriptions,
    ).connect_wait(30)


def chunk_topic(packet: SealedPacket) -> str:
    return topics.PACKET_CHUNKS.for_station(packet.station_id).replace("+", packet.packet_id)


def publish_packet(session: MqttSession, packet: SealedPacket, chunk_size: int = 16384) -> None:
    for chunk in split_packet(packet, chunk_size):
        session.publish_and_wait(chunk_topic(packet), chunk.to_bytes(), qos=1, timeout=30)


def hand_picked() -> list[tuple[str, bytes, bool]]:
    """(topic suffix, payload, retain): what a review found, and a little more."""
    at = "2026-12-06T10:00:00.000Z"

    def j(value: object) -> bytes:
        return json.dumps(value).encode()

    report = {"station_id": HOSTILE, "at": at, "created_total": 1}
    return [
        ("reconciliation", j({**report, "last_seq": 3_000_000, "days": [
            {"day": "2026-12-06", "created": 1, "seqs": [[1, 3_000_000]]}]}), False),
        ("reconciliation", j({**report, "last_seq": 10**12, "days": [
            {"day": "2026-12-06", "created": 1, "seqs": [[1, 10**12]]}]}), False),
        ("reconciliation", j({**report, "last_seq": 2**63, "days": []}), False),
        ("reconciliation", j({**report, "last_seq": 150_000, "days": []}), False),
        ("status", j({"station_id": HOSTILE, "state": "online", "reason": "r" * 5000}), True),
        ("status", j({"station_id": HOSTILE, "state": "online",
                      "software_version": "v" * 100_000}), True),
        ("status", b"\xff" * 900, True),
        ("heartbeat", j({"station_id": HOSTILE, "seq": 2**63, "software_version": "x" * 70}),
         False),
        ("heartbeat", b"[" * 15_000, False),
        ("heartbeat", b" " * (1024 * 1024), False),
        ("events", j({"station_id": HOSTILE, "at": at, "kind": "tamper\u0000", "detail": {}}),
         False),
        ("events", j({"station_id": HOSTILE, "at": at, "kind": "x",
                      "detail": {f"k{n}": "v" * 3000 for n in range(200)}}), False),
        ("responses", j({"command_id": "00" * 16, "station_id": HOSTILE, "status": "ok",
                         "answered_at": at, "detail": {"n": 2**64}}), False),
        ("config-applied", j({"station_id": HOSTILE, "version": 2**63, "sha256": "0" * 64,
                              "status": "applied", "applied_at": at}), False),
        ("update-status", b"{\"v\": 1}" * 100, False),
        ("resume", b"[" * 20_000, False),
        ("resume", j({"station_id": HOSTILE, "packets": [
            {"packet_id": f"{n:032x}", "sha256": "0" * 64, "count": 1} for n in range(65)]}),
         False),
        ("packets/" + "cd" * 16, b"EWPC" + b"\x00" * 5000, False),
        ("packets/" + "ef" * 16, b"EWPC" + b"\x01" * (300 * 1024), False),
        ("packets/" + "12" * 16, b"not a chunk", True),
        ("../../../escaped", b"{}", False),
        ("nonsense-topic", b"{}", True),
    ]  # fmt: skip


JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
)
FIELDS = st.sampled_from(
    ["v", "station_id", "at", "seq", "last_seq", "created_total", "days", "seqs", "missing",
     "state", "reason", "software_version", "kind", "detail", "queue", "disk", "sensors",
     "status", "command_id", "version", "sha256", "applied_at", "uptime_s", "link"]
)  # fmt: skip
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(FIELDS, inner, max_size=6),
    max_leaves=25,
)
RANGES = st.lists(
    st.tuples(st.integers(1, 2**64), st.integers(1, 2**64)).map(sorted).map(list), max_size=5
)
HOSTILE_MESSAGE = st.one_of(
    st.binary(max_size=4000),
    st.dictionaries(FIELDS, JSON_VALUE, max_size=10)
    .map(lambda d: {**d, "station_id": HOSTILE, "v": 1})
    .map(lambda d: json.dumps(d).encode()),
    st.builds(
        lambda last, ranges: json.dumps(
            {
                "v": 1,
                "station_id": HOSTILE,
                "at": "2026-12-06T10:00:00.000Z",
                "last_seq": last,
                "created_total": 1,
                "days": [{"day": "2026-12-06", "created": 1, "seqs": ranges}],
            }
        ).encode(),
        st.integers(0, 2**64),
        RANGES,
    ),
)


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# The MQTT sessions' threads draw reconnect jitter from `random` while hypothesis generates.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_a_stolen_station_cannot_stall_exhaust_or_poison_the_fleet(
    fleet: Fleet, tmp_path: Path
) -> None:
    stack, thief, honest = fleet.stack, fleet.thief, fleet.honest
    assert stack.context is not None
    sessions = stack.context.sessions
    data_dir = stack.settings.service.data_dir.resolve()
    before = files_under(tmp_path)

    receipts: list[dict[str, object]] = []
    honest_session = station_session(
        honest,
        [Subscription(topics.RECEIPTS.for_station(GOOD), 1,
                      lambda m: receipts.append(json.loads(m.payload)))],
    )  # fmt: skip
    thief_session = station_session(thief, [])

    # The honest station uploads while the thief floods.
    good = [
        seal_packet(
            bytes([n]) * PACKET_BYTES,
            station_id=GOOD,
            packet_id=f"{n:032x}",
            seq=n,
            recipient=honest.central_key,
            signer=honest.signing_key,
        )
        for n in range(1, GOOD_PACKETS + 1)
    ]
    last_chunk_at: dict[str, float] = {}

    def upload() -> None:
        for packet in good:
            publish_packet(honest_session, packet)
            last_chunk_at[packet.packet_id] = time.monotonic()
            time.sleep(0.3)

    uploader = threading.Thread(target=upload)
    uploader.start()

    # 1. With the broker password only (messages the broker itself refuses as too large
    # last: it disconnects the thief for them).
    picked = sorted(hand_picked(), key=lambda item: len(item[1]) > MAX_CHUNK_MESSAGE_SIZE)
    for suffix, payload, retain in picked[:-2]:
        thief_session.publish(f"{topics.station_prefix(HOSTILE)}/{suffix}", payload, retain=retain)

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(suffix=st.sampled_from(UP_SUFFIXES), payload=HOSTILE_MESSAGE, retain=st.booleans())
    def flood(suffix: str, payload: bytes, retain: bool) -> None:
        topic = f"{topics.station_prefix(HOSTILE)}/{suffix}"
        thief_session.publish(topic, payload, qos=1, retain=retain)

    flood()
    for suffix, payload, retain in picked[-2:]:
        thief_session.publish(f"{topics.station_prefix(HOSTILE)}/{suffix}", payload, retain=retain)
    time.sleep(1)
    thief_session.close()
    thief_receipts: list[dict[str, object]] = []
    thief_answers: list[dict[str, object]] = []
    thief_session = station_session(
        thief,
        [Subscription(topics.RECEIPTS.for_station(HOSTILE), 1,
                      lambda m: thief_receipts.append(json.loads(m.payload))),
         Subscription(topics.RESUME_ANSWER.for_station(HOSTILE), 1,
                      lambda m: thief_answers.append(json.loads(m.payload)))],
    )  # fmt: skip

    # 2. With the station's signing key too: endless new packet ids, packets sealed to another
    # key (and downgraded to X25519), a packet with the highest sequence number allowed.
    elsewhere = CentralPrivateKey.generate("X25519").public_key()
    for n in range(150):
        endless = seal_packet(
            b"e" * 40_000,
            station_id=HOSTILE,
            packet_id=f"{0xE000 + n:032x}",
            seq=n + 1,
            recipient=thief.central_key,
            signer=thief.signing_key,
        )
        first = next(split_packet(endless, 16384))
        thief_session.publish_and_wait(chunk_topic(endless), first.to_bytes(), timeout=30)
    wrong = seal_packet(
        b"w" * 20_000,
        station_id=HOSTILE,
        packet_id="f0" * 16,
        seq=500,
        recipient=elsewhere,
        signer=thief.signing_key,
    )
    publish_packet(thief_session, wrong)
    highest = seal_packet(
        b"h" * 1000,
        station_id=HOSTILE,
        packet_id="f1" * 16,
        seq=2**40,
        recipient=thief.central_key,
        signer=thief.signing_key,
    )
    publish_packet(thief_session, highest)
    thief_session.publish_and_wait(
        topics.RECONCILIATION.for_station(HOSTILE),
        json.dumps(
            {"v": 1, "station_id": HOSTILE, "at": "2026-12-06T10:00:00.000Z",
             "last_seq": 2**40, "created_total": 1,
             "days": [{"day": "2026-12-06", "created": 1, "seqs": [[1, 2**40]]}]}
        ).encode(),
    )  # fmt: skip

    # It asks what the fleet holds of the honest station's packets, with their true hashes.
    asked = [{"packet_id": p.packet_id, "sha256": p.header.sealed_sha256, "count": 7} for p in good]
    thief_session.publish_and_wait(
        topics.RESUME.for_station(HOSTILE),
        json.dumps({"station_id": HOSTILE, "packets": asked}).encode(),
    )
    wait_until(lambda: thief_answers, timeout=60, message="the answer to the thief's query")
    wait_until(
        lambda: any(r["packet_id"] == wrong.packet_id for r in thief_receipts),
        timeout=90,
        message="the thief told why its packet sealed to another key is refused",
    )
    uploader.join(timeout=120)
    assert not uploader.is_alive()

    # The honest station: every packet stored exactly once, each within DELAY_S.
    def stored() -> dict[str, float]:
        with sessions() as session:
            ids = session.scalars(select(Packet.packet_id).where(Packet.station_id == GOOD))
            return {packet_id: time.monotonic() for packet_id in ids}

    seen: dict[str, float] = {}

    def all_stored() -> bool:
        for packet_id, now in stored().items():
            seen.setdefault(packet_id, now)
        return len(seen) == GOOD_PACKETS

    wait_until(all_stored, timeout=DELAY_S + 60, interval=0.2, message="the honest packets")
    late = {
        packet_id: round(seen[packet_id] - last_chunk_at[packet_id], 1)
        for packet_id in seen
        if seen[packet_id] - last_chunk_at[packet_id] > DELAY_S
    }
    assert not late, f"stored later than {DELAY_S} s after their last chunk: {late}"
    wait_until(lambda: len(receipts) >= GOOD_PACKETS, timeout=30, message="receipts")
    time.sleep(1)
    with sessions() as session:
        rows = session.scalar(
            select(func.count()).select_from(Packet).where(Packet.station_id == GOOD)
        )
    assert rows == GOOD_PACKETS
    statuses = sorted((str(r["packet_id"]), str(r["status"])) for r in receipts)
    assert statuses == sorted((p.packet_id, "stored") for p in good), "one receipt each"

    # The ingest process kept running, within its memory bound.
    assert fleet.ingest.process is not None and fleet.ingest.process.poll() is None
    peak = rss_peak_mb(fleet.ingest.process.pid)
    assert peak < RSS_BOUND_MB, f"ingest peaked at {peak:.0f} MB"
    delays = [seen[p] - last_chunk_at[p] for p in seen]
    log.info(
        "honest packets stored after at most %.1f s; ingest peak RSS %.0f MB", max(delays), peak
    )

    # The thief: refused or quarantined, flagged; the honest station: neither.
    with sessions() as session:
        refused = dict(
            session.execute(
                select(Rejection.station_id, func.count()).group_by(Rejection.station_id)
            ).all()
        )
        quarantined = set(session.scalars(select(QuarantinedMessage.station_id)))
        flagged = set(
            session.scalars(
                select(Alert.station_id).where(
                    Alert.rule == "station-misbehaving", Alert.active_key.is_not(None)
                )
            )
        )
        thief_packets = set(
            session.scalars(select(Packet.packet_id).where(Packet.station_id == HOSTILE))
        )
        reasons = set(
            session.scalars(select(Rejection.reason).where(Rejection.station_id == HOSTILE))
        )
    assert refused.get(HOSTILE, 0) > 0 and GOOD not in refused
    assert GOOD not in quarantined
    assert flagged == {HOSTILE}
    assert wrong.packet_id not in thief_packets, "sealed to another key: never stored"
    assert {"oversized", "malformed-reconciliation", "malformed-heartbeat"} <= reasons, reasons
    honest_ids = {p.packet_id for p in good}
    assert not [r for r in thief_receipts if r["packet_id"] in honest_ids]
    answered = [entry for answer in thief_answers for entry in answer["packets"]]  # type: ignore[attr-defined]
    assert {e["packet_id"] for e in answered} == honest_ids
    assert all(e["held"] == [] for e in answered), "another station's packets: nothing revealed"
    told = [r for r in thief_receipts if r["packet_id"] == wrong.packet_id]
    assert told and told[0]["status"] == "rejected" and elsewhere.key_id in str(told[0]["reason"])
    with sessions() as session:
        open_ids = set(
            session.scalars(select(PacketChunk.packet_id).where(PacketChunk.station_id == HOSTILE))
        )
    assert len(open_ids) <= MAX_OPEN_PACKETS, "endless new packet ids are bounded"

    # Nothing written outside the fleet's data directory (besides the test's own files).
    allowed = [data_dir, stack.root / "logs", tmp_path / "thief", tmp_path / "honest"]
    written = files_under(tmp_path) - before
    outside = [p for p in written if not any(p.resolve().is_relative_to(a) for a in allowed)]
    assert outside == [], outside
    assert not list(tmp_path.parent.rglob("escaped*"))

    # Retained publishes: a sweep keeps them in quarantine and clears them; status stays.
    assert stack.context.retained_sweeper.sweep().failed == []
    left = retained_under(stack, HOSTILE) | retained_under(stack, GOOD)
    assert all(topic.endswith("/status") for topic in left), left
    with sessions() as session:
        retained = set(
            session.scalars(
                select(QuarantinedMessage.topic).where(
                    QuarantinedMessage.reason == "retained-publish"
                )
            )
        )
    assert topics.packet_topic(HOSTILE, "12" * 16) in retained
    assert all(topic.startswith(topics.station_prefix(HOSTILE)) for topic in retained)

    honest_session.close()
    thief_session.close()


def retained_under(stack: FleetStack, station_id: str) -> set[str]:
    """The topics under a station's prefix a fresh subscriber gets a retained message on."""
    assert stack.context is not None
    login = stack.context.service_login
    got: set[str] = set()

    def keep(message: Message) -> None:
        if message.retain and message.topic.startswith(topics.station_prefix(station_id) + "/"):
            got.add(message.topic)

    session = MqttSession(
        login.address,
        SessionOptions(
            client_id="retained-look",
            credentials=Credentials(login.username, login.password),
            clean_start=True,
            session_expiry_s=0,
        ),
        [
            Subscription(spec.filter_all_stations(), 1, keep)
            for spec in topics.ALL_TOPICS
            if spec.direction is topics.Direction.UP
        ],
    ).connect_wait()
    time.sleep(1)
    session.close()
    return set(got)

"""MQTT topic names: the one table both ends and the broker's ACL are generated from.

Every topic lives under ``ewp/v1/stations/{station_id}/``. A topic has a direction (``up``:
station to fleet, ``down``: fleet to station), a QoS, a retain flag and a payload schema. The
broker ACL for a station is derived from this table (`acl_for_station`), so a station can
publish only its own ``up`` topics and subscribe only to its own ``down`` topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ROOT = "ewp/v1/stations"
SHARE_GROUP = "ingest"
STATION_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class Direction(StrEnum):
    UP = "up"  # station -> fleet
    DOWN = "down"  # fleet -> station


@dataclass(frozen=True)
class TopicSpec:
    suffix: str  # under the station prefix; "+" stands for one level (a packet id)
    direction: Direction
    qos: int
    retain: bool
    payload: str  # schema name, see docs/protocol.md
    purpose: str

    def for_station(self, station_id: str) -> str:
        return f"{station_prefix(station_id)}/{self.suffix}"

    def filter_all_stations(self) -> str:
        """A subscription filter matching this topic for every station."""
        return f"{ROOT}/+/{self.suffix}"


STATUS = TopicSpec(
    "status",
    Direction.UP,
    1,
    True,
    "StationStatus",
    "online/offline; retained; the broker publishes `offline` as the station's last will",
)
HEARTBEAT = TopicSpec(
    "heartbeat",
    Direction.UP,
    0,
    False,
    "Heartbeat",
    "health every `heartbeat_interval_s`: queue depth, oldest pending age, disk, sensors",
)
PACKET_CHUNKS = TopicSpec(
    "packets/+",
    Direction.UP,
    1,
    False,
    "PacketChunk (binary)",
    "one chunk of a sealed packet; the last level is the packet id",
)
EVENTS = TopicSpec(
    "events",
    Direction.UP,
    1,
    False,
    "StationEvent",
    "things that happened at the station: sensor unplugged, outbox full, tamper",
)
RESPONSES = TopicSpec(
    "responses",
    Direction.UP,
    1,
    False,
    "CommandResponse",
    "the signed answer to a command",
)
CONFIG_APPLIED = TopicSpec(
    "config-applied",
    Direction.UP,
    1,
    False,
    "ConfigApplied",
    "the configuration version and hash the station applied, or why it refused one",
)
RECONCILIATION = TopicSpec(
    "reconciliation",
    Direction.UP,
    1,
    False,
    "ReconciliationReport",
    "what the station created, per day: counts and sequence-number ranges",
)
RESUME = TopicSpec(
    "resume",
    Direction.UP,
    1,
    False,
    "ResumeQuery",
    "after every (re)connect: which chunks of these unreceipted packets does the fleet hold?",
)
RECEIPTS = TopicSpec(
    "receipts",
    Direction.DOWN,
    1,
    False,
    "Receipt",
    "the fleet stored (or refused) a packet; the station marks it acked",
)
RESUME_ANSWER = TopicSpec(
    "resume-answer",
    Direction.DOWN,
    1,
    False,
    "ResumeAnswer",
    "the chunks the fleet holds of each packet the station asked about (not stored ones)",
)
COMMANDS = TopicSpec(
    "commands",
    Direction.DOWN,
    1,
    False,
    "Command",
    "an instruction for the station",
)
CONFIG = TopicSpec(
    "config",
    Direction.DOWN,
    1,
    True,
    "DesiredConfig",
    "the station's desired configuration; retained",
)
APPLICATION_STATUS = TopicSpec(
    "app-status",
    Direction.DOWN,
    1,
    False,
    "ApplicationStatus",
    "the central system's decision on an application enrolled at this station",
)

# QoS 0 on purpose: personal data. The broker queues nothing at QoS 0 for an offline session,
# so a batch never waits in Mosquitto's persistence file; the fleet sends only to a station that
# is online, and the station confirms with a `preregistrations-received` event (decision 0042).
PREREGISTRATIONS = TopicSpec(
    "preregistrations",
    Direction.DOWN,
    0,
    False,
    "PreregistrationBatch",
    "applications submitted online, for offline lookup during a trip; sent only while the "
    "station is online, never queued at the broker",
)

UPDATE_STATUS = TopicSpec(
    "update-status",
    Direction.UP,
    1,
    False,
    "UpdateStatus",
    "each step of a software update: downloading (progress), healthy, failed, rolled-back",
)
UPDATE = TopicSpec(
    "update",
    Direction.DOWN,
    1,
    True,
    "UpdateOffer",
    "the release the station should install (TUF target paths); retained until reported",
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    STATUS,
    HEARTBEAT,
    PACKET_CHUNKS,
    EVENTS,
    RESPONSES,
    CONFIG_APPLIED,
    RECONCILIATION,
    RESUME,
    RECEIPTS,
    RESUME_ANSWER,
    COMMANDS,
    CONFIG,
    APPLICATION_STATUS,
    PREREGISTRATIONS,
    UPDATE_STATUS,
    UPDATE,
)


def validate_station_id(station_id: str) -> str:
    """Station ids become topic levels and broker usernames: keep them plain."""
    if not STATION_ID_RE.fullmatch(station_id):
        raise ValueError(
            f"station id {station_id!r} must be 2-63 characters of a-z, 0-9 and '-', "
            "starting with a letter or digit"
        )
    return station_id


def station_prefix(station_id: str) -> str:
    return f"{ROOT}/{validate_station_id(station_id)}"


def packet_topic(station_id: str, packet_id: str) -> str:
    return f"{station_prefix(station_id)}/packets/{packet_id}"


def shared(topic_filter: str, group: str = SHARE_GROUP) -> str:
    """An MQTT v5 shared subscription: each message goes to one worker of the group."""
    return f"$share/{group}/{topic_filter}"


def parse_station_topic(topic: str) -> tuple[str, str]:
    """Split ``ewp/v1/stations/{id}/{suffix}`` into (station id, suffix)."""
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        raise ValueError(f"not an ewp station topic: {topic!r}")
    station_id, _, suffix = topic[len(prefix) :].partition("/")
    if not suffix or not STATION_ID_RE.fullmatch(station_id):
        raise ValueError(f"not an ewp station topic: {topic!r}")
    return station_id, suffix


@dataclass(frozen=True)
class AclEntry:
    """One broker ACL rule in Mosquitto dynamic-security terms."""

    acltype: str  # publishClientSend | publishClientReceive | subscribePattern
    topic: str
    allow: bool = True


def acl_for_station(station_id: str) -> list[AclEntry]:
    """What a station's broker credentials may do: its own up topics, its own down topics."""
    entries: list[AclEntry] = []
    for spec in ALL_TOPICS:
        topic = spec.for_station(station_id)
        if spec.direction is Direction.UP:
            entries.append(AclEntry("publishClientSend", topic))
        else:
            entries.append(AclEntry("subscribePattern", topic))
            entries.append(AclEntry("publishClientReceive", topic))
    return entries


def acl_for_fleet() -> list[AclEntry]:
    """What the fleet service's credentials may do: read every up topic, write every down one,
    and write the up topics not retained by design: the retained sweeper clears a retained
    message a station left there with an empty retained publish (decision 0032)."""
    entries: list[AclEntry] = []
    for spec in ALL_TOPICS:
        topic = spec.filter_all_stations()
        if spec.direction is Direction.UP:
            entries.append(AclEntry("subscribePattern", topic))
            # Mosquitto 2.0 checks a shared subscription with its $share/<group>/ prefix.
            entries.append(AclEntry("subscribePattern", shared(topic, "+")))
            entries.append(AclEntry("publishClientReceive", topic))
            if not spec.retain:
                entries.append(AclEntry("publishClientSend", topic))
        else:
            entries.append(AclEntry("publishClientSend", topic))
    return entries

"""JSON message schemas of the MQTT topics (see protocol/topics.py and docs/protocol.md).

Every message carries ``v`` (its schema version). Receivers reject unknown fields, so a typo on
one side shows up as a clear error on the other instead of a silently ignored value.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from protocol.bounds import (
    MAX_DETAIL_ITEMS,
    MAX_LINK_COUNTERS,
    MAX_SENSORS,
    NO_NUL,
    Count,
    EventKind,
    FiniteFloat,
    FirmwareVersion,
    Int64,
    SeqOrZero,
    ShortText,
    SoftwareVersion,
    StationScalar,
    StatusReason,
)
from protocol.enrolment import Application
from protocol.errors import MessageError
from protocol.topics import STATION_ID_RE

StationId = Annotated[str, StringConstraints(pattern=STATION_ID_RE.pattern)]
PacketId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Timestamp = Annotated[str, StringConstraints(max_length=40, pattern=NO_NUL)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_payload(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


M = TypeVar("M", bound=Message)


def parse_message(model: type[M], payload: bytes) -> M:
    """Parse a JSON payload into ``model``; MessageError names the problems."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise MessageError(f"invalid {model.__name__}: {problems}") from None


class StationStatus(Message):
    """Retained on ``status``; the broker publishes the ``offline`` last will for us."""

    v: Literal[1] = 1
    station_id: StationId
    state: Literal["online", "offline"]
    at: Timestamp | None = None
    software_version: SoftwareVersion | None = None
    reason: StatusReason | None = None  # "clean shutdown" / "last will"


class QueueHealth(Message):
    pending: Count = Field(description="sealed packets not yet acknowledged by the fleet")
    sending: Count
    acked: Count = Field(description="acknowledged, kept until the retention period ends")
    pending_bytes: Count
    oldest_pending_age_s: FiniteFloat | None = Field(default=None, ge=0)
    created_total: Count = Field(description="packets this station ever created")
    last_seq: SeqOrZero = Field(description="highest packet sequence number created")


class DiskHealth(Message):
    free_bytes: Count
    total_bytes: Count


SensorState = Literal["ok", "missing", "error", "unknown"]


class SensorHealth(Message):
    kind: ShortText
    state: SensorState
    detail: ShortText | None = None


class Environment(Message):
    """What the station controller board reports: climate, power, position, tamper."""

    controller: Literal["ok", "missing", "error"]
    controller_firmware: FirmwareVersion | None = None
    temperature_c: FiniteFloat | None = None
    humidity_pct: FiniteFloat | None = None
    battery_v: FiniteFloat | None = None
    external_power: bool | None = None
    tamper_latched: bool = False
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    position_at: Timestamp | None = None


class AppliedConfigRef(Message):
    """Which desired configuration the station runs (version 0: its local settings only)."""

    version: Count
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class CaptureCounters(Message):
    """What the station's capture workflow did since the agent started (a rollout's soak
    check compares these between updated and not-yet-updated stations)."""

    enrolments_completed: int = Field(ge=0, le=2**31)
    attempts_ok: int = Field(ge=0, le=2**31, description="capture attempts that met quality")
    attempts_failed: int = Field(
        ge=0, le=2**31, description="attempts that failed: unusable, timed out or a device error"
    )
    sensor_errors: int = Field(ge=0, le=2**31, description="driver errors from any sensor")


class Heartbeat(Message):
    v: Literal[1] = 1
    station_id: StationId
    at: Timestamp
    seq: Count = Field(description="heartbeat counter since the agent started")
    uptime_s: FiniteFloat = Field(ge=0)
    software_version: SoftwareVersion
    queue: QueueHealth
    disk: DiskHealth
    sensors: list[SensorHealth] = Field(default_factory=list, max_length=MAX_SENSORS)
    link: dict[ShortText, Int64 | FiniteFloat] = Field(
        default_factory=dict,
        max_length=MAX_LINK_COUNTERS,
        description="uplink counters: reconnects, chunks_sent, bytes_sent, receipt_timeouts",
    )
    environment: Environment | None = Field(
        default=None, description="from the station controller board, when one is fitted"
    )
    cpu_temperature_c: FiniteFloat | None = Field(
        default=None, description="the Pi's SoC temperature (thermal zone 0), when readable"
    )
    interval_s: FiniteFloat | None = Field(
        default=None,
        gt=0,
        description="seconds until the next heartbeat: the fleet's missed-heartbeat timeout "
        "is 1.5 times this",
    )
    config: AppliedConfigRef | None = Field(
        default=None, description="the configuration the station runs"
    )
    captures: CaptureCounters | None = Field(
        default=None, description="the capture workflow's counters since the agent started"
    )
    agent_starts: int | None = Field(
        default=None,
        ge=0,
        le=2**31,
        description="times the agent has started on this station (kept on disk): restarts",
    )


class Receipt(Message):
    """The fleet's answer to a packet. ``stored`` and ``duplicate`` both mean: it is safe."""

    v: Literal[1] = 1
    packet_id: PacketId
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    status: Literal["stored", "duplicate", "rejected"]
    reason: str | None = None
    retry: bool = Field(
        default=False, description="rejected but worth sending again (e.g. a hash mismatch)"
    )
    received_at: Timestamp


class StationEvent(Message):
    v: Literal[1] = 1
    station_id: StationId
    at: Timestamp
    kind: EventKind
    severity: Literal["info", "warning", "error", "critical"] = "info"
    detail: dict[ShortText, StationScalar] = Field(
        default_factory=dict, max_length=MAX_DETAIL_ITEMS
    )


CommandKind = Literal[
    "ping",
    "tamper-challenge",
    "tamper-clear",
    "rotate-key",
    "activate-key",
    "rotate-credentials",
]
Scalar = str | int | float | bool | None


class Command(Message):
    """An instruction from the fleet. Only the fleet can publish on a station's ``commands``
    topic (broker ACL)."""

    v: Literal[1] = 1
    command_id: PacketId
    kind: CommandKind
    args: dict[str, Scalar] = Field(default_factory=dict)
    issued_at: Timestamp


class CommandResponse(Message):
    """The station's answer, signed with its Ed25519 key (see protocol/commands.py)."""

    v: Literal[1] = 1
    command_id: PacketId
    station_id: StationId
    status: Literal["ok", "refused", "error", "unknown-command"]
    detail: dict[ShortText, StationScalar] = Field(
        default_factory=dict, max_length=MAX_DETAIL_ITEMS
    )
    answered_at: Timestamp
    signature: str = Field(default="", max_length=100, description="base64 Ed25519 signature")


class PreregistrationBatch(Message):
    """Applications submitted online, sent to the station that will enrol them."""

    v: Literal[1] = 1
    batch_id: PacketId
    issued_at: Timestamp
    expires_at: Timestamp
    applications: list[Application] = Field(min_length=1, max_length=2000)

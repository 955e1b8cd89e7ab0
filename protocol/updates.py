"""Messages of software updates: what the fleet offers a station, and how the station reports.

The fleet's rollout plan decides *when* a station gets an offer (its phase has started, its
maintenance window is open); the station decides nothing about *what*: it installs only what the
fleet's TUF repository signs (roles root/targets/snapshot/timestamp, see docs/updates.md), and
the offer is no more than a pointer to TUF targets.

- ``update`` (down, QoS 1, retained): ``UpdateOffer`` — install this release (or ``cancel`` a
  previous offer not yet installed). Retained, so a station offline when its phase started gets
  it when it comes back; the fleet clears it (empty retained payload) once the station reported
  a final state.
- ``update-status`` (up, QoS 1): ``UpdateStatus`` — every step of the station's update, with
  progress while downloading and the log tail on failure. A rollout counts a station as updated
  only on ``healthy``: after the restart, the new version's health check passed.

Same rules as protocol/messages.py: every message carries ``v``, unknown fields are refused,
every string and number is bounded (a station's report is hostile input to the fleet).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from protocol.messages import Message, StationId, Timestamp

VERSION_RE = re.compile(r"^\d{1,6}\.\d{1,6}\.\d{1,6}(?:[-+][0-9A-Za-z.-]{1,40})?$")
# TUF target paths: a few levels of plain names, never ``..`` nor an absolute path.
_NAME = r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,99}"
TARGET_PATH_RE = re.compile(rf"^(?:{_NAME}/){{0,3}}{_NAME}$")
ROLLOUT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

Version = Annotated[str, StringConstraints(pattern=VERSION_RE.pattern, max_length=64)]
TargetPath = Annotated[str, StringConstraints(pattern=TARGET_PATH_RE.pattern, max_length=400)]
RolloutId = Annotated[str, StringConstraints(pattern=ROLLOUT_ID_RE.pattern)]
Component = Literal["agent", "firmware"]

MAX_LOG_TAIL = 4096
MAX_REASON = 300


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Order release versions: numeric major.minor.patch; a pre-release (``1.4.0-rc1``) sorts
    before its release; build metadata (``+abc``) does not order."""
    if VERSION_RE.fullmatch(version) is None:
        raise ValueError(f"not a release version: {version!r} (expected e.g. 1.4.2)")
    core, _, pre = version.split("+", 1)[0].partition("-")
    major, minor, patch = (int(part) for part in core.split("."))
    return major, minor, patch, 0 if pre else 1, pre


def _safe_target(value: str | None) -> str | None:
    if value is not None and any(part in ("", ".", "..") for part in value.split("/")):
        raise ValueError("a target path has no empty, '.' or '..' parts")
    return value


class UpdateOffer(Message):
    """Retained on the station's ``update`` topic: what the fleet wants the station to run."""

    v: Literal[1] = 1
    rollout_id: RolloutId
    action: Literal["install", "cancel"] = "install"
    component: Component
    version: Version
    target: TargetPath = Field(description="the full bundle's TUF target path")
    delta_target: TargetPath | None = Field(
        default=None,
        description="a TUF target that turns the station's installed bundle into this one",
    )
    delta_from: Version | None = Field(
        default=None, description="the installed version the delta applies to"
    )
    allow_downgrade: bool = Field(
        default=False, description="only a rollback rollout installs an older version"
    )
    install_before: Timestamp | None = Field(
        default=None,
        description="UTC: the maintenance window's end; not installed later (the download may "
        "go on, the install waits for the next offer)",
    )
    health_deadline_s: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="the new version must pass its health check within this after the restart",
    )
    issued_at: Timestamp

    _check_target = field_validator("target", "delta_target")(_safe_target)


UpdateState = Literal[
    "offered",  # received, waiting (window closed, backlog first, or queued behind another)
    "downloading",  # progress in bytes_done / bytes_total
    "downloaded",  # verified against the TUF targets metadata
    "installing",  # unpacked at releases/<version>/
    "restarting",  # switched; the new version is starting
    "healthy",  # the new version passed its health check: success (final)
    "failed",  # did not install; the old version runs (final); see reason
    "rolled-back",  # installed but failed its health check or never came up (final)
    "refused",  # the offer was refused before any download (final): see reason
    "cancelled",  # the fleet cancelled the offer before the install (final)
]
FINAL_STATES: frozenset[str] = frozenset(
    {"healthy", "failed", "rolled-back", "refused", "cancelled"}
)


class UpdateStatus(Message):
    """One step of a station's update, sent on ``update-status``."""

    v: Literal[1] = 1
    station_id: StationId
    rollout_id: RolloutId
    component: Component
    version: Version = Field(description="the version being installed")
    from_version: Version | None = Field(default=None, description="what ran before")
    state: UpdateState
    at: Timestamp
    bytes_done: int = Field(default=0, ge=0, le=2**40)
    bytes_total: int = Field(default=0, ge=0, le=2**40)
    delta: bool = Field(default=False, description="downloaded as a delta")
    reason: Annotated[str, StringConstraints(max_length=MAX_REASON)] | None = None
    log_tail: Annotated[str, StringConstraints(max_length=MAX_LOG_TAIL)] | None = None

"""What the fleet may configure on a station: the capture policy, the upload schedule, health
reporting and retention. One model, used by the agent's settings (its defaults) and by the fleet
(desired configuration, validated before it is accepted and delivered)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

FingerPosition = Literal[
    "right-thumb",
    "right-index",
    "right-middle",
    "right-ring",
    "right-little",
    "left-thumb",
    "left-index",
    "left-middle",
    "left-ring",
    "left-little",
]
# The ten fingers in the capture plan's default order (right thumb to left little finger).
ALL_FINGERS: tuple[FingerPosition, ...] = get_args(FingerPosition)
Eye = Literal["left", "right"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _clock_time(value: str) -> str:
    if not _HHMM.fullmatch(value):
        raise ValueError("use HH:MM, 24-hour clock")
    return value


ClockTime = Annotated[str, AfterValidator(_clock_time)]
"""A time of day, ``HH:MM`` on the 24-hour clock (the start or end of a daily window)."""


class Section(BaseModel):
    # A settings section, here and in the station's and the fleet's settings: unknown keys are
    # refused, values frozen, and a docstring under a field is its description (docs/settings.md
    # is generated from them).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _both_eyes() -> list[Eye]:
    return ["left", "right"]


class CapturePolicy(Section):
    """Which biometrics an enrolment needs and how good they must be (0-100 scales)."""

    fingers: list[FingerPosition] = Field(default_factory=lambda: list(ALL_FINGERS))
    """the fingers an enrolment captures, in order"""
    eyes: list[Eye] = Field(default_factory=lambda: _both_eyes())
    """the eyes an enrolment captures (empty: no iris)"""
    finger_quality_min: Annotated[int, Field(ge=0, le=100)] = 40
    """the lowest ewp-fq-1 score accepted for a finger"""
    iris_quality_min: Annotated[int, Field(ge=0, le=100)] = 60
    """the lowest ewp-iq-1 score accepted for an eye"""
    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    """captures tried per finger or eye before the best one is kept or an exception recorded"""
    finger_timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    """how long to wait for a finger on the sensor"""
    duplicate_check: bool = True
    """check each finger against the applicant's earlier fingers (a finger presented twice is
    refused)"""

    @field_validator("fingers", "eyes")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each position may appear once")
        return value

    @model_validator(mode="after")
    def _something_to_capture(self) -> CapturePolicy:
        if not self.fingers and not self.eyes:
            raise ValueError("the capture plan must include at least one finger or eye")
        return self


class UploadWindow(Section):
    """A daily window (Asia/Bangkok local time) in which packets may upload; may cross midnight."""

    start: ClockTime
    """when uploads may start, HH:MM"""
    end: ClockTime
    """when uploads stop, HH:MM (before start: the window crosses midnight)"""


class UploadSchedule(Section):
    """When to upload. No windows: whenever the link is up."""

    windows: list[UploadWindow] = Field(default_factory=list)
    timezone: Literal["Asia/Bangkok"] = "Asia/Bangkok"
    """the windows' time zone"""


class StationConfig(Section):
    capture: CapturePolicy = Field(default_factory=CapturePolicy)
    upload: UploadSchedule = Field(default_factory=UploadSchedule)
    heartbeat_interval_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    """how often stations report their health"""
    retention_days: Annotated[float, Field(ge=0)] = 30.0
    """how long stations keep packets the fleet acknowledged"""


def canonical_config(config: StationConfig) -> bytes:
    """The configuration as canonical JSON (keys sorted, no spaces): what its hash covers."""
    return json.dumps(
        config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def config_sha256(config: StationConfig) -> str:
    """The hash both ends compute: the fleet's desired hash equals the station's applied one."""
    return hashlib.sha256(canonical_config(config)).hexdigest()

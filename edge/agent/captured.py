"""What the capture workflow hands on: the records it made and the enrolment that holds them.

A ``CapturedRecord`` is a record file and its manifest entry, made together by
``protocol.enrolment.record_for`` when the record is made (during capture, while the operator
moves on to the next finger), so the hash is computed once and the packet builder puts the entry
into the manifest as it is. Nothing here knows the outbox or the packet: the capture workflow
produces these, the packet builder consumes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.enrolment import Application, BiometricException, BiometricRecord, record_for


@dataclass(frozen=True)
class CapturedRecord:
    """One biometric record as captured: the file's bytes and its (validated) manifest entry."""

    entry: BiometricRecord
    data: bytes = field(repr=False)

    @classmethod
    def of(cls, name: str, data: bytes, **fields: str | int | None) -> CapturedRecord:
        """The record ``name`` (e.g. ``finger/right-index.fir``) holding ``data``; ``fields``
        are the manifest entry's other fields (modality, kind, format, position, quality...)."""
        return cls(record_for(name, data, **fields), data)


@dataclass(frozen=True)
class Enrolment:
    application: Application
    operator_id: str
    captured_at: str
    records: list[CapturedRecord]
    exceptions: list[BiometricException] = field(default_factory=list)
    source: str = "operator"

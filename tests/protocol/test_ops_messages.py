"""Messages of fleet operations: configuration, reconciliation, application status."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import topics
from protocol.errors import MessageError
from protocol.messages import parse_message
from protocol.ops_messages import (
    ApplicationStatus,
    ConfigApplied,
    DesiredConfig,
    ReconciliationDay,
    ReconciliationReport,
    count_ranges,
    expand_ranges,
    format_ranges,
    seq_ranges,
)
from protocol.station_config import StationConfig, config_sha256


@given(st.sets(st.integers(min_value=1, max_value=500)))
def test_ranges_round_trip(seqs: set[int]) -> None:
    ranges = seq_ranges(seqs)
    assert expand_ranges(ranges) == seqs
    assert count_ranges(ranges) == len(seqs)
    ReconciliationDay(day="2026-11-26", created=len(seqs), seqs=ranges)  # valid as sent


def test_ranges_for_people() -> None:
    assert format_ranges(seq_ranges([1, 2, 3, 5, 9, 10])) == "1-3,5,9-10"


@pytest.mark.parametrize("bad", [[[3, 1]], [[1, 2], [3, 4]], [[4, 5], [1, 2]], [[0, 1]]])
def test_malformed_ranges_are_refused(bad: list[list[int]]) -> None:
    with pytest.raises(ValueError):
        ReconciliationDay.model_validate({"day": "2026-11-26", "created": 1, "seqs": bad})


def test_config_hash_covers_defaults_and_is_stable() -> None:
    explicit = StationConfig.model_validate({"capture": {"attempts": 3}})
    assert config_sha256(explicit) == config_sha256(StationConfig())
    changed = StationConfig.model_validate({"capture": {"attempts": 4}})
    assert config_sha256(changed) != config_sha256(StationConfig())


def test_desired_config_refuses_unknown_keys_naming_them() -> None:
    good = DesiredConfig(
        station_id="mu-01",
        version=1,
        sha256=config_sha256(StationConfig()),
        issued_at="2026-11-26T01:00:00.000Z",
        config=StationConfig(),
    )
    assert parse_message(DesiredConfig, good.to_payload()) == good
    bad = good.to_payload().replace(b'"attempts"', b'"atempts"')
    with pytest.raises(MessageError, match=r"config\.capture\.atempts"):
        parse_message(DesiredConfig, bad)


def test_other_messages_round_trip() -> None:
    for message in (
        ConfigApplied(
            station_id="mu-01",
            version=2,
            sha256="a" * 64,
            status="refused",
            desired_version=3,
            error="capture.attempts: too many",
            applied_at="2026-11-26T01:00:00.000Z",
        ),
        ReconciliationReport(
            station_id="mu-01",
            at="2026-11-26T01:00:00.000Z",
            last_seq=5,
            created_total=4,
            days=[ReconciliationDay(day="2026-11-26", created=4, seqs=[(1, 2), (4, 5)])],
            missing=[(3, 3)],
        ),
        ApplicationStatus(
            station_id="mu-01",
            application_number="WP-MU-01-000001",
            status="rejected",
            reason="documents incomplete",
            at="2026-11-26T01:00:00.000Z",
        ),
    ):
        assert parse_message(type(message), message.to_payload()) == message


def test_new_up_topics_are_publishable_by_the_station_only_under_its_prefix() -> None:
    publish = {e.topic for e in topics.acl_for_station("mu-01") if e.acltype == "publishClientSend"}
    assert "ewp/v1/stations/mu-01/config-applied" in publish
    assert "ewp/v1/stations/mu-01/reconciliation" in publish
    fleet_subscribe = {e.topic for e in topics.acl_for_fleet() if e.acltype == "subscribePattern"}
    assert "$share/+/ewp/v1/stations/+/reconciliation" in fleet_subscribe

"""Topic names, the ACL derived from them, and message schemas."""

from __future__ import annotations

import pytest

from protocol import topics
from protocol.errors import MessageError
from protocol.messages import DiskHealth, Heartbeat, QueueHealth, Receipt, parse_message


def test_station_acl_allows_only_own_up_topics_to_publish() -> None:
    acl = topics.acl_for_station("mu-01")
    publish = {e.topic for e in acl if e.acltype == "publishClientSend"}
    subscribe = {e.topic for e in acl if e.acltype == "subscribePattern"}
    assert "ewp/v1/stations/mu-01/packets/+" in publish
    assert "ewp/v1/stations/mu-01/resume" in publish
    assert "ewp/v1/stations/mu-01/resume-answer" not in publish  # nor answers to its queries
    assert "ewp/v1/stations/mu-01/receipts" not in publish  # a station cannot forge receipts
    assert "ewp/v1/stations/mu-01/config" not in publish
    assert subscribe == {
        "ewp/v1/stations/mu-01/receipts",
        "ewp/v1/stations/mu-01/resume-answer",
        "ewp/v1/stations/mu-01/commands",
        "ewp/v1/stations/mu-01/config",
        "ewp/v1/stations/mu-01/app-status",
        "ewp/v1/stations/mu-01/preregistrations",
        "ewp/v1/stations/mu-01/update",
    }
    assert all(t.startswith("ewp/v1/stations/mu-01/") for t in publish | subscribe)


@pytest.mark.parametrize("bad", ["", "A", "mu_01", "mu/01", "+", "#", "-mu", "x" * 64])
def test_station_ids_that_would_break_topics_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="station id"):
        topics.station_prefix(bad)


def test_parse_station_topic() -> None:
    assert topics.parse_station_topic("ewp/v1/stations/ct-12/packets/ab") == ("ct-12", "packets/ab")
    with pytest.raises(ValueError):
        topics.parse_station_topic("ewp/v1/stations/CT/heartbeat")


def test_messages_round_trip_and_reject_unknown_fields() -> None:
    hb = Heartbeat(
        station_id="mu-01",
        at="2026-11-25T08:00:00.000Z",
        seq=3,
        uptime_s=12.5,
        software_version="0.1.0",
        queue=QueueHealth(
            pending=2,
            sending=1,
            acked=5,
            pending_bytes=600_000,
            oldest_pending_age_s=3600,
            created_total=8,
            last_seq=8,
        ),
        disk=DiskHealth(free_bytes=10, total_bytes=20),
    )
    assert parse_message(Heartbeat, hb.to_payload()) == hb
    with pytest.raises(MessageError, match=r"Receipt: .*typo: Extra inputs are not permitted"):
        parse_message(Receipt, b'{"typo": 1}')
    with pytest.raises(MessageError):
        parse_message(Receipt, b"not json")

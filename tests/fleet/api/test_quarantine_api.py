"""GET /api/v1/quarantine: what ingest quarantined, newest first, filtered by station, the
payload shown only as size, sha256 and an escaped preview. Messages quarantined through the
real ingest path (a store that refuses them), on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fleet.ingest import Ingest
from fleet.quarantine_list import escape_bytes, escape_text
from protocol import topics
from protocol.envelope import utc_timestamp
from tests.fleet.api_helpers import api_rig
from tests.fleet.test_ingest_dispatch import GOOD, HOSTILE, event, poison_the_store

OTHER = "st-hostile-2"


def hostile_event(station_id: str) -> tuple[str, bytes]:
    """A poison event whose payload carries markup and a right-to-left override (valid JSON,
    raw UTF-8): nothing of it may come back unescaped."""
    payload = json.dumps(
        {"kind": "poison", "detail": {"note": "<b>\u202e"}, "station_id": station_id,
         "at": utc_timestamp(), "severity": "info"},
        ensure_ascii=False,
    ).encode()  # fmt: skip
    return topics.EVENTS.for_station(station_id), payload


def quarantine_three(ingest: Ingest) -> bytes:
    """Quarantines the hostile event of HOSTILE, then one of OTHER, then HOSTILE's again;
    returns the hostile payload."""
    first = hostile_event(HOSTILE)
    assert ingest.dispatch([first, event(GOOD, "door-opened")]) == []
    assert ingest.dispatch([event(OTHER, "poison")]) == []
    assert ingest.dispatch([first]) == []
    assert ingest.counters.quarantined == 3
    return first[1]


def test_admins_list_the_quarantine_newest_first(tmp_path: Path, database_url: str) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        for station in (HOSTILE, GOOD, OTHER):
            rig.station(station)
        with rig.client("admin") as admin:
            assert admin.get("/api/v1/quarantine").json() == []
        poison_the_store(rig.sessions)
        payload = quarantine_three(rig.ingest)
        with rig.client("admin") as admin, rig.client("operator") as operator:
            assert operator.get("/api/v1/quarantine").status_code == 403
            listed = admin.get("/api/v1/quarantine").json()
            assert [m["station_id"] for m in listed] == [HOSTILE, OTHER, HOSTILE]
            assert listed[0]["id"] > listed[1]["id"] > listed[2]["id"]
            newest = listed[0]
            assert newest["topic"] == topics.EVENTS.for_station(HOSTILE)
            assert newest["size"] == len(payload)
            assert newest["sha256"] == hashlib.sha256(payload).hexdigest()
            assert newest["reason"] and "poisoned" in newest["detail"]
            preview = newest["preview"]
            assert preview == escape_bytes(payload[:64])
            assert preview.startswith("{\\x22kind\\x22: \\x22poison\\x22")
            assert "\\x3cb\\x3e\\xe2\\x80\\xae" in preview, "markup and U+202E escaped"
            assert "<" not in preview and "\u202e" not in preview
            assert "payload" not in newest and "excerpt" not in newest
            only = admin.get("/api/v1/quarantine", params={"station_id": OTHER}).json()
            assert [m["id"] for m in only] == [listed[1]["id"]]
            assert admin.get("/api/v1/quarantine", params={"station_id": GOOD}).json() == []
            one = admin.get("/api/v1/quarantine", params={"limit": 1}).json()
            assert [m["id"] for m in one] == [newest["id"]]
            for bad in ({"limit": 0}, {"limit": 1001}, {"station_id": "x" * 64}):
                assert admin.get("/api/v1/quarantine", params=bad).status_code == 422


def test_escaping_leaves_nothing_raw() -> None:
    every_byte = bytes(range(256))
    shown = escape_bytes(every_byte)
    assert shown.isascii() and shown.isprintable()
    assert not set(shown) & set("<>&\"'`\\\n\r\x1b") - {"\\"}
    assert shown.count("\\x") == 256 - len(
        [b for b in every_byte if chr(b).isalnum() and b < 0x80]
    ) - len(" !#$%()*+,-./:;=?@[]^_{|}~")
    text = escape_text("st\x1b[31m<script>\u202e\U0001f600\\")
    assert text == "st\\x1b[31m\\x3cscript\\x3e\\u202e\\U0001f600\\x5c"

"""The public status page: Thai and English, the same answer for unknown and wrong, rate
limits, and no passport number anywhere in the store."""

from __future__ import annotations

from pathlib import Path

from tests.fleet.api.test_central_api import store_packets
from tests.fleet.api_helpers import ApiRig, api_rig

PASSPORT = "MM1234567"


def registered(rig: ApiRig) -> None:
    (sealed,) = store_packets(rig, "mu-01", 1)
    with rig.client("central") as central:
        for status, reason in (("received", None), ("rejected", "documents incomplete")):
            central.post(
                "/api/v1/central/application-status",
                json={"application_number": "WP-MU-01-000001", "status": status,
                      "reason": reason, "packet_id": sealed.packet_id,
                      "passport_number": PASSPORT},
            ).raise_for_status()  # fmt: skip


def test_an_applicant_sees_the_status_in_thai_and_english(tmp_path: Path) -> None:
    with api_rig(tmp_path) as rig:
        registered(rig)
        with rig.client(None) as public:  # no login
            form = public.get("/status")
            assert form.status_code == 200 and "ตรวจสอบสถานะคำขอใบอนุญาตทำงาน" in form.text
            assert "Check your work permit application" in public.get("/status?lang=en").text
            assert form.headers["cache-control"] == "no-store"
            thai = public.post("/status", data={"application_number": "WP-MU-01-000001",
                                                "passport_number": "mm 123-4567"})  # fmt: skip
            english = public.post(
                "/status",
                data={"application_number": "WP-MU-01-000001", "passport_number": PASSPORT,
                      "lang": "en"},
            )  # fmt: skip
            api = public.post("/api/v1/public/application-status",
                              json={"application_number": "WP-MU-01-000001",
                                    "passport_number": PASSPORT})  # fmt: skip
        assert thai.status_code == 200 and "ไม่อนุมัติ" in thai.text and "Rejected" in thai.text
        assert "documents incomplete" in thai.text
        assert english.status_code == 200 and 'class="status">Rejected<' in english.text
        assert api.json()["status"] == "rejected" and api.json()["status_th"] == "ไม่อนุมัติ"
        assert PASSPORT not in thai.text  # never echoed back


def test_unknown_application_and_wrong_passport_look_the_same(tmp_path: Path) -> None:
    with api_rig(tmp_path) as rig:
        registered(rig)
        with rig.client(None) as public:
            wrong = public.post("/status", data={"application_number": "WP-MU-01-000001",
                                                 "passport_number": "XX9999999"})  # fmt: skip
            unknown = public.post("/status", data={"application_number": "WP-NONE-000001",
                                                   "passport_number": "XX9999999"})  # fmt: skip
            api_wrong = public.post("/api/v1/public/application-status",
                                    json={"application_number": "WP-MU-01-000001",
                                          "passport_number": "XX9999999"})  # fmt: skip
            api_unknown = public.post("/api/v1/public/application-status",
                                      json={"application_number": "WP-NONE-000001",
                                            "passport_number": "XX9999999"})  # fmt: skip
        assert wrong.status_code == unknown.status_code == 200
        assert wrong.text.replace("WP-MU-01-000001", "X") == unknown.text.replace(
            "WP-NONE-000001", "X"
        )
        assert "ไม่พบคำขอ" in wrong.text
        assert api_wrong.status_code == api_unknown.status_code == 404
        assert api_wrong.json() == api_unknown.json()


def test_lookups_are_rate_limited_per_client(tmp_path: Path) -> None:
    with api_rig(
        tmp_path, "[status_page]\nrate_limit_per_minute = 2\nrate_limit_burst = 3\n"
    ) as rig:
        with rig.client(None) as public:
            query = {"application_number": "WP-X-1", "passport_number": "AB12345"}
            codes = [
                public.post("/api/v1/public/application-status", json=query).status_code
                for _ in range(4)
            ]
            page = public.post("/status", data=query)
        assert codes == [404, 404, 404, 429]
        assert page.status_code == 429 and int(page.headers["retry-after"]) >= 1
        assert "มีการตรวจสอบ" in page.text


def test_the_passport_number_is_not_in_the_store(tmp_path: Path) -> None:
    with api_rig(tmp_path) as rig:
        registered(rig)
        rig.context.engine.dispose()  # flush the WAL into the file
        stored = b"".join(p.read_bytes() for p in (tmp_path / "fleet").glob("fleet.sqlite*"))
    assert PASSPORT.encode() not in stored
    assert b"WP-MU-01-000001" in stored


def test_the_page_can_be_turned_off(tmp_path: Path) -> None:
    with api_rig(tmp_path, "[status_page]\nenabled = false\n") as rig, rig.client(None) as public:
        assert public.get("/status").status_code == 404
        query = {"application_number": "WP-X-1", "passport_number": "AB12345"}
        assert public.post("/api/v1/public/application-status", json=query).status_code == 404

"""ANSI/NIST-ITL 1-2011 export: tagged fields as the standard lays them out, read by nistitl."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import nistitl
import numpy as np
import pytest

from edge.agent.biometric_records import finger_record
from fleet.nist_export import FS, GS, RS, US, ExportError, export_transaction
from protocol.enrolment import (
    Applicant,
    Application,
    Employer,
    EnrolmentManifest,
    record_for,
)
from simulators.fingerprint_images import (
    FingerIdentity,
    FingerPosition,
    PressConditions,
    render_press,
)

MOMENT = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


def application(employer: str = "บริษัท ตัวอย่าง จำกัด") -> Application:
    return Application(
        application_number="WP-MU-01-000001",
        kind="renewal",
        applicant=Applicant(
            given_name="Aung",
            family_name="Min Thu",
            passport_number="MA1234567",
            nationality="MMR",
            date_of_birth="1990-01-02",
            sex="M",
        ),
        employer=Employer(juristic_id="0105551234567", name=employer),
        job_type="construction",
        work_province="Chon Buri",
    )


def manifest(files: dict[str, bytes], app: Application | None = None) -> EnrolmentManifest:
    records = []
    for name, data in files.items():
        if name.endswith(".fir"):
            records.append(
                record_for(
                    name,
                    data,
                    modality="finger",
                    kind="image",
                    format="iso19794-4:2011",
                    position=name[7:-4],
                )
            )
        else:
            records.append(
                record_for(
                    name,
                    data,
                    modality="finger",
                    kind="template",
                    format="r30x-char-512",
                    position="right-index",
                )
            )
    return EnrolmentManifest(
        station_id="mu-01",
        packet_id="d" * 32,
        seq=3,
        captured_at="2026-05-06T07:08:09Z",
        operator_id="op-1",
        software_version="test",
        application=app or application(),
        records=records,
    )


def one_finger() -> dict[str, bytes]:
    pixels = render_press(
        FingerIdentity(3, FingerPosition.RIGHT_INDEX),
        PressConditions.draw(np.random.default_rng(3), poor=False),
        3,
    )
    record = finger_record(pixels, 256, 288, position="right-index", captured_at=MOMENT)
    return {record.entry.name: record.data, "finger/right-index.template": bytes(512)}


def test_every_record_length_field_is_exact() -> None:
    files = one_finger()
    data = export_transaction(manifest(files), files, created_at=MOMENT)
    offset = 0
    seen = []
    while offset < len(data):
        match = re.match(rb"(\d+)\.001:(\d+)\x1d", data[offset:])
        assert match, data[offset : offset + 20]
        length = int(match.group(2))
        assert data[offset + length - 1 : offset + length] == FS
        seen.append(int(match.group(1)))
        offset += length
    assert offset == len(data)
    assert seen == [1, 2, 14], "the module template is not exported"


def test_type1_and_type2_fields() -> None:
    files = one_finger()
    data = export_transaction(
        manifest(files), files, created_at=MOMENT, destination_agency="THDOE0001"
    )
    message = nistitl.Message()
    message.parse(data)
    type1 = message[0]
    assert type1["VER"].value == "0500"
    assert type1[4].value == "EWPENR"
    assert type1[5].value == "20260506"
    assert type1[7].value == "THDOE0001" and type1[8].value == "mu-01"
    assert type1[14].value == "20260506070809Z"
    assert (
        type1[3].NIST == b"1.003:1" + US + b"2" + RS + b"2" + US + b"00" + RS + b"14" + US + b"01"
    )
    assert type1[15].NIST == b"1.015:3" + US + b"UTF-8"
    type2 = message[(2, "00")]
    assert type2[3].value == "WP-MU-01-000001"
    assert type2[18].NIST == b"2.018:Min Thu" + US + b"Aung"
    assert type2[21].value == "MMR" and type2[22].value == "19900102"
    # Text is UTF-8 (declared in 1.015); nistitl hands back the bytes as Latin-1.
    assert type2[31].value.encode("latin-1").decode("utf-8") == "บริษัท ตัวอย่าง จำกัด"
    type14 = message[(14, "01")]
    assert type14[13].value == "2" and type14[3].value == "0"


def test_text_with_a_separator_is_refused() -> None:
    files = one_finger()
    with pytest.raises(ExportError, match="separator"):
        export_transaction(manifest(files, application(employer="A\x1dB")), files)


def test_a_transaction_without_images_still_carries_type1_and_type2() -> None:
    data = export_transaction(manifest({}), {}, created_at=MOMENT)
    message = nistitl.Message()
    message.parse(data)
    assert [r.type for r in message] == [1, 2]
    assert GS in data

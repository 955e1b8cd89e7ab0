"""The enrolment archive inside a sealed packet."""

from __future__ import annotations

import io
import zipfile

import pytest

from protocol.enrolment import (
    Application,
    ContentError,
    EnrolmentManifest,
    build_archive,
    read_archive,
    record_for,
)

APPLICATION = Application.model_validate(
    {
        "application_number": "WP-2026-000123",
        "kind": "new",
        "applicant": {
            "given_name": "Aung",
            "family_name": "Kyaw",
            "passport_number": "MA1234567",
            "nationality": "MMR",
            "date_of_birth": "1995-04-12",
        },
        "employer": {"juristic_id": "0105555012345", "name": "Siam Fresh Foods Co., Ltd."},
        "job_type": "food processing labourer",
        "work_province": "Samut Sakhon",
    }
)


def _manifest(files: dict[str, bytes]) -> EnrolmentManifest:
    return EnrolmentManifest(
        station_id="mu-01",
        packet_id="ab" * 16,
        seq=1,
        captured_at="2026-11-25T08:00:00.000Z",
        operator_id="op-7",
        software_version="0.1.0",
        application=APPLICATION,
        records=[
            record_for(
                name,
                data,
                modality="finger",
                kind="image",
                format="image/png",
                position="right-index",
            )
            for name, data in files.items()
        ],
    )


def test_archive_round_trip_is_deterministic() -> None:
    files = {"finger/right-index.png": b"\x89PNG fake image"}
    data = build_archive(_manifest(files), files)
    assert data == build_archive(_manifest(files), files)
    manifest, read = read_archive(data)
    assert read == files
    assert manifest.application.applicant.family_name == "Kyaw"


def test_archive_with_a_swapped_record_is_refused() -> None:
    files = {"finger/right-index.png": b"original"}
    data = build_archive(_manifest(files), files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buffer, "w") as dst:
        dst.writestr("manifest.json", src.read("manifest.json"))
        dst.writestr("finger/right-index.png", b"swapped!")
    with pytest.raises(ContentError, match="does not match its manifest entry"):
        read_archive(buffer.getvalue())


def test_records_and_files_must_agree() -> None:
    files = {"finger/right-index.png": b"x"}
    with pytest.raises(ContentError, match="do not match the files"):
        build_archive(_manifest(files), {"other.png": b"x"})


def test_not_a_zip() -> None:
    with pytest.raises(ContentError, match="not a ZIP"):
        read_archive(b"plain text")

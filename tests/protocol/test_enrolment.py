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
        "employer": {"juristic_id": "0105555012348", "name": "Siam Fresh Foods Co., Ltd."},
        "job_type": "food-processing",
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


def _with(**changes: object) -> dict[str, object]:
    data = APPLICATION.model_dump(mode="json")
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]  # type: ignore[assignment]
        target[last] = value  # type: ignore[index]
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"applicant__passport_number": "AB12"}, "6 to 9 capital letters"),
        ({"applicant__passport_number": "ABCDEFGH"}, "at least one digit"),
        ({"applicant__nationality": "XXX"}, "not a nationality code"),
        ({"applicant__date_of_birth": "2099-01-01"}, "in the future"),
        ({"applicant__date_of_birth": "2020-01-01"}, "needs 15+"),
        ({"applicant__given_name": "Aung2"}, "letters, not digits"),
        ({"employer__juristic_id": "0105555012345"}, "fails its check digit"),
        ({"employer__juristic_id": "12345"}, "has 13 digits"),
        ({"job_type": "astronaut"}, "unknown job type"),
        ({"work_province": "Atlantis"}, "not a Thai province"),
    ],
)
def test_application_fields_are_validated_with_clear_messages(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Application.model_validate(_with(**changes))


def test_province_names_become_codes_and_passports_are_normalised() -> None:
    app = Application.model_validate(
        _with(work_province="สมุทรสาคร", applicant__passport_number=" ma1234567 ")
    )
    assert app.work_province == "TH-74"
    assert app.applicant.passport_number == "MA1234567"


def test_reference_lists_are_complete() -> None:
    from protocol.reference_data import job_types, nationalities, provinces

    assert len(provinces()) == 77
    assert {"MMR", "KHM", "LAO", "VNM", "THA"} <= set(nationalities())
    assert nationalities()["MMR"].th and provinces()["TH-10"].th == "กรุงเทพมหานคร"
    assert job_types()

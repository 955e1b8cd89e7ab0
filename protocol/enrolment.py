"""What is inside a sealed enrolment packet: a manifest and the biometric records.

The plaintext that gets sealed is a ZIP archive (readable by any tool once the central system
has decrypted it) holding ``manifest.json`` first, then one file per biometric record. The
manifest lists every record with its SHA-256, so the central side can check that nothing was
lost or swapped; the manifest's station id, packet id and sequence number must match the signed
packet header.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from protocol.errors import ProtocolError
from protocol.reference_data import job_types, nationalities, province_by_name, valid_thai_id

ENROLMENT_FORMAT = "ewp-enrolment/1"
MANIFEST_NAME = "manifest.json"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# A record's name in the archive, and the path it is extracted to under the packet's folder:
# at most one folder and a file name, each starting with a letter or digit, dots only between
# parts of the file name (so never ``..``, never a leading ``/`` or ``.``), 128 characters at
# most. Checked when a packet is built, when its content is read, and again on extraction.
RECORD_NAME_LEN = 128
RECORD_NAME_RE = re.compile(
    r"^(?:[a-z0-9][a-z0-9_-]*/)?[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*$"
)
MAX_ARCHIVE_MEMBERS = 64
MAX_MEMBER_SIZE = 16 * 1024 * 1024
MIN_WORKING_AGE = 15
_PASSPORT = re.compile(r"^[A-Z0-9]{6,9}$")


class ContentError(ProtocolError):
    """Decrypted content that is not a well-formed enrolment."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Applicant(Strict):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    passport_number: str = Field(description="6-9 capital letters and digits (ICAO 9303)")
    nationality: str = Field(description="ISO 3166-1 alpha-3, from protocol/data")
    date_of_birth: date
    sex: Literal["F", "M", "X"] = "X"

    @field_validator("given_name", "family_name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value or any(ch.isdigit() for ch in value):
            raise ValueError("a name has letters, not digits")
        return value

    @field_validator("passport_number")
    @classmethod
    def _passport(cls, value: str) -> str:
        value = value.strip().upper()
        if not _PASSPORT.fullmatch(value) or not any(ch.isdigit() for ch in value):
            raise ValueError(
                "a passport number is 6 to 9 capital letters and digits, with at least one "
                "digit, as printed on the passport's data page"
            )
        return value

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in nationalities():
            raise ValueError(f"{value!r} is not a nationality code from the list (e.g. MMR)")
        return value

    @field_validator("date_of_birth")
    @classmethod
    def _born(cls, value: date) -> date:
        today = date.today()
        age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
        if value > today:
            raise ValueError("the date of birth is in the future")
        if age < MIN_WORKING_AGE:
            raise ValueError(f"the applicant is {age}: a work permit needs {MIN_WORKING_AGE}+")
        if age > 100:
            raise ValueError("the date of birth is more than 100 years ago: check the year")
        return value


class Employer(Strict):
    juristic_id: str = Field(description="13-digit Thai juristic or national id")
    name: str = Field(min_length=1, max_length=200)

    @field_validator("juristic_id")
    @classmethod
    def _thai_id(cls, value: str) -> str:
        value = value.replace("-", "").replace(" ", "")
        if not (len(value) == 13 and value.isdigit()):
            raise ValueError("the employer's id has 13 digits")
        if not valid_thai_id(value):
            raise ValueError("the employer's 13-digit id fails its check digit: re-read it")
        return value


ApplicationKind = Literal["new", "renewal", "change-employer", "notification"]
APPLICATION_KINDS: tuple[ApplicationKind, ...] = get_args(ApplicationKind)
# The applicant's fields in the order a form asks for them (the terminal's and the kiosk's).
APPLICANT_FIELDS: tuple[str, ...] = tuple(Applicant.model_fields)


class Application(Strict):
    application_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{4,32}$")]
    kind: ApplicationKind
    applicant: Applicant
    employer: Employer
    job_type: str = Field(description="a job type code from protocol/data/job_types.json")
    work_province: str = Field(description="ISO 3166-2:TH province code, e.g. TH-74")

    @field_validator("job_type")
    @classmethod
    def _job(cls, value: str) -> str:
        if value not in job_types():
            raise ValueError(f"unknown job type {value!r}; choose from {sorted(job_types())}")
        return value

    @field_validator("work_province")
    @classmethod
    def _province(cls, value: str) -> str:
        province = province_by_name(value)
        if province is None:
            raise ValueError(f"{value!r} is not a Thai province (code like TH-74 or its name)")
        return province.code


class BiometricRecord(Strict):
    name: Annotated[
        str, StringConstraints(max_length=RECORD_NAME_LEN, pattern=RECORD_NAME_RE.pattern)
    ]

    @field_validator("name")
    @classmethod
    def _not_the_manifest(cls, value: str) -> str:
        if value == MANIFEST_NAME:
            raise ValueError(f"a record may not be called {MANIFEST_NAME}")
        return value

    modality: Literal["finger", "iris"]
    kind: Literal["image", "template"]
    format: str = Field(min_length=1, max_length=64)
    position: str = Field(min_length=1, max_length=32)
    quality: int | None = Field(default=None, ge=0, le=100)
    quality_algorithm: str | None = None
    attempts: int = Field(default=1, ge=1)
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    resolution_ppi: int | None = Field(default=None, ge=1)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    size: int = Field(ge=0)


class BiometricException(Strict):
    modality: Literal["finger", "iris"]
    position: str = Field(min_length=1, max_length=32)
    reason: Literal["missing", "amputated", "bandaged", "unusable", "other"]
    note: str = Field(default="", max_length=500)


class EnrolmentManifest(Strict):
    format: Literal["ewp-enrolment/1"] = "ewp-enrolment/1"
    station_id: str
    packet_id: str
    seq: int = Field(ge=1)
    captured_at: str
    operator_id: str = Field(min_length=1, max_length=64)
    source: Literal["operator", "autopilot"] = "operator"
    software_version: str
    application: Application
    records: list[BiometricRecord] = Field(default_factory=list)
    exceptions: list[BiometricException] = Field(default_factory=list)


def check_record_name(name: str) -> None:
    """Raise ContentError unless ``name`` follows ``RECORD_NAME_RE`` (and is not the
    manifest's name)."""
    if len(name) > RECORD_NAME_LEN or not RECORD_NAME_RE.fullmatch(name) or name == MANIFEST_NAME:
        raise ContentError(
            f"record name {name[:200]!r} is not allowed: lower-case letters, digits, '-' and "
            "'_', at most one folder, dots only within the file name"
        )


def record_for(name: str, data: bytes, **fields: str | int | None) -> BiometricRecord:
    """A manifest entry for the file ``name`` holding ``data`` (hash and size filled in)."""
    return BiometricRecord.model_validate(
        {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), **fields}
    )


def build_archive(manifest: EnrolmentManifest, files: dict[str, bytes]) -> bytes:
    """The plaintext to seal: ``manifest.json`` first, then the record files, deterministic."""
    listed = {r.name: r for r in manifest.records}
    for name in files:
        check_record_name(name)
    if set(listed) != set(files):
        raise ContentError(
            f"manifest records {sorted(listed)} do not match the files {sorted(files)}"
        )
    for name, data in files.items():
        # Hashes are computed by whoever made the manifest entries (record_for); the sizes are
        # a cheap check that files and entries were not mixed up. read_archive checks hashes.
        if len(data) != listed[name].size:
            raise ContentError(
                f"record {name}: {len(data)} bytes, the manifest says {listed[name].size}"
            )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(MANIFEST_NAME, date_time=_ZIP_EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, manifest.model_dump_json(indent=1))
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            # Images are already compressed (PNG, WSQ); templates are small: store them.
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def read_archive(data: bytes) -> tuple[EnrolmentManifest, dict[str, bytes]]:
    """Parse and check decrypted content: every listed record present, intact, nothing else."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ContentError(f"content is not a ZIP archive: {exc}") from None
    with archive:
        infos = archive.infolist()
        if not infos or infos[0].filename != MANIFEST_NAME:
            raise ContentError("content does not start with manifest.json")
        if len(infos) > MAX_ARCHIVE_MEMBERS:
            raise ContentError(f"content has {len(infos)} members, at most 64 allowed")
        for info in infos:
            if info.file_size > MAX_MEMBER_SIZE:
                raise ContentError(f"{info.filename} is too large ({info.file_size} bytes)")
        try:
            manifest = EnrolmentManifest.model_validate_json(archive.read(MANIFEST_NAME))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ContentError(f"invalid manifest: {where}: {first['msg']}") from None
        names = [i.filename for i in infos[1:]]
        for name in names:
            check_record_name(name)
        listed = [r.name for r in manifest.records]
        if sorted(names) != sorted(listed):
            raise ContentError(f"archive files {sorted(names)} differ from manifest {listed}")
        files = {}
        for record in manifest.records:
            blob = archive.read(record.name)
            if len(blob) != record.size or hashlib.sha256(blob).hexdigest() != record.sha256:
                raise ContentError(f"record {record.name} does not match its manifest entry")
            files[record.name] = blob
    return manifest, files

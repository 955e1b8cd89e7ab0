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
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from protocol.errors import ProtocolError

ENROLMENT_FORMAT = "ewp-enrolment/1"
MANIFEST_NAME = "manifest.json"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,127}$")
MAX_ARCHIVE_MEMBERS = 64
MAX_MEMBER_SIZE = 16 * 1024 * 1024

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
EyePosition = Literal["left-eye", "right-eye"]


class ContentError(ProtocolError):
    """Decrypted content that is not a well-formed enrolment."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Applicant(Strict):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    passport_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{5,20}$")]
    nationality: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    date_of_birth: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d\d-\d\d$")]
    sex: Literal["F", "M", "X"] = "X"


class Employer(Strict):
    juristic_id: Annotated[str, StringConstraints(pattern=r"^\d{13}$")]
    name: str = Field(min_length=1, max_length=200)


ApplicationKind = Literal["new", "renewal", "change-employer", "notification"]


class Application(Strict):
    application_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{4,32}$")]
    kind: ApplicationKind
    applicant: Applicant
    employer: Employer
    job_type: str = Field(min_length=1, max_length=100)
    work_province: str = Field(min_length=1, max_length=100)


class BiometricRecord(Strict):
    name: Annotated[str, StringConstraints(pattern=_SAFE_NAME.pattern)]
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


def record_for(name: str, data: bytes, **fields: str | int | None) -> BiometricRecord:
    """A manifest entry for the file ``name`` holding ``data`` (hash and size filled in)."""
    return BiometricRecord.model_validate(
        {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), **fields}
    )


def build_archive(manifest: EnrolmentManifest, files: dict[str, bytes]) -> bytes:
    """The plaintext to seal: ``manifest.json`` first, then the record files, deterministic."""
    listed = {r.name: r for r in manifest.records}
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

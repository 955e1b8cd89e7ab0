"""ANSI/NIST-ITL 1-2011 transaction export of an opened enrolment (traditional encoding).

The central side turns an opened packet (manifest + files, from ``fleet.central``) into one
ANSI/NIST-ITL transaction, the format AFIS and ABIS systems ingest:

* **Type-1** transaction information: version 0500 (ANSI/NIST-ITL 1-2011), the record list,
  transaction type, dates, agencies, the packet id as transaction control number, our domain;
* **Type-2** user-defined descriptive text, domain ``EWP`` (table in
  docs/biometric-records.md): application number and kind, names, nationality, date of birth,
  sex, passport, employer, job, province, station, operator, capture time;
* **Type-14** variable-resolution fingerprint image, one per ISO 19794-4 finger record: the
  WSQ image copied as it is (no recompression), finger position, 500 ppi, quality metric;
* **Type-17** iris image, one per ISO 19794-6 iris record: the PNG copied as it is, eye label,
  size, quality score.

Traditional encoding: each field ``<record type>.<field number>:<value>``, fields separated by
GS (0x1D), subfields by RS (0x1E), information items by US (0x1F), each record ended by FS
(0x1C); the image field (``.999``) is last and holds the bytes as they are. Text is UTF-8,
declared in field 1.015 (DCS).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from protocol.enrolment import EnrolmentManifest
from protocol.iso19794 import EWP_VENDOR_ID, QUALITY_FAILED, QualityBlock
from protocol.iso19794_4 import RECORD_FORMAT as FINGER_RECORD_FORMAT
from protocol.iso19794_4 import Compression, FingerImage, decode_finger_record
from protocol.iso19794_6 import RECORD_FORMAT as IRIS_RECORD_FORMAT
from protocol.iso19794_6 import ImageFormat, IrisImage, decode_iris_record

FS, GS, RS, US = b"\x1c", b"\x1d", b"\x1e", b"\x1f"
VERSION = "0500"  # ANSI/NIST-ITL 1-2011
TRANSACTION_TYPE = "EWPENR"  # ewp enrolment
DOMAIN = "EWP"
DOMAIN_VERSION = "1.0"

# Compression codes of Table 15 (CGA) by ISO 19794 compression.
_FINGER_CGA = {Compression.WSQ: "WSQ20", Compression.PNG: "PNG", Compression.UNCOMPRESSED: "NONE"}
_IRIS_CGA = {ImageFormat.MONO_PNG: "PNG", ImageFormat.MONO_RAW: "NONE"}

Field = tuple[int, bytes]  # field number, encoded value


class ExportError(Exception):
    """The enrolment cannot be expressed as an ANSI/NIST-ITL transaction."""


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    if any(b in data for b in (FS, GS, RS, US)):
        raise ExportError(f"text {value!r} holds an ANSI/NIST-ITL separator character")
    return data


def _image_fields(
    first: str,
    origin: str,
    image: FingerImage | IrisImage,
    *,
    scale: str,
    resolution: str,
    cga: str,
) -> list[Field]:
    """Fields 3-12 of a Type-14 or Type-17 record: ``first`` (the impression type, or the
    eye), the originating agency, capture date, size, scale, resolution, compression, depth."""
    return [
        (3, first.encode()),
        (4, _text(origin)),
        (5, image.captured_at.strftime("%Y%m%d").encode()),
        (6, str(image.width).encode()),
        (7, str(image.height).encode()),
        (8, scale.encode()),
        (9, resolution.encode()),
        (10, resolution.encode()),
        (11, cga.encode()),
        (12, str(image.bit_depth).encode()),
    ]


def _items(*subfields: Iterable[str]) -> bytes:
    """Subfields separated by RS, each made of information items separated by US."""
    return RS.join(US.join(_text(item) for item in subfield) for subfield in subfields)


def _record(record_type: int, fields: list[Field]) -> bytes:
    """Encode a tagged-field record; field 1 (LEN) is computed, the ``999`` field goes last."""
    body = b""
    for number, value in sorted(fields, key=lambda f: f[0]):
        body += GS + f"{record_type}.{number:03d}:".encode() + value
    prefix = f"{record_type}.001:".encode()
    # LEN counts the whole record, its own digits included: find the fixed point.
    digits = 1
    while True:
        total = len(prefix) + digits + len(body) + len(FS)
        if len(str(total)) == digits:
            return prefix + str(total).encode() + body + FS
        digits = len(str(total))


def _quality_items(blocks: tuple[QualityBlock, ...]) -> list[list[str]]:
    """Quality value, algorithm vendor id (4 hex digits), product code; ours first."""
    return [
        [
            str(block.score if block.score != QUALITY_FAILED else 255),
            f"{block.vendor_id:04X}",
            str(block.algorithm_id),
        ]
        for block in sorted(blocks, key=lambda b: b.vendor_id != EWP_VENDOR_ID)
    ]


def export_transaction(
    manifest: EnrolmentManifest,
    files: dict[str, bytes],
    *,
    destination_agency: str = "THDOE",
    originating_agency: str | None = None,
    created_at: datetime | None = None,
) -> bytes:
    """One ANSI/NIST-ITL 1-2011 transaction for an opened enrolment.

    ``manifest`` and ``files`` are what ``fleet.central.open_and_check`` returns (or
    ``protocol.enrolment.read_archive``). Records other than ISO 19794-4/-6 images (module
    templates, for example) are not exported. The origin defaults to the station id.
    """
    moment = (created_at or datetime.now(UTC)).astimezone(UTC)
    application = manifest.application
    applicant = application.applicant
    origin = originating_agency or manifest.station_id
    images: list[tuple[int, list[Field]]] = []

    for record in manifest.records:
        if record.kind != "image":
            continue
        data = files[record.name]
        if record.format == FINGER_RECORD_FORMAT:
            finger = decode_finger_record(data)
            for image in finger.representations:
                cga = _FINGER_CGA.get(image.compression)
                if cga is None:
                    raise ExportError(f"{record.name}: compression {image.compression.name}")
                fields = _image_fields(
                    str(image.impression),
                    origin,
                    image,
                    scale=str(int(image.scale_units)),
                    resolution=str(image.resolution),
                    cga=cga,
                )
                fields += [(13, str(image.position).encode()), (999, image.image_data)]
                if image.quality:
                    # FQM: finger position ^ quality ^ vendor ^ product, one subfield each.
                    fields.append(
                        (
                            24,
                            _items(
                                *([str(image.position), *q] for q in _quality_items(image.quality))
                            ),
                        )
                    )
                if image.resolution != image.capture_resolution:
                    fields.append((16, str(image.capture_resolution).encode()))
                    fields.append((17, str(image.capture_resolution).encode()))
                images.append((14, fields))
        elif record.format == IRIS_RECORD_FORMAT:
            iris = decode_iris_record(data)
            for eye in iris.representations:
                cga = _IRIS_CGA.get(eye.image_format)
                if cga is None:
                    raise ExportError(f"{record.name}: image format {eye.image_format.name}")
                # No physical scale for the camera: pixel aspect ratio 1:1.
                fields = _image_fields(
                    str(int(eye.eye)), origin, eye, scale="0", resolution="1", cga=cga
                )
                fields += [(13, b"GRAY"), (999, eye.image_data)]
                if eye.quality:
                    fields.append((24, _items(*_quality_items(eye.quality))))
                if eye.iris.diameter_smallest:
                    diameter = (eye.iris.diameter_smallest + eye.iris.diameter_largest) // 2
                    fields.append((26, str(diameter).encode()))
                images.append((17, fields))

    type2: list[Field] = [
        (2, b"00"),
        (3, _text(application.application_number)),
        (4, _text(application.kind)),
        (5, _text(applicant.passport_number)),
        (18, _items([applicant.family_name, applicant.given_name])),
        (21, _text(applicant.nationality)),
        (22, _text(applicant.date_of_birth.strftime("%Y%m%d"))),
        (24, _text(applicant.sex)),
        (30, _text(application.employer.juristic_id)),
        (31, _text(application.employer.name)),
        (32, _text(application.job_type)),
        (33, _text(application.work_province)),
        (40, _text(manifest.station_id)),
        (41, _text(manifest.packet_id)),
        (42, _text(manifest.operator_id)),
        (43, _text(manifest.captured_at)),
    ]
    records = [(2, type2)]
    for idc, (record_type, fields) in enumerate(images, start=1):
        records.append((record_type, [(2, f"{idc:02d}".encode()), *fields]))

    content = [["1", str(len(records))]] + [
        [str(record_type), f"{idc:02d}"] for idc, (record_type, _) in enumerate(records)
    ]
    type1: list[Field] = [
        (2, VERSION.encode()),
        (3, _items(*content)),
        (4, TRANSACTION_TYPE.encode()),
        (5, moment.strftime("%Y%m%d").encode()),
        (7, _text(destination_agency)),
        (8, _text(origin)),
        (9, _text(manifest.packet_id)),
        (11, b"00.00"),  # no Type-4 records: native scanning resolution not given
        (12, b"00.00"),
        (13, _items([DOMAIN, DOMAIN_VERSION])),
        (14, moment.strftime("%Y%m%d%H%M%SZ").encode()),
        (15, _items(["3", "UTF-8"])),
    ]
    return _record(1, type1) + b"".join(_record(t, f) for t, f in records)

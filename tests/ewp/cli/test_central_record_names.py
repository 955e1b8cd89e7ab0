"""Record names: one strict pattern, on build, on reading the content, and on extraction
(`ewp central open --out` writes nothing outside --out, whatever a packet's records say)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError

from fleet.central import OpenedPacket, extract
from protocol.enrolment import (
    BiometricRecord,
    ContentError,
    EnrolmentManifest,
    build_archive,
    check_record_name,
    read_archive,
    record_for,
)
from protocol.envelope import seal_packet
from protocol.keys import CentralPrivateKey
from tests.ewp.cli.test_fleet_and_central_commands import ewp
from tests.protocol.test_enrolment import _manifest

GOOD = ["finger/right-thumb.fir", "iris/left.iir", "photo.png", "finger/right_index.template"]
BAD = [
    "x/../../../escaped.txt",
    "../escaped.txt",
    "finger/../../escaped",
    "/etc/passwd",
    "finger/left/thumb.fir",
    ".hidden",
    "finger/.fir",
    "finger/a..b",
    "finger//a",
    "finger\\..\\a",
    "Finger/A.fir",
    "manifest.json",
    "a" * 129,
    "",
]


@pytest.mark.parametrize("name", GOOD)
def test_names_of_one_folder_and_a_file_are_allowed(name: str) -> None:
    check_record_name(name)
    assert record_for(name, b"x", modality="finger", kind="image", format="f", position="p")


@pytest.mark.parametrize("name", BAD)
def test_traversal_and_deep_names_are_refused_on_build(name: str) -> None:
    with pytest.raises(ContentError):
        check_record_name(name)
    with pytest.raises(ValidationError):
        record_for(name, b"x", modality="finger", kind="image", format="f", position="p")


def hostile_manifest(name: str, data: bytes) -> EnrolmentManifest:
    """A manifest naming a record ``name`` as a hostile station's own code would build it
    (skipping the checks of this code base)."""
    manifest = _manifest({"finger/ok.fir": data})
    record = manifest.records[0].model_dump() | {"name": name}
    return manifest.model_copy(update={"records": [BiometricRecord.model_construct(**record)]})


def hostile_archive(name: str, data: bytes) -> bytes:
    manifest = hostile_manifest(name, data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", manifest.model_dump_json())
        archive.writestr(name, data)
    return buffer.getvalue()


def test_reading_content_with_a_traversal_name_is_refused() -> None:
    with pytest.raises(ContentError):
        read_archive(hostile_archive("x/../../../escaped.txt", b"boom"))
    with pytest.raises(ContentError):
        build_archive(_manifest({"finger/ok.fir": b"1"}), {"../x": b"1"})


def test_extraction_checks_every_path_again(tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = "x/../../../escaped.txt"
    central = CentralPrivateKey.generate("X25519")
    sealed = seal_packet(
        b"irrelevant",
        station_id="mu-01",
        packet_id="ab" * 16,
        seq=1,
        recipient=central.public_key(),
        signer=ed25519.Ed25519PrivateKey.generate(),
    )
    opened = OpenedPacket(sealed, hostile_manifest(name, b"boom"), {name: b"boom"}, False)
    with pytest.raises(ContentError):
        extract(opened, out)
    assert not (tmp_path / "escaped.txt").exists() and not list(tmp_path.rglob("escaped.txt"))
    # A symbolic link planted where the packet's folder goes.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    out.mkdir(exist_ok=True)
    os.symlink(outside, out / sealed.packet_id)
    good = OpenedPacket(sealed, _manifest({"finger/ok.fir": b"1"}), {"finger/ok.fir": b"1"}, False)
    with pytest.raises(ContentError):
        extract(good, out)
    assert list(outside.iterdir()) == []


def test_central_open_writes_nothing_outside_out(tmp_path: Path) -> None:
    """A packet from a station whose code was changed: a record name that walks up."""
    central = CentralPrivateKey.generate("X25519")
    key_file = tmp_path / "central.key"
    central.save(key_file)
    station = ed25519.Ed25519PrivateKey.generate()
    sealed = seal_packet(
        hostile_archive("x/../../../escaped.txt", b"boom"),
        station_id="mu-01",
        packet_id="ab" * 16,
        seq=1,
        recipient=central.public_key(),
        signer=station,
    )
    packet_file = tmp_path / "hostile.ewp"
    packet_file.write_bytes(sealed.to_bytes())
    out = tmp_path / "deep" / "out"
    result = ewp(
        "central", "open", "--key", str(key_file), "--file", str(packet_file), "--out", str(out),
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["ok"] is False and "records.0.name" in lines[0]["error"]
    assert not list(tmp_path.rglob("escaped.txt"))

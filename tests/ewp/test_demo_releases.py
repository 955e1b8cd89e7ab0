"""The rollout demo's builds: the next version's wheel says its version, the broken build
carries its one wrong default, and both keep a RECORD that matches what they hold."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from ewp.demo_releases import BROKEN_FILE, bump, release_version, versioned_wheel
from fleet.errors import FleetError
from tests.update_helpers import make_wheel

SETTINGS = Path(__file__).resolve().parents[2] / BROKEN_FILE


def _record_ok(z: zipfile.ZipFile, dist: str) -> bool:
    for line in z.read(f"{dist}/RECORD").decode().splitlines():
        path, digest, _ = line.split(",")
        if digest:
            data = hashlib.sha256(z.read(path)).digest()
            if digest != "sha256=" + base64.urlsafe_b64encode(data).rstrip(b"=").decode():
                return False
    return True


def test_versions() -> None:
    assert release_version("0.1.0+source") == "0.1.0" and release_version("2.3") == "2.3.0"
    assert bump("0.1.9") == "0.1.10"


@pytest.mark.parametrize("broken", [False, True])
def test_the_next_versions_wheel(tmp_path: Path, broken: bool) -> None:
    original = SETTINGS.read_text()
    files = {BROKEN_FILE: original.encode(), "ewp/__init__.py": b"X = 1\n"}
    wheel = make_wheel(tmp_path / "in", "ewp", "0.1.0", files)
    out = versioned_wheel(wheel, tmp_path / "out", "0.1.1", broken=broken)
    with zipfile.ZipFile(out) as z:
        assert "Version: 0.1.1" in z.read("ewp-0.1.0.dist-info/METADATA").decode()
        assert _record_ok(z, "ewp-0.1.0.dist-info")
        settings = z.read(BROKEN_FILE).decode()
    compile(settings, BROKEN_FILE, "exec")  # still Python
    block = settings[settings.index("class FingerprintSensorSettings") :]
    block = block[: block.index("\nclass ")]  # the sensor's settings only
    wanted = "0x0BAD0BAD" if broken else "0"
    assert f"password: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = {wanted}\n" in block
    changed = [
        a for a, b in zip(settings.splitlines(), original.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == (1 if broken else 0)


def test_a_source_without_the_line_to_break_is_an_error(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "in", "ewp", "0.1.0", {BROKEN_FILE: b"class X: pass\n"})
    with pytest.raises(FleetError):
        versioned_wheel(wheel, tmp_path / "out", "0.1.1", broken=True)

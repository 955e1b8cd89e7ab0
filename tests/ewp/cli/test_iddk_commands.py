"""`ewp sim iddk` and `ewp sensor iris info|capture --backend iddk` as real processes, with
the fake libIddk2000.so set up through its FAKE_IDDK_* environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

EWP = str(Path(sys.executable).with_name("ewp"))


def ewp(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EWP, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "FAKE_IDDK_TIMING": "5,30", **env},
    )


def test_sim_iddk_builds_the_library(tmp_path: Path) -> None:
    done = ewp("sim", "iddk", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    library = Path(json.loads(done.stdout)["library"])
    assert library.name == "libIddk2000.so" and library.is_relative_to(tmp_path)


def test_info(fake_iddk_library: Path) -> None:
    done = ewp("sensor", "iris", "info", "--backend", "iddk", "--library", str(fake_iddk_library))
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["devices"] == ["IriShield-USB-FAKE:0001"] and info["binocular"] is True
    assert (info["width"], info["height"], info["state"]) == (640, 480, "IDLE")


def test_capture_both_eyes_writes_the_images(fake_iddk_library: Path, tmp_path: Path) -> None:
    done = ewp(
        "sensor", "iris", "capture", "--backend", "iddk", "--library", str(fake_iddk_library),
        "--out", str(tmp_path), FAKE_IDDK_RIGHT="1,91,85",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["qualified"] is True
    assert (report["eyes"]["right"]["total_score"], report["eyes"]["right"]["usable_area"]) == (
        91,
        85,
    )
    assert Image.open(tmp_path / "iris-left.png").size == (640, 480)


def test_one_eye_unqualified_exits_1_with_advice(fake_iddk_library: Path) -> None:
    done = ewp(
        "sensor", "iris", "capture", "--backend", "iddk", "--library", str(fake_iddk_library),
        FAKE_IDDK_LEFT="1,12,40",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["eyes"]["left"]["qualified"] is False and report["eyes"]["right"]["qualified"]
    assert "IDDK_SE_LEFT_FRAME_UNQUALIFIED" in report["advice"]


def test_one_eye_camera(fake_iddk_library: Path) -> None:
    done = ewp(
        "sensor", "iris", "capture", "--backend", "iddk", "--library", str(fake_iddk_library),
        "--eye", "left", FAKE_IDDK_BINOCULAR="0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)["eyes"]) == ["left"]


def test_no_camera_and_no_library_say_what_to_do(fake_iddk_library: Path, tmp_path: Path) -> None:
    done = ewp(
        "sensor", "iris", "info", "--backend", "iddk", "--library", str(fake_iddk_library),
        FAKE_IDDK_PLUGGED="0",
    )  # fmt: skip
    assert done.returncode == 2
    assert "no iris camera found" in done.stderr and "lsusb" in done.stderr
    missing = ewp(
        "sensor", "iris", "info", "--backend", "iddk", "--library", str(tmp_path / "x.so")
    )
    assert missing.returncode == 2 and "EWP_LIBRARY_NOT_LOADED" in missing.stderr
    serial = ewp("sensor", "iris", "info")
    assert serial.returncode == 2 and "needs --port" in serial.stderr

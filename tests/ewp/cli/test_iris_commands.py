"""`ewp sim iris` and `ewp sensor iris ...` as real processes, end to end."""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from PIL import Image

from tests.ewp.cli import sim_processes
from tests.ewp.cli.sim_processes import ewp, free_port
from tests.simulators.tcp_clients import ControlClient


def simulator(*args: str, lines: int = 1) -> AbstractContextManager[list[str]]:
    """`ewp sim iris --fast ARGS`, stopped at the end."""
    return sim_processes.simulator("iris", "--fast", *args, lines=lines)


def iris(command: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return ewp("sensor", "iris", command, "--port", url, *args)


def test_info_and_a_capture_of_both_eyes(tmp_path: Path) -> None:
    with simulator("--listen", "tcp://127.0.0.1:0", "--poor-rate", "0") as (url,):
        assert url.startswith("socket://127.0.0.1:")
        info = iris("info", url)
        assert info.returncode == 0, info.stderr
        described = json.loads(info.stdout)
        assert (described["width"], described["height"], described["usb_id"]) == (
            640,
            480,
            "1209:0001",
        )
        assert described["serial_number"] == "SIM-IRIS-0000-00" and described["initialised"]

        captured = iris("capture", url, "--eye", "both", "--out", str(tmp_path / "out"))
        assert captured.returncode == 0, captured.stderr
        result = json.loads(captured.stdout)
        assert result["result"] == "ok" and result["qualified"] is True
        assert "look into the camera" in captured.stderr
        for eye in ("left", "right"):
            scores = result["eyes"][eye]
            assert scores["qualified"] is True and scores["total_score"] >= 60
            assert 0 <= scores["usable_area"] <= 100 and 0 <= scores["focus"] <= 100
            with Image.open(scores["file"]) as image:
                assert image.size == (640, 480) and image.mode == "L"
        assert Path(result["eyes"]["left"]["file"]).name == "iris-left.png"

        polled = iris("capture", url, "--eye", "right", "--poll", "--transfer", "raw", "--out",
                      str(tmp_path / "raw"))  # fmt: skip
        assert polled.returncode == 0, polled.stderr
        assert list(json.loads(polled.stdout)["eyes"]) == ["right"]
        assert (tmp_path / "raw" / "iris-right.png").exists()


def test_several_cameras_on_ptys() -> None:
    with simulator("--pty", "--count", "2", lines=2) as paths:
        assert len(set(paths)) == 2 and all(os.path.exists(path) for path in paths)
        serials = {json.loads(iris("info", path).stdout)["serial_number"] for path in paths}
        assert serials == {"SIM-IRIS-0000-00", "SIM-IRIS-0000-01"}


def test_manual_mode_and_an_unqualified_eye_through_the_control_port(tmp_path: Path) -> None:
    port = free_port()
    args = ["--listen", "tcp://127.0.0.1:0", "--mode", "manual", "--control",
            f"tcp://127.0.0.1:{port}"]  # fmt: skip
    with simulator(*args) as (url,), ControlClient(f"tcp://127.0.0.1:{port}") as control:
        assert (
            control.ask({"cmd": "present", "person": 17, "left": {"occlusion": 0.8}})["ok"] is True
        )
        captured = iris("capture", url, "--out", str(tmp_path))
        assert captured.returncode == 1, captured.stderr  # a result, not an error
        result = json.loads(captured.stdout)
        assert result["result"] == "left_frame_unqualified" and result["qualified"] is False
        assert result["eyes"]["left"]["qualified"] is False
        assert result["eyes"]["left"]["usable_area"] < 40
        assert result["eyes"]["right"]["qualified"] is True
        assert "open the left eye wide" in result["advice"]
        assert (tmp_path / "iris-left.png").exists()  # kept, so the operator can see why

        assert control.ask({"cmd": "withdraw"})["ok"] is True
        nobody = iris("capture", url, "--wait", "0.3")
        assert nobody.returncode == 2
        assert "error: iris camera: no eye found" in nobody.stderr
        assert "Traceback" not in nobody.stderr


def test_a_silent_camera_is_reported_with_what_to_do() -> None:
    with simulator("--listen", "tcp://127.0.0.1:0", "--fault", "silence:5") as (url,):
        result = iris("info", url, "--timeout", "0.3")
        assert result.returncode == 2
        assert "iris camera: not answering [on " in result.stderr
        assert "ewp sensor iris info --port" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("faults_file", ["faults.json", "faults.toml"])
def test_faults_from_a_file(tmp_path: Path, faults_file: str) -> None:
    path = tmp_path / faults_file
    if faults_file.endswith(".json"):
        path.write_text('["code:init:0x20"]')
    else:
        path.write_text('faults = [{kind = "code", command = "INIT", code = 32}]\n')
    with simulator("--listen", "tcp://127.0.0.1:0", "--faults", str(path)) as (url,):
        result = iris("info", url)
        assert result.returncode == 2 and "sensor fault" in result.stderr


def test_bad_options_are_refused(tmp_path: Path) -> None:
    result = ewp("sim", "iris", "--listen", "tcp://127.0.0.1:0", "--fault", "explode")
    assert result.returncode == 2 and "unknown fault 'explode'" in result.stderr
    result = ewp("sim", "iris")
    assert result.returncode == 2 and "--listen" in result.stderr
    result = ewp("sim", "iris", "--pty", "--capture-time", "2-1")
    assert result.returncode == 2 and "MIN <= MAX" in result.stderr
    result = ewp("sensor", "iris", "capture", "--port", "socket://127.0.0.1:9", "--eye", "middle")
    assert result.returncode == 2 and "left, right or both" in result.stderr
    result = ewp("sensor", "iris", "info", "--port", str(tmp_path / "ttyNOSUCH"))
    assert result.returncode == 2 and "iris camera: cannot open the camera's port" in result.stderr


def test_list_finds_no_camera_here() -> None:
    result = ewp("sensor", "iris", "list", "--vid", "0xdead", "--pid", "0xbeef")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []

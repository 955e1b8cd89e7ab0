"""`ewp sim fingerprint` and `ewp sensor fingerprint ...` as real processes, end to end."""

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
    """`ewp sim fingerprint ARGS`, stopped at the end."""
    return sim_processes.simulator("fingerprint", *args, lines=lines)


def sensor(command: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return ewp("sensor", "fingerprint", command, "--port", url, *args)


def test_info_capture_enroll_identify(tmp_path: Path) -> None:
    library = tmp_path / "library.json"
    sim_args = ["--listen", "tcp://127.0.0.1:0", "--library", str(library), "--poor-rate", "0"]
    with simulator(*sim_args, "--presses-per-finger", "2") as (url,):
        assert url.startswith("socket://127.0.0.1:")
        info = sensor("info", url)
        assert info.returncode == 0, info.stderr
        described = json.loads(info.stdout)
        assert described["library_size"] == 200 and described["used_pages"] == []
        assert described["baud_rate"] == 57600 and described["packet_size"] == 128

        enrolled = sensor("enroll", url, "--page", "7")
        assert enrolled.returncode == 0, enrolled.stderr
        assert json.loads(enrolled.stdout) == {"page": 7, "stored": True, "template_count": 1}
        assert "press 2 of 2" in enrolled.stderr and "lift the finger" in enrolled.stderr

        again = sensor("enroll", url, "--page", "7")
        assert again.returncode == 2 and "already holds a template" in again.stderr

        out = tmp_path / "finger.png"
        captured = sensor("capture", url, "--out", str(out))
        assert captured.returncode == 0, captured.stderr
        assert json.loads(captured.stdout)["out"] == str(out)
        with Image.open(out) as image:
            assert image.size == (256, 288) and image.mode == "L"

        other = sensor("identify", url)  # the scripted applicant is on the next finger now
        assert other.returncode == 1
        assert json.loads(other.stdout) == {"found": False}

    # The same applicant sequence again, with the library kept on disk: press 0 is the finger
    # enrolled at page 7.
    with simulator(*sim_args) as (url,):
        found = sensor("identify", url)
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout)
        assert result["found"] is True and result["page"] == 7 and result["score"] > 100


def test_several_sensors_each_with_its_own_applicants(tmp_path: Path) -> None:
    with simulator("--listen", "tcp://127.0.0.1:0", "--count", "3", lines=3) as urls:
        assert len(set(urls)) == 3
        for url in urls:
            assert json.loads(sensor("info", url).stdout)["template_count"] == 0


def test_a_pty_sensor(tmp_path: Path) -> None:
    with simulator("--pty") as (path,):
        assert path.startswith("/dev/")
        assert os.path.exists(path)
        info = sensor("info", path)
        assert info.returncode == 0, info.stderr


def test_manual_mode_through_the_control_port(tmp_path: Path) -> None:
    port = free_port()
    args = [
        "--listen",
        "tcp://127.0.0.1:0",
        "--mode",
        "manual",
        "--control",
        f"tcp://127.0.0.1:{port}",
    ]
    with simulator(*args) as (url,), ControlClient(f"tcp://127.0.0.1:{port}") as control:
        request = {"cmd": "place", "subject": 17, "finger": "left-thumb", "quality": "poor"}
        assert control.ask(request)["ok"] is True
        captured = sensor("capture", url)
        assert captured.returncode == 0, captured.stderr


def test_a_silent_sensor_is_reported_with_what_to_do() -> None:
    with simulator("--listen", "tcp://127.0.0.1:0", "--fault", "silence:5") as (url,):
        result = sensor("info", url, "--timeout", "0.3")
        assert result.returncode == 2
        assert "fingerprint sensor: not answering [on " in result.stderr
        assert "ewp sensor fingerprint info --port" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_messy_image_is_explained_to_the_operator() -> None:
    with simulator("--listen", "tcp://127.0.0.1:0", "--fault", "messy-image") as (url,):
        result = sensor("identify", url)
        assert result.returncode == 2
        assert "too messy" in result.stderr and "(IMAGE_TOO_MESSY, 0x0006" in result.stderr


def test_bad_simulator_options_are_refused() -> None:
    result = ewp("sim", "fingerprint", "--listen", "tcp://127.0.0.1:0", "--fault", "explode")
    assert result.returncode == 2 and "unknown fault 'explode'" in result.stderr
    result = ewp("sim", "fingerprint")
    assert result.returncode == 2 and "--listen" in result.stderr


@pytest.mark.parametrize("faults_file", ["faults.json", "faults.toml"])
def test_faults_from_a_file(tmp_path: Path, faults_file: str) -> None:
    path = tmp_path / faults_file
    if faults_file.endswith(".json"):
        path.write_text('["code:readsyspara:0x18"]')
    else:
        path.write_text('faults = [{kind = "code", instruction = "ReadSysPara", code = 24}]\n')
    with simulator("--listen", "tcp://127.0.0.1:0", "--faults", str(path)) as (url,):
        result = sensor("info", url)
        assert result.returncode == 2 and "flash" in result.stderr

"""`ewp firmware build` and `deploy`: the real mpremote against a simulated board on a pty.

The simulated board's interpreter answers the raw REPL the way a Pico does, so the deploy goes
through every step it takes with hardware: maintenance mode through the link, copy, hashes
read back from the board, reset, and the new firmware answering the driver.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ewp.firmware_bundle import Bundle, FirmwareError, build_bundle, deploy_bundle
from simulators.controller import ControllerBoard
from simulators.serial_endpoints import Endpoint

pytestmark = pytest.mark.timeout(180)


def test_build_makes_a_versioned_bundle_with_hashes(tmp_path: Path) -> None:
    bundle = build_bundle(tmp_path)
    assert bundle.path.name == f"ewp-controller-{bundle.version}"
    names = set(bundle.files)
    assert "main.py" in names and "controller.mpy" in names and "link.mpy" in names
    assert "hal_sim.mpy" not in names and "manifest.mpy" not in names
    manifest = json.loads((bundle.path / "firmware.json").read_text())
    assert manifest["files"] == bundle.files
    assert Bundle.load(bundle.path) == bundle


def test_load_refuses_a_directory_that_is_no_bundle(tmp_path: Path) -> None:
    with pytest.raises(FirmwareError, match="ewp firmware build"):
        Bundle.load(tmp_path)


@pytest.fixture
def board_on_pty(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[ControllerBoard, Endpoint]]:
    installed = getattr(request, "param", True)
    board = ControllerBoard(tmp_path / "flash", baudrate=0, install_firmware=installed)
    board.start()
    endpoint = board.serve(pty=True)
    try:
        yield board, endpoint
    finally:
        board.stop()
        endpoint.stop()


@pytest.mark.parametrize("board_on_pty", [True, False], ids=["running", "fresh"], indirect=True)
def test_deploy_copies_verifies_and_resets(
    board_on_pty: tuple[ControllerBoard, Endpoint], tmp_path: Path
) -> None:
    board, endpoint = board_on_pty
    bundle = build_bundle(tmp_path / "build")
    secret = os.urandom(32)
    identity = deploy_bundle(endpoint.url, bundle, secret=secret, timeout=20)
    assert identity.firmware_version == bundle.version
    assert identity.board_id == board.board_id
    flash = board.flash
    on_flash = {p.name for p in flash.iterdir() if p.suffix in (".py", ".mpy")}
    assert on_flash == set(bundle.files)  # the sources the board had are gone: it runs .mpy
    assert json.loads((flash / "firmware.json").read_text())["version"] == bundle.version
    assert (flash / "state" / "secret").read_bytes() == secret
    assert not (flash / "state" / "maintenance").exists()

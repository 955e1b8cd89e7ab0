"""Controller firmware through the update path: verified by TUF, deployed to a simulated board
running the real firmware with mpremote, kept only once the board reports the new version."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent.updater.download import Downloader
from edge.agent.updater.firmware import FirmwareUpdater
from ewp.firmware_bundle import FIRMWARE_SOURCE, Bundle, build_bundle, deploy_bundle
from ewp.release_build import build_firmware_release
from fleet.updates.bundle import write_bundle
from fleet.updates.publish import publish_release
from simulators.controller import ControllerBoard
from simulators.serial_endpoints import Endpoint
from tests.edge.agent.updater.conftest import World


def _source(tmp: Path, version: str) -> Path:
    src = tmp / f"firmware-src-{version}"
    shutil.copytree(FIRMWARE_SOURCE, src)
    text = (src / "version.py").read_text()
    (src / "version.py").write_text(text.replace('VERSION = "1.0.0"', f'VERSION = "{version}"'))
    return src


@pytest.fixture
def board(tmp_path: Path) -> Iterator[tuple[ControllerBoard, Endpoint]]:
    board = ControllerBoard(tmp_path / "flash", baudrate=0, install_firmware=True)
    board.start()
    endpoint = board.serve(pty=True)
    try:
        yield board, endpoint
    finally:
        board.stop()
        endpoint.stop()


def test_firmware_is_deployed_after_verification_and_restored_when_it_does_not_answer(
    world: World, board: tuple[ControllerBoard, Endpoint], tmp_path: Path
) -> None:
    _, endpoint = board
    deployed: list[str] = []

    def deploy(directory: Path) -> str:
        identity = deploy_bundle(endpoint.url, Bundle.load(directory), timeout=30)
        deployed.append(identity.firmware_version)
        return identity.firmware_version

    updater = FirmwareUpdater(
        station_id="st-0001",
        root=world.layout.root,
        repository=world.trusted,
        downloader=Downloader(),
        deploy=deploy,
        report=world.reports.append,
    )
    # provisioning deployed 1.0.0 with `ewp firmware deploy`; the station keeps its files
    updater.adopt(build_bundle(tmp_path / "fw-1.0.0").path, "1.0.0")

    good = tmp_path / "fw-1.1.0.tar"
    build_firmware_release(good, source=_source(tmp_path, "1.1.0"), changelog="new readings")
    publish_release(world.repo, good)
    offer = world.offer("1.1.0", component="firmware", target="firmware/1.1.0/bundle.tar")
    assert updater.handle(offer) == "healthy"
    assert deployed == ["1.1.0"] and updater.installed_version() == "1.1.0"

    # a release labelled 1.2.0 whose firmware says otherwise: the board does not report 1.2.0
    mislabelled = build_bundle(tmp_path / "fw-1.1.9", _source(tmp_path, "1.1.9"))
    bad = tmp_path / "fw-1.2.0.tar"
    write_bundle(
        bad,
        kind="firmware",
        version="1.2.0",
        files={p.name: p for p in mislabelled.path.iterdir()},
    )
    publish_release(world.repo, bad)
    world.reports.clear()
    offer = world.offer("1.2.0", component="firmware", target="firmware/1.2.0/bundle.tar")
    assert updater.handle(offer) == "rolled-back"
    assert deployed == ["1.1.0", "1.1.9", "1.1.0"]  # the kept 1.1.0 files went back
    assert updater.installed_version() == "1.1.0"
    report = world.reports[-1]
    assert "reports firmware 1.1.9, not 1.2.0" in (report.reason or "")

    # a tampered firmware target never reaches the board
    stored = world.repo.target_file("firmware/1.2.0/bundle.tar")
    data = bytearray(stored.read_bytes())
    data[len(data) // 3] ^= 0x01  # inside a member, not the tar's zero padding
    stored.write_bytes(bytes(data))
    world.reports.clear()
    assert updater.handle(offer) == "refused"
    assert deployed == ["1.1.0", "1.1.9", "1.1.0"]

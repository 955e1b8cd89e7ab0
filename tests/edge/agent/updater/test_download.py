"""Downloads on a bad link: resumed after a cut, refused before the first byte when the release
does not fit, a corrupted delta replaced by the full bundle."""

from __future__ import annotations

import os
import shutil

from edge.agent.updater.download import Downloader
from simulators.network import LinkProfile, NetworkSimulator
from tests.edge.agent.updater.conftest import World

BLOB = os.urandom(1_500_000)  # incompressible: the bundle is about this size


def test_a_download_cut_in_the_middle_resumes_where_it_stopped(world: World) -> None:
    published = world.publish("1.1.0", blob=BLOB)
    with NetworkSimulator() as sim:
        link = sim.add_link(
            ("127.0.0.1", world.server.port), profile=LinkProfile(bandwidth_bps=1_000_000)
        )
        cut_at: list[int] = []

        def progress(done: int, total: int) -> None:
            if not cut_at and done > total // 2:
                cut_at.append(done)
                link.cut()

        downloader = Downloader(progress=progress)
        world.base_url = f"http://{link.address}"
        updater = world.updater(downloader, sleep=lambda s: link.restore())
        outcome = updater.handle(world.offer("1.1.0"))
        link_bytes = link.stats.bytes_down

    assert outcome.restart, world.reports[-1]
    assert world.layout.installed_version() == "1.1.0"
    stats = downloader.stats
    assert stats.attempts >= 2
    assert stats.resumed_from and stats.resumed_from[0] >= cut_at[0] // 2
    # every byte of the bundle crossed the link about once: no restart from zero
    assert stats.bytes_transferred <= published.length * 1.02
    assert link_bytes <= published.length * 1.05 + 64_000  # + metadata and HTTP headers


def test_a_release_larger_than_the_free_space_is_refused_before_downloading(world: World) -> None:
    world.publish("1.1.0", blob=BLOB)
    free = shutil.disk_usage(world.layout.root).free
    downloader = Downloader()
    world.updater(downloader, reserve_bytes=free).handle(world.offer("1.1.0"))
    assert world.states() == ["refused"]
    assert "refused before downloading" in (world.reports[-1].reason or "")
    assert downloader.stats.bytes_transferred == 0 and downloader.stats.attempts == 0
    assert world.installed_releases() == ["1.0.0"]


def test_a_delta_is_downloaded_instead_of_the_full_bundle(world: World) -> None:
    published = world.publish("1.1.0")
    delta = published.deltas["1.0.0"]
    downloader = Downloader()
    offer = world.offer(
        "1.1.0", delta_target="agent/1.1.0/delta-from-1.0.0.zst", delta_from="1.0.0"
    )
    outcome = world.updater(downloader).handle(offer)
    assert outcome.restart and outcome.delta_used
    assert downloader.stats.bytes_transferred == delta < published.length / 3
    assert world.layout.installed_version() == "1.1.0"
    assert world.reports[-1].delta


def test_a_corrupted_delta_falls_back_to_the_full_bundle(world: World) -> None:
    published = world.publish("1.1.0")
    stored = world.repo.target_file("agent/1.1.0/delta-from-1.0.0.zst")
    data = bytearray(stored.read_bytes())
    data[-10] ^= 0xFF
    stored.write_bytes(bytes(data))
    downloader = Downloader()
    offer = world.offer(
        "1.1.0", delta_target="agent/1.1.0/delta-from-1.0.0.zst", delta_from="1.0.0"
    )
    outcome = world.updater(downloader).handle(offer)
    assert outcome.restart and not outcome.delta_used
    assert downloader.stats.bytes_transferred == published.deltas["1.0.0"] + published.length
    assert world.layout.installed_version() == "1.1.0"
    bundle = world.layout.release_dir("1.1.0") / "bundle.tar"
    assert bundle.read_bytes() == world.repo.target_file(published.target).read_bytes()


def test_a_download_paused_for_sealed_packets_resumes_without_counting_an_attempt(
    world: World,
) -> None:
    published = world.publish("1.1.0", blob=BLOB)
    state = {"done": 0, "paused": 0}

    def may_download() -> bool:  # packets arrive once the download is half way, then go
        if state["done"] > published.length // 2 and state["paused"] < 5:
            state["paused"] += 1
            return False
        return True

    def progress(done: int, total: int) -> None:
        state["done"] = done

    downloader = Downloader(may_download=may_download, progress=progress, poll_s=0.01)
    outcome = world.updater(downloader, max_attempts=1).handle(world.offer("1.1.0"))
    assert outcome.restart, world.reports[-1]
    assert len(downloader.stats.resumed_from) == 1  # one pause mid-way, resumed by Range
    assert downloader.stats.bytes_transferred <= published.length * 1.02

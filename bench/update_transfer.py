"""Update downloads: bytes a station transfers against the release size (full and delta), and a
download over a simulated 256 kbit/s link with one cut against the link's capacity.

The releases are real: the project's own packages zipped as a wheel, and the wheels of a few of
its installed dependencies (pydantic-core, cryptography, ...); the second release changes one
module of the project. The station side is the real updater (TUF refresh, resumable download,
delta, verification) against the fleet's repository app over HTTP, through ``ewp sim
network``'s proxy, whose byte counters say what crossed the link.

    .venv/bin/python -m bench update_transfer
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import httpx
import uvicorn

from bench.report import Figure, report, report_link
from edge.agent.updater.download import Downloader
from edge.agent.updater.layout import Layout
from edge.agent.updater.station import StationUpdater
from edge.agent.updater.tuf_client import TrustedRepository
from fleet.broker.mosquitto import free_port
from fleet.updates.bundle import write_bundle
from fleet.updates.keys import init_keys, sign_root
from fleet.updates.publish import publish_release
from fleet.updates.repository import FileRepository
from fleet.updates.serve import repository_app
from protocol.envelope import utc_timestamp
from protocol.updates import UpdateOffer
from simulators.network import LinkProfile, NetworkSimulator

PROJECT = Path(__file__).resolve().parent.parent
PACKAGES = ("ewp", "edge", "fleet", "protocol", "simulators")
DEPENDENCIES = ("pydantic_core", "pydantic", "cryptography", "tuf", "securesystemslib", "paho")
CHANGED_MODULE = "edge/agent/updater/station.py"
LINK_BPS = 256_000 / 8  # 256 kbit/s in bytes per second
SLOW_RELEASE_BYTES = 600_000


def _zip_tree(out: Path, roots: list[tuple[Path, str]], patch: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as wheel:
        for base, name in roots:
            for path in sorted((base / name).rglob("*")):
                if path.is_dir() or "__pycache__" in path.parts:
                    continue
                arcname = path.relative_to(base).as_posix()
                info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                wheel.writestr(info, patch.get(arcname, path.read_bytes()))
    return out


def _bundle(tmp: Path, version: str, patch: dict[str, bytes]) -> Path:
    wheels = tmp / f"wheels-{version}"
    wheels.mkdir()
    files = {
        "ewp-0.1.0-py3-none-any.whl": _zip_tree(
            wheels / "ewp.whl", [(PROJECT, name) for name in PACKAGES], patch
        )
    }
    for dep in DEPENDENCIES:
        spec = importlib.util.find_spec(dep)
        assert spec is not None and spec.origin is not None
        base = Path(spec.origin).parent
        files[f"{dep}-0-py3-none-any.whl"] = _zip_tree(
            wheels / f"{dep}.whl", [(base.parent, base.name)], {}
        )
    out = tmp / f"agent-{version}.tar"
    write_bundle(out, kind="agent", version=version, files=files)
    return out


class _Server:
    def __init__(self, repo_dir: Path) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            repository_app(repo_dir), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _station(tmp: Path, name: str, repo: FileRepository, first: Path) -> Layout:
    layout = Layout(tmp / name)
    layout.install_bundle(first)
    layout.activate_first("1.0.0")
    layout.trust_root((repo.metadata_dir / "1.root.json").read_bytes())
    return layout


def _offer(version: str, delta_from: str | None = None) -> UpdateOffer:
    return UpdateOffer(
        rollout_id="bench",
        component="agent",
        version=version,
        target=f"agent/{version}/bundle.tar",
        delta_target=f"agent/{version}/delta-from-{delta_from}.zst" if delta_from else None,
        delta_from=delta_from,
        issued_at=utc_timestamp(),
    )


def _update(
    layout: Layout, url: str, offer: UpdateOffer, downloader: Downloader, **kw: object
) -> None:
    updater = StationUpdater(
        station_id="st-bench",
        layout=layout,
        repository=lambda: TrustedRepository(layout.tuf_dir, f"{url}/metadata/", f"{url}/targets/"),
        downloader=downloader,
        report=lambda status: None,
        reserve_bytes=0,
        **kw,  # type: ignore[arg-type]
    )
    outcome = updater.handle(offer)
    if not outcome.restart:
        raise RuntimeError(f"the update did not install: {outcome}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ewp-bench-update-") as name:
        tmp = Path(name)
        keys = tmp / "keys"
        repo_dir = tmp / "repo"
        init_keys(keys, repo_dir / "metadata")
        sign_root(repo_dir / "metadata", keys / "root-1.pem")
        sign_root(repo_dir / "metadata", keys / "root-2.pem")
        repo = FileRepository(repo_dir, keys)
        first = _bundle(tmp, "1.0.0", {})
        publish_release(repo, first)
        changed = (PROJECT / CHANGED_MODULE).read_bytes() + b"\n# 1.1.0: one module changed\n"
        second = _bundle(tmp, "1.1.0", {CHANGED_MODULE: changed})
        published = publish_release(repo, second)
        full = published.length
        server = _Server(repo_dir)
        try:
            with NetworkSimulator() as sim:
                link = sim.add_link(("127.0.0.1", server.port))
                url = f"http://{link.address}"
                _update(_station(tmp, "a", repo, first), url, _offer("1.1.0"), Downloader())
                full_bytes = link.stats.bytes_down
                before = link.stats.bytes_down
                _update(
                    _station(tmp, "b", repo, first), url, _offer("1.1.0", "1.0.0"), Downloader()
                )
                delta_bytes = link.stats.bytes_down - before
            report(
                Figure(
                    name="update bytes per station, full bundle",
                    ratio=full_bytes / full,
                    target="<= 1.05",
                    ours=f"{full_bytes} bytes crossed the link (bundle, TUF metadata, HTTP)",
                    baseline=f"{full} bytes: the release bundle",
                )
            )
            report(
                Figure(
                    name="update bytes per station, delta for a one-module change",
                    ratio=delta_bytes / full,
                    target="",
                    ours=f"{delta_bytes} bytes crossed the link (delta, TUF metadata, HTTP)",
                    baseline=f"{full} bytes: the full bundle",
                    extra={"delta target": f"{published.deltas['1.0.0']} bytes"},
                )
            )
        finally:
            server.stop()
        _slow_link(tmp)


def _slow_link(tmp: Path) -> None:
    """A release over 256 kbit/s with one cut half way, against the same link uncut."""
    small = tmp / "small"
    small.mkdir()
    blob = small / "blob-0-py3-none-any.whl"
    with zipfile.ZipFile(blob, "w", zipfile.ZIP_STORED) as wheel:  # incompressible content
        wheel.writestr("blob/data.bin", os.urandom(SLOW_RELEASE_BYTES))
    first = tmp / "small-1.0.0.tar"
    write_bundle(first, kind="agent", version="1.0.0", files={})
    # its own repository, so the station starts from a tiny 1.0.0
    keys, repo_dir = tmp / "keys2", tmp / "repo2"
    init_keys(keys, repo_dir / "metadata")
    sign_root(repo_dir / "metadata", keys / "root-1.pem")
    sign_root(repo_dir / "metadata", keys / "root-2.pem")
    repo2 = FileRepository(repo_dir, keys)
    publish_release(repo2, first)
    second = tmp / "small-2.0.0.tar"
    write_bundle(second, kind="agent", version="2.0.0", files={blob.name: blob})
    size = publish_release(repo2, second, deltas_from=0).length
    target = repo2.target_file("agent/2.0.0/bundle.tar")
    server2 = _Server(repo_dir)
    try:
        with NetworkSimulator() as sim:
            link = sim.add_link(
                ("127.0.0.1", server2.port), profile=LinkProfile(bandwidth_bps=LINK_BPS)
            )
            url = f"http://{link.address}"
            started = time.monotonic()
            with httpx.Client(timeout=120) as client:
                body = client.get(f"{url}/targets/agent/2.0.0/{target.name}").content
            baseline_s = time.monotonic() - started
            assert len(body) == size
            cut: list[float] = []

            def progress(done: int, total: int) -> None:
                if not cut and done > total // 2:
                    cut.append(time.monotonic())
                    link.cut()

            def retry(seconds: float) -> None:  # the link comes back when the station retries
                link.restore()

            layout = _station(tmp, "slow", repo2, first)
            downloader = Downloader(progress=progress)
            started = time.monotonic()
            _update(layout, url, _offer("2.0.0"), downloader, sleep=retry)
            ours_s = time.monotonic() - started
    finally:
        server2.stop()
    report_link(
        "update download over 256 kbit/s with one cut",
        target=">= 0.9",
        ours=(
            f"with one cut (resumed at {downloader.stats.resumed_from})",
            size,
            ours_s,
        ),
        capacity=("the same file uncut over the same link", size, baseline_s),
        nominal_bps=LINK_BPS,
        extra={"bytes received by the station": downloader.stats.bytes_transferred},
    )


if __name__ == "__main__":
    main()

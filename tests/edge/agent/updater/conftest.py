"""A fleet release repository served over HTTP, and a station with release 1.0.0 installed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edge.agent.updater.download import Downloader
from edge.agent.updater.layout import Layout
from edge.agent.updater.station import StationUpdater
from edge.agent.updater.tuf_client import TrustedRepository
from fleet.updates.bundle import write_bundle
from fleet.updates.publish import Published, publish_release
from fleet.updates.repository import FileRepository
from protocol.envelope import utc_timestamp
from protocol.updates import UpdateOffer, UpdateStatus
from tests.update_helpers import RepositoryServer, make_repository, make_wheel


def app_module(version: str, extra: str = "") -> bytes:
    return f'VERSION = "{version}"\n{extra}\n'.encode() + b"# padding\n" * 2000


# The release's program: a station agent's start reduced to what the update path needs: the
# health check (outbox unchanged, broker reached), READY=1, then run until stopped.
APP_MAIN = """
import os, signal, socket, sys, time
from pathlib import Path
from edge.agent.updater.health import outbox_check
from edge.agent.updater.layout import Layout
from edge.agent.updater.startup import EXIT_ROLLED_BACK, after_start
import ewp_app

{crash}
root = Path(os.environ["EWP_ROOT"])
layout = Layout(root)
print("ewp_app", ewp_app.VERSION, "starting", flush=True)


def broker():
    port = int(os.environ["EWP_BROKER_PORT"]) + {port_offset}
    socket.create_connection(("127.0.0.1", port), timeout=2).close()


trial = layout.trial()
checks = {{
    "outbox": outbox_check(Path(os.environ["EWP_OUTBOX"]), (trial or {{}}).get("outbox")),
    "broker": broker,
}}
(root / "running").write_text(ewp_app.VERSION)  # before READY=1: the test reads it then
result = after_start(layout, checks, max_check_s=2)
if not result.ready:
    print("health check failed:", result.health.reason, flush=True)
    sys.exit(EXIT_ROLLED_BACK)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(1)
"""


def app_files(version: str, *, crash: bool = False, port_offset: int = 0) -> dict[str, bytes]:
    main = APP_MAIN.format(
        crash='raise SystemExit("ewp_app: cannot start")' if crash else "",
        port_offset=port_offset,
    )
    return {"ewp_app/__main__.py": main.encode()}


@dataclass
class World:
    tmp: Path
    repo: FileRepository
    server: RepositoryServer
    layout: Layout
    reports: list[UpdateStatus] = field(default_factory=list)
    base_url: str | None = None  # another way to the server (a simulated link)

    def build(
        self,
        version: str,
        *,
        extra: str = "",
        min_upgrade_from: str | None = None,
        blob: bytes = b"",
        files: dict[str, bytes] | None = None,
    ) -> Path:
        wheels = self.tmp / f"wheels-{version}"
        contents = {
            "ewp_app/__init__.py": app_module(version, extra),
            "ewp_app/data.py": b"TABLE = %r\n" % (bytes(range(256)) * 40),
        }
        if blob:
            contents["ewp_app/blob.bin"] = blob
        contents |= app_files(version) if files is None else files
        wheel = make_wheel(wheels, "ewp_app", version, contents)
        out = self.tmp / f"bundle-{version}.tar"
        write_bundle(
            out,
            kind="agent",
            version=version,
            files={wheel.name: wheel},
            changelog=f"release {version}",
            min_upgrade_from=min_upgrade_from,
        )
        return out

    def publish(self, version: str, **kw: Any) -> Published:
        return publish_release(self.repo, self.build(version, **kw))

    def trusted(self) -> TrustedRepository:
        url = self.base_url or self.server.url
        return TrustedRepository(self.layout.tuf_dir, f"{url}/metadata/", f"{url}/targets/")

    def updater(self, downloader: Downloader | None = None, **kw: object) -> StationUpdater:
        options: dict[str, Any] = {"reserve_bytes": 0, "sleep": lambda s: None} | kw
        return StationUpdater(
            station_id="st-0001",
            layout=self.layout,
            repository=self.trusted,
            downloader=downloader or Downloader(),
            report=self.reports.append,
            **options,
        )

    def offer(self, version: str, **kw: object) -> UpdateOffer:
        fields: dict[str, object] = {
            "rollout_id": "r1",
            "component": "agent",
            "version": version,
            "target": f"agent/{version}/bundle.tar",
            "issued_at": utc_timestamp(),
        }
        return UpdateOffer.model_validate(fields | kw)

    def states(self) -> list[str]:
        return [r.state for r in self.reports]

    def installed_releases(self) -> list[str]:
        return sorted(p.name for p in self.layout.releases.iterdir())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    repo = make_repository(tmp_path / "fleet")
    layout = Layout(tmp_path / "station")
    # provisioning: the first release installed from its bundle, the update root trusted
    first = tmp_path / "first"
    first.mkdir()
    with RepositoryServer(repo.repo_dir) as server:
        w = World(first, repo, server, layout)
        bundle = w.build("1.0.0")
        publish_release(repo, bundle)
        layout.install_bundle(bundle)
        layout.activate_first("1.0.0")
        layout.trust_root((repo.metadata_dir / "1.root.json").read_bytes())
        w.tmp = tmp_path
        yield w
    shutil.rmtree(tmp_path / "station", ignore_errors=True)

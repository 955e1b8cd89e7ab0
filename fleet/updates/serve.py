"""Serve the release repository over HTTP: ``/metadata/...`` and ``/targets/...``.

Starlette's static files answer ``Range`` and ``If-Range`` (206 with the byte range, 200 when
the validator no longer matches) and send an ``ETag``: what the station's resumable download
needs. Metadata is never cached by a proxy (a stale timestamp would look like a freeze); target
files are content-addressed (hash-prefixed names) so they may be cached for ever.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from fleet.updates.repository import FileRepository

log = logging.getLogger(__name__)


class _Headers:
    def __init__(self, app: StaticFiles, cache_control: str) -> None:
        self.app = app
        self.cache_control = cache_control.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                headers.append((b"cache-control", self.cache_control))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]


def repository_app(repo_dir: Path) -> Starlette:
    (repo_dir / "metadata").mkdir(parents=True, exist_ok=True)
    (repo_dir / "targets").mkdir(parents=True, exist_ok=True)
    metadata = StaticFiles(directory=repo_dir / "metadata")
    targets = StaticFiles(directory=repo_dir / "targets")
    return Starlette(
        routes=[
            Mount("/metadata", app=_Headers(metadata, "no-store")),
            Mount("/targets", app=_Headers(targets, "public, max-age=31536000, immutable")),
        ]
    )


class TimestampRefresher:
    """Re-sign the timestamp (and snapshot) before they expire, in a background thread."""

    def __init__(self, repo: FileRepository, interval_s: float = 600.0) -> None:
        self.repo = repo
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tuf-timestamp", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.repo.refresh_timestamp():
                    log.info("release repository timestamp refreshed")
            except Exception:
                log.exception("refreshing the release repository's timestamp failed")
            self._stop.wait(self.interval_s)

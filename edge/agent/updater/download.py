"""Downloads that survive a weak link: HTTP Range + If-Range into a ``.part`` file.

What arrived stays in ``<name>.part`` (fsync'd as it grows); the validator the server gave
(ETag, else Last-Modified) is kept beside it in ``<name>.part.json``. A resumed request asks
``Range: bytes=<have>-`` with ``If-Range: <validator>``: a ``206`` continues the file, a ``200``
means the file changed on the server and the download starts over. The updater accepts the
file only after TUF verified its length and hashes.

Sealed packets come first: ``may_download()`` is asked between blocks (the agent answers False
while its outbox has packets waiting or outside the upload window) and the download waits.
A bandwidth cap keeps the link usable for everything else.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from edge.agent.updater.errors import DownloadInterrupted, DownloadPaused, UpdateRefused

log = logging.getLogger(__name__)

BLOCK = 64 * 1024


@dataclass
class DownloadStats:
    bytes_transferred: int = 0  # payload bytes received over the network, all attempts
    attempts: int = 0
    resumed_from: list[int] = field(default_factory=list)
    waited_s: float = 0.0  # time spent yielding to the outbox or upload windows


@dataclass
class Downloader:
    rate_limit_bps: float = 0.0  # bytes per second; 0 = no cap
    may_download: Callable[[], bool] = lambda: True
    timeout_s: float = 30.0
    verify: ssl.SSLContext | bool = True  # the fleet's pinned CA (tuf_client.tls_verify)
    poll_s: float = 1.0
    progress: Callable[[int, int], None] | None = None  # (bytes on disk, total)
    stats: DownloadStats = field(default_factory=DownloadStats)
    _clock: Callable[[], float] = time.monotonic
    _sleep: Callable[[float], None] = time.sleep

    def fetch(self, url: str, part: Path, length: int) -> Path:
        """Bring ``part`` to ``length`` bytes from ``url``; one attempt. Raises
        ``DownloadInterrupted`` when the link breaks (what arrived is kept)."""
        meta_path = part.with_name(part.name + ".json")
        have = part.stat().st_size if part.exists() else 0
        validator = _read_validator(meta_path) if have else None
        if have > length:
            part.unlink()
            have, validator = 0, None
        if have == length:
            return part
        self.stats.attempts += 1
        headers = {"Accept-Encoding": "identity"}
        if have and validator:
            headers["Range"] = f"bytes={have}-"
            headers["If-Range"] = validator
            self.stats.resumed_from.append(have)
        self._wait_turn()
        try:
            with (
                httpx.Client(timeout=self.timeout_s, verify=self.verify) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                if response.status_code == 206 and have:
                    mode = "ab"
                elif response.status_code == 200:
                    mode, have = "wb", 0  # no range support, or the file changed
                else:
                    raise DownloadInterrupted(f"{url}: HTTP {response.status_code}")
                validator = response.headers.get("etag") or response.headers.get("last-modified")
                meta_path.write_text(json.dumps({"url": url, "validator": validator}))
                self._receive(response, part, mode, have, length)
        except httpx.HTTPError as exc:
            raise DownloadInterrupted(f"{url}: {type(exc).__name__}: {exc}") from exc
        size = part.stat().st_size
        if size < length:
            raise DownloadInterrupted(f"{url}: the connection ended at {size} of {length} bytes")
        return part

    def _receive(
        self, response: httpx.Response, part: Path, mode: str, have: int, length: int
    ) -> None:
        started = self._clock()
        received = 0
        with part.open(mode) as f:
            for block in response.iter_raw(BLOCK):
                if have + received + len(block) > length:
                    raise UpdateRefused(
                        f"refused: the server sent more than the {length} bytes signed for "
                        f"{response.url} (endless data attack)"
                    )
                f.write(block)
                received += len(block)
                self.stats.bytes_transferred += len(block)
                if received % (16 * BLOCK) < len(block):
                    f.flush()
                    os.fsync(f.fileno())
                if self.progress is not None:
                    self.progress(have + received, length)
                if self.rate_limit_bps > 0:
                    ahead = received / self.rate_limit_bps - (self._clock() - started)
                    if ahead > 0:
                        self._sleep(ahead)
                if not self.may_download():
                    f.flush()
                    os.fsync(f.fileno())
                    raise DownloadPaused("paused: sealed packets are waiting to upload")
            f.flush()
            os.fsync(f.fileno())

    def _wait_turn(self) -> None:
        while not self.may_download():
            self.stats.waited_s += self.poll_s
            self._sleep(self.poll_s)


def _read_validator(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text()).get("validator")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None

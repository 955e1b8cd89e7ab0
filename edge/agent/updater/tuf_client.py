"""The fleet's TUF repository as the station sees it: ``tuf.ngclient.Updater``.

The station trusts one thing, the root metadata shipped at provisioning
(``<updates>/tuf/root.json``); every later root, timestamp, snapshot and targets metadata is
verified by ngclient against it (signatures and thresholds, versions never going back, expiry,
lengths and hashes). Every failure becomes an ``UpdateRefused`` whose message says, in words a
fleet admin understands, which attack or mistake it looks like.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

from edge.agent.updater.errors import DownloadInterrupted, UpdateRefused

log = logging.getLogger(__name__)


def explain(exc: Exception) -> str:
    """One sentence for the fleet: what the verification failure means."""
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return (
            f"refused: expired metadata ({exc}); the fleet stopped refreshing its repository or "
            "someone replays an old view of it (freeze attack)"
        )
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return (
            f"refused: metadata older than what this station already trusts ({exc}); a replayed "
            "or frozen repository (rollback attack)"
        )
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return (
            f"refused: metadata not signed by the keys the station trusts ({exc}); signed with "
            "a wrong key, or altered"
        )
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        return f"refused: a file does not match its signed length or hash ({exc}); tampered"
    return f"refused: the release repository failed verification ({exc})"


class HttpsFetcher(FetcherInterface):
    """ngclient's downloads with httpx, checking the fleet's TLS certificate against the CA
    the station pinned at provisioning (``verify``), not the system's CAs."""

    def __init__(self, verify: ssl.SSLContext | bool = True, timeout_s: float = 30.0) -> None:
        self.verify = verify
        self.timeout_s = timeout_s

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            with (
                httpx.Client(verify=self.verify, timeout=self.timeout_s) as client,
                client.stream("GET", url, headers={"User-Agent": "ewp-station"}) as response,
            ):
                if response.status_code != 200:
                    raise tuf_errors.DownloadHTTPError(
                        f"{url}: HTTP {response.status_code}", response.status_code
                    )
                yield from response.iter_bytes()
        except httpx.TimeoutException as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise tuf_errors.DownloadError(f"{url}: {type(exc).__name__}: {exc}") from exc


def tls_verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    """What HTTPS downloads check the fleet's certificate against: the pinned CA if any."""
    return ssl.create_default_context(cafile=ca_file) if ca_file is not None else True


class TrustedRepository:
    """One view of the repository: ``refresh`` once, then look targets up."""

    def __init__(
        self,
        metadata_dir: Path,
        metadata_url: str,
        targets_url: str,
        *,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        if not (metadata_dir / "root.json").exists():
            raise UpdateRefused(
                f"refused: no trusted root in {metadata_dir}; the station was provisioned "
                "without the fleet's update root (re-run provisioning)"
            )
        self.targets_url = targets_url.rstrip("/") + "/"
        self._updater = Updater(
            metadata_dir=str(metadata_dir),
            metadata_base_url=metadata_url,
            target_base_url=self.targets_url,
            config=UpdaterConfig(app_user_agent="ewp-station"),
            fetcher=HttpsFetcher(verify),
            bootstrap=None,
        )
        self._refreshed = False

    def refresh(self) -> None:
        try:
            self._updater.refresh()
        except tuf_errors.DownloadError as exc:
            raise DownloadInterrupted(f"cannot reach the release repository: {exc}") from exc
        except tuf_errors.RepositoryError as exc:
            raise UpdateRefused(explain(exc)) from exc
        self._refreshed = True

    def target(self, path: str) -> TargetFile:
        if not self._refreshed:
            self.refresh()
        try:
            info = self._updater.get_targetinfo(path)
        except tuf_errors.DownloadError as exc:
            raise DownloadInterrupted(f"cannot reach the release repository: {exc}") from exc
        except tuf_errors.RepositoryError as exc:
            raise UpdateRefused(explain(exc)) from exc
        if info is None:
            raise UpdateRefused(f"refused: {path} is not a target the fleet's repository signed")
        return info

    def url(self, info: TargetFile) -> str:
        """Where the file is served: consistent snapshots prefix the name with its hash."""
        directory, sep, name = info.path.rpartition("/")
        return f"{self.targets_url}{directory}{sep}{info.hashes['sha256']}.{name}"

    def verified(self, info: TargetFile, path: Path) -> bool:
        """The file's length and hashes are the signed ones (``find_cached_target``)."""
        return self._updater.find_cached_target(info, str(path)) is not None


def custom(info: TargetFile) -> dict[str, Any]:
    """The release fields the fleet put in the target's signed ``custom``."""
    value = info.custom.get("ewp") if isinstance(info.custom, dict) else None
    return value if isinstance(value, dict) else {}

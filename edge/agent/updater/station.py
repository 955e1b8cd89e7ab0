"""An update offer in, ``UpdateStatus`` reports out: the station's side of one update.

Order of the checks, so that nothing is downloaded that cannot be installed: the offer's
version against the installed one (never older unless the fleet asks a rollback), the TUF
metadata (refresh; the target must be signed, and its signed release fields must match the
offer), the lowest version it upgrades from, the free space. Then the delta if one applies
(its result must verify as the full target), else the full bundle; install side by side;
switch; the agent restarts and the new version reports ``healthy`` after its health check.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile

from edge.agent.updater.checks import is_downgrade
from edge.agent.updater.delta import DeltaError, apply_delta
from edge.agent.updater.download import Downloader
from edge.agent.updater.errors import (
    DownloadInterrupted,
    DownloadPaused,
    UpdateRefused,
    UpdaterError,
)
from edge.agent.updater.layout import Layout
from edge.agent.updater.tuf_client import TrustedRepository, custom
from protocol.envelope import utc_timestamp
from protocol.updates import UpdateOffer, UpdateStatus, version_key

log = logging.getLogger(__name__)

RESERVE_BYTES = 200 * 1024**2  # the outbox's own floor: an update never eats into it
UNPACK_FACTOR = 3  # bundle copy + unpacked wheels, against the bundle's size


@dataclass
class Outcome:
    state: str  # the last state reported
    restart: bool = False  # the switch happened: the agent must restart now
    bytes_transferred: int = 0
    delta_used: bool = False


class StationUpdater:
    def __init__(
        self,
        *,
        station_id: str,
        layout: Layout,
        repository: Callable[[], TrustedRepository],
        downloader: Downloader,
        report: Callable[[UpdateStatus], None],
        trial_state: Callable[[], dict[str, Any]] = dict,
        reserve_bytes: int = RESERVE_BYTES,
        max_attempts: int = 30,
        backoff_s: Callable[[int], float] = lambda n: min(60.0, 2.0 * n),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.station_id = station_id
        self.layout = layout
        self._repository = repository
        self.downloader = downloader
        self._report = report
        self._trial_state = trial_state
        self.reserve_bytes = reserve_bytes
        self.max_attempts = max_attempts
        self._backoff = backoff_s
        self._sleep = sleep

    def _send(self, offer: UpdateOffer, state: str, **fields: Any) -> None:
        status = UpdateStatus(
            station_id=self.station_id,
            rollout_id=offer.rollout_id,
            component=offer.component,
            version=offer.version,
            from_version=self.layout.installed_version(),
            state=state,
            at=utc_timestamp(),
            **fields,
        )
        self._report(status)

    def handle(self, offer: UpdateOffer) -> Outcome:
        try:
            return self._handle(offer)
        except UpdateRefused as exc:
            self._send(offer, "refused", reason=str(exc)[:300])
            return Outcome("refused", bytes_transferred=self.downloader.stats.bytes_transferred)
        except (UpdaterError, OSError) as exc:
            self._send(offer, "failed", reason=f"{type(exc).__name__}: {exc}"[:300])
            return Outcome("failed", bytes_transferred=self.downloader.stats.bytes_transferred)

    def _handle(self, offer: UpdateOffer) -> Outcome:
        installed = self.layout.installed_version()
        if offer.component != "agent":
            raise UpdateRefused("refused: firmware offers go to the firmware updater")
        if offer.action == "cancel":
            self._send(offer, "cancelled")
            return Outcome("cancelled")
        trial = self.layout.trial()
        if trial is not None:
            # a version on trial reports for itself once its health check passed
            if trial.get("version") != offer.version:
                self._send(offer, "offered", reason=f"version {trial.get('version')} is on trial")
            return Outcome("offered")
        if self.layout.failed_before(offer.rollout_id, offer.version):
            log.info(
                "offer %s %s failed here before: not tried again", offer.rollout_id, offer.version
            )
            return Outcome("failed")
        if installed == offer.version:
            self._send(offer, "healthy", reason="already running this version")
            return Outcome("healthy")
        if is_downgrade(offer, installed):
            raise UpdateRefused(
                f"refused: {offer.version} is older than the installed {installed} "
                "(a replayed offer; only a rollback rollout may downgrade)"
            )
        repo = self._repository()
        repo.refresh()
        info = repo.target(offer.target)
        fields = custom(info)
        if fields.get("version") != offer.version or fields.get("kind") != offer.component:
            raise UpdateRefused(
                f"refused: the signed target {offer.target} is {fields.get('kind')} "
                f"{fields.get('version')}, not the offered {offer.component} {offer.version}"
            )
        minimum = fields.get("min_upgrade_from")
        if (
            installed is not None
            and isinstance(minimum, str)
            and version_key(installed) < version_key(minimum)
        ):
            raise UpdateRefused(
                f"refused: {offer.version} upgrades only from {minimum} or later; "
                f"this station runs {installed}"
            )
        self._check_space(info)
        bundle, delta_used = self._obtain(offer, repo, info, installed)
        if offer.install_before is not None and _past(offer.install_before):
            self._send(offer, "offered", reason="the maintenance window closed; install waits")
            return Outcome("offered", bytes_transferred=self.downloader.stats.bytes_transferred)
        self._send(offer, "installing")
        version = self.layout.install_bundle(bundle)
        trial = self._trial_state() | {
            "rollout_id": offer.rollout_id,
            "component": offer.component,
            "delta": delta_used,
            "bytes_done": self.downloader.stats.bytes_transferred,
            "bytes_total": info.length,
        }
        self._send(offer, "restarting", delta=delta_used)
        self.layout.switch(version, trial, deadline_s=offer.health_deadline_s)
        bundle.unlink(missing_ok=True)
        return Outcome(
            "restarting",
            restart=True,
            bytes_transferred=self.downloader.stats.bytes_transferred,
            delta_used=delta_used,
        )

    def _check_space(self, info: TargetFile) -> None:
        self.layout.cache.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.layout.cache).free
        needed = info.length * UNPACK_FACTOR + self.reserve_bytes
        if free < needed:
            raise UpdateRefused(
                f"refused before downloading: the release needs {_mb(needed)} "
                f"({_mb(info.length)} bundle, unpacked, and the outbox reserve), {_mb(free)} free"
            )

    def _obtain(
        self, offer: UpdateOffer, repo: TrustedRepository, info: TargetFile, installed: str | None
    ) -> tuple[Path, bool]:
        out = self.layout.cache / f"agent-{offer.version}.bundle.tar"
        old = self.layout.installed_bundle()
        if offer.delta_target and offer.delta_from == installed and old is not None:
            try:
                dinfo = repo.target(offer.delta_target)
                delta = self._download(offer, repo, dinfo)
                out.write_bytes(apply_delta(old.read_bytes(), delta.read_bytes(), info.length))
                delta.unlink(missing_ok=True)
                if repo.verified(info, out):
                    return out, True
                log.warning("the delta's result does not verify as %s: full bundle", info.path)
            except (UpdateRefused, DeltaError) as exc:
                log.warning("delta %s unusable (%s): downloading the full bundle", offer, exc)
            out.unlink(missing_ok=True)
        path = self._download(offer, repo, info)
        path.replace(out)
        return out, False

    def _download(self, offer: UpdateOffer, repo: TrustedRepository, info: TargetFile) -> Path:
        name = info.path.replace("/", "_")
        part = self.layout.cache / f"{name}.part"
        progress = self.downloader.progress

        def report(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)

        self._send(offer, "downloading", bytes_total=info.length)
        attempt = 0
        while True:
            try:
                self.downloader.progress = report
                self.downloader.fetch(repo.url(info), part, info.length)
                break
            except DownloadPaused:
                continue  # packets first: the next fetch waits for its turn, then resumes
            except DownloadInterrupted as exc:
                attempt += 1
                log.info("download of %s interrupted (%s); attempt %d", info.path, exc, attempt)
                if attempt == self.max_attempts:
                    raise
                self._sleep(self._backoff(attempt))
            finally:
                self.downloader.progress = progress
        if not repo.verified(info, part):
            part.unlink(missing_ok=True)
            part.with_name(part.name + ".json").unlink(missing_ok=True)
            raise UpdateRefused(
                f"refused: {info.path} does not match its signed length and hashes (tampered); "
                "nothing installed"
            )
        self._send(offer, "downloaded", bytes_done=info.length, bytes_total=info.length)
        part.with_name(part.name + ".json").unlink(missing_ok=True)
        return part


def _past(when: str) -> bool:
    try:
        end = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return False
    return datetime.now(UTC) > end


def _mb(size: int) -> str:
    return f"{size / 1024**2:.1f} MB"

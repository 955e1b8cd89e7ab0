"""Releases side by side on the station, the switch, the boot counter and the rollback.

```
<root>/releases/<version>/   site/ (the unpacked wheels), release.json, bundle.tar, .complete
<root>/current  -> releases/<version>     what systemd starts (PYTHONPATH=<root>/current/site)
<root>/previous -> releases/<version>     the last version that proved healthy
<root>/state/update.json                  a switch on trial: version, boots, deadline, outbox
<root>/state/reports/*.json               UpdateStatus reports not yet sent to the fleet
<root>/cache/                              downloads (.part files survive restarts)
<root>/tuf/                                trusted TUF metadata; root.json from provisioning
```

A release is unpacked at its final path and marked complete last, so a half-unpacked one is
never started (it is unpacked again). The switch writes the trial state first, then points
``previous`` and ``current`` with ``os.replace`` of a fresh symlink (atomic on POSIX): killed at
any point, the station starts either the old version (the trial is dropped as interrupted) or
the new one on trial. Each start on trial counts a boot; past ``max_boots`` or the deadline the
station goes back to ``previous`` on its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from edge.agent.updater.checks import read_manifest
from edge.agent.updater.errors import UpdateRefused, UpdaterError
from protocol.private_files import sync_directory, write_atomic

log = logging.getLogger(__name__)

MAX_BOOTS = 3
STATE_MODE = 0o644  # the updater's state, reports and trusted root: readable, not secret
LOG_TAIL = 4000
FAULT_ENV = "EWP_UPDATE_FAULT"  # fault injection for tests: SIGKILL at the named step

BootOutcome = Literal["normal", "trial", "rolled-back", "interrupted"]


def _checkpoint(step: str) -> None:
    if os.environ.get(FAULT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, sort_keys=True).encode(), mode=STATE_MODE)


@dataclass(frozen=True)
class BootDecision:
    outcome: BootOutcome
    version: str | None  # what runs now
    trial: dict[str, Any] | None  # the trial state (outcome "trial") or the one just ended


class Layout:
    def __init__(self, root: Path, *, log_file: Path | None = None) -> None:
        self.root = root
        self.releases = root / "releases"
        self.current = root / "current"
        self.previous = root / "previous"
        self.state_file = root / "state" / "update.json"
        self.failed_file = root / "state" / "failed.json"
        self.reports_dir = root / "state" / "reports"
        self.cache = root / "cache"
        self.tuf_dir = root / "tuf"
        self.log_file = log_file or root / "logs" / "agent.log"

    # --- what is installed ---

    def _version_of(self, link: Path) -> str | None:
        try:
            return PurePosixPath(os.readlink(link)).name
        except OSError:
            return None

    def installed_version(self) -> str | None:
        return self._version_of(self.current)

    def previous_version(self) -> str | None:
        return self._version_of(self.previous)

    def release_dir(self, version: str) -> Path:
        return self.releases / version

    def is_complete(self, version: str) -> bool:
        return (self.release_dir(version) / ".complete").exists()

    def installed_bundle(self) -> Path | None:
        version = self.installed_version()
        if version is None:
            return None
        path = self.release_dir(version) / "bundle.tar"
        return path if path.exists() else None

    def trust_root(self, root_json: bytes) -> None:
        """Provisioning: the fleet's update root the station trusts from now on (ngclient
        accepts later roots only when this one's keys signed them)."""
        self.tuf_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.tuf_dir / "root.json", root_json, mode=STATE_MODE)

    # --- install ---

    def install_bundle(self, bundle: Path) -> str:
        """Unpack a verified agent bundle at ``releases/<version>/``; returns the version."""
        manifest, members = _read_bundle(bundle)
        version = str(manifest["version"])
        target = self.release_dir(version)
        if self.is_complete(version):
            return version
        if version in (self.installed_version(), self.previous_version()):
            raise UpdaterError(f"release {version} is in use and incomplete: not overwritten")
        if target.exists():
            shutil.rmtree(target)  # a half-unpacked attempt
        site = target / "site"
        site.mkdir(parents=True)
        with tarfile.open(bundle, "r:") as tar:
            for name in members:
                f = tar.extractfile(name)
                if f is None:
                    raise UpdateRefused(f"refused: bundle member {name} is not a file")
                data = f.read()
                if hashlib.sha256(data).hexdigest() != manifest["files"][name]:
                    raise UpdateRefused(f"refused: {name} does not match the release manifest")
                if name.endswith(".whl"):
                    _unpack_wheel(data, site, name)
        (target / "release.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        shutil.copyfile(bundle, target / "bundle.tar")
        _checkpoint("before-complete")
        (target / ".complete").write_text(version, encoding="ascii")
        sync_directory(target)
        self._prune(keep={version})
        return version

    def _prune(self, keep: set[str]) -> None:
        keep |= {v for v in (self.installed_version(), self.previous_version()) if v}
        if not self.releases.exists():
            return
        for path in self.releases.iterdir():
            if path.name not in keep and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)

    # --- switch, boot, confirm, rollback ---

    def _point(self, link: Path, version: str) -> None:
        tmp = link.with_name(f".{link.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(f"releases/{version}", tmp)
        os.replace(tmp, link)
        sync_directory(link.parent)

    def activate_first(self, version: str) -> None:
        """Provisioning: the first release becomes ``current`` without a trial."""
        if not self.is_complete(version):
            raise UpdaterError(f"release {version} is not installed")
        self._point(self.current, version)

    def switch(self, version: str, trial: dict[str, Any], *, deadline_s: float) -> None:
        """Make ``version`` current on trial; the old current becomes ``previous``."""
        if not self.is_complete(version):
            raise UpdaterError(f"release {version} is not completely installed")
        old = self.installed_version()
        if old is None:
            raise UpdaterError("no current release: provision the station first")
        state = dict(trial) | {
            "version": version,
            "from_version": old,
            "boots": 0,
            "deadline_at": time.time() + deadline_s,
        }
        _write_json(self.state_file, state)
        _checkpoint("after-state")
        self._point(self.previous, old)
        _checkpoint("after-previous")
        self._point(self.current, version)
        _checkpoint("after-current")

    def trial(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            log.warning("update state %s unreadable: dropped", self.state_file)
            self.state_file.unlink()
            return None
        return data if isinstance(data, dict) else None

    def on_boot(self, *, max_boots: int = MAX_BOOTS, now: float | None = None) -> BootDecision:
        """Called at every start before the agent: count the boot of a version on trial and go
        back to ``previous`` when it had its chances (boots, deadline)."""
        trial = self.trial()
        current = self.installed_version()
        if trial is None:
            return BootDecision("normal", current, None)
        if current != trial.get("version"):
            # killed before the switch completed: the old version never stopped being current
            self.state_file.unlink()
            self._remember_failed(trial)
            self.queue_report(trial, "failed", "the switch was interrupted; the old version runs")
            return BootDecision("interrupted", current, trial)
        trial["boots"] = int(trial.get("boots", 0)) + 1
        now = time.time() if now is None else now
        if trial["boots"] > max_boots or now > float(trial.get("deadline_at", 0)):
            why = (
                f"did not pass its health check after {trial['boots'] - 1} starts"
                if trial["boots"] > max_boots
                else "did not pass its health check before the deadline"
            )
            self.rollback(f"version {trial['version']} {why}")
            return BootDecision("rolled-back", self.installed_version(), trial)
        _write_json(self.state_file, trial)
        return BootDecision("trial", current, trial)

    def confirm(self) -> dict[str, Any] | None:
        """The version on trial passed its health check: it stays; report success."""
        trial = self.trial()
        if trial is None:
            return None
        self.queue_report(trial, "healthy", None)
        self.state_file.unlink()
        sync_directory(self.state_file.parent)
        return trial

    def rollback(self, reason: str) -> bool:
        """Go back to ``previous`` (the trial failed); returns False when there is no trial."""
        trial = self.trial()
        if trial is None:
            return False
        old = str(trial["from_version"])
        if self.installed_version() != old:
            if not self.is_complete(old):
                raise UpdaterError(f"cannot roll back: release {old} is gone")
            self._point(self.current, old)
        self.queue_report(trial, "rolled-back", reason, log_tail=self.log_tail())
        self._remember_failed(trial)
        self.state_file.unlink()
        sync_directory(self.state_file.parent)
        log.warning("rolled back to %s: %s", old, reason)
        return True

    def _remember_failed(self, trial: dict[str, Any]) -> None:
        failed = self._failed()
        failed[str(trial.get("rollout_id"))] = str(trial.get("version"))
        _write_json(self.failed_file, dict(list(failed.items())[-50:]))

    def _failed(self) -> dict[str, str]:
        try:
            data = json.loads(self.failed_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def failed_before(self, rollout_id: str, version: str) -> bool:
        """This rollout's version already failed here: its retained offer is not tried again
        (the fleet has the report; a new rollout may offer it again)."""
        return self._failed().get(rollout_id) == version

    # --- reports waiting for the link ---

    def queue_report(
        self, trial: dict[str, Any], state: str, reason: str | None, *, log_tail: str | None = None
    ) -> Path:
        report = {
            "rollout_id": trial.get("rollout_id"),
            "component": trial.get("component", "agent"),
            "version": trial.get("version"),
            "from_version": trial.get("from_version"),
            "state": state,
            "delta": bool(trial.get("delta", False)),
            "bytes_done": int(trial.get("bytes_done", 0)),
            "bytes_total": int(trial.get("bytes_total", 0)),
            "reason": reason[:300] if reason else None,
            "log_tail": log_tail,
            "at": time.time(),
        }
        path = self.reports_dir / f"{time.time_ns()}-{state}.json"
        _write_json(path, report)
        return path

    def pending_reports(self) -> list[tuple[Path, dict[str, Any]]]:
        if not self.reports_dir.exists():
            return []
        out = []
        for path in sorted(self.reports_dir.glob("*.json")):
            try:
                out.append((path, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
        return out

    def log_tail(self, limit: int = LOG_TAIL) -> str | None:
        try:
            with self.log_file.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return None


def _read_bundle(bundle: Path) -> tuple[dict[str, Any], list[str]]:
    try:
        with tarfile.open(bundle, "r:") as tar:
            manifest = read_manifest(tar)
            names = [m.name for m in tar.getmembers() if m.isfile() and m.name != "release.json"]
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise UpdateRefused(f"refused: not a release bundle ({exc})") from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or sorted(files) != sorted(names):
        raise UpdateRefused("refused: the bundle's files are not the ones its manifest lists")
    return manifest, names


def _unpack_wheel(data: bytes, site: Path, name: str) -> None:
    """Install a wheel the way ``pip install --target`` lays it out (purelib/platlib data
    directories folded into ``site``), refusing any path outside it."""
    import io

    try:
        wheel = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UpdateRefused(f"refused: {name} is not a wheel ({exc})") from exc
    with wheel:
        for info in wheel.infolist():
            parts = PurePosixPath(info.filename).parts
            if not parts or info.filename.startswith("/") or ".." in parts:
                raise UpdateRefused(f"refused: {name} holds an unsafe path {info.filename!r}")
            if len(parts) > 2 and parts[0].endswith(".data"):
                if parts[1] not in ("purelib", "platlib"):
                    continue  # scripts and headers: the station starts python -m
                parts = parts[2:]
            if info.is_dir():
                continue
            dest = site.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(wheel.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                dest.chmod(mode | 0o600)

"""Controller firmware updates: the same TUF verification, then the board link with mpremote.

```
<root>/firmware/releases/<version>/   main.py, *.mpy, firmware.json (unpacked from the bundle)
<root>/firmware/current -> releases/<version>   what the board runs
```

The deploy itself (maintenance mode, mpremote copy, hashes read back, reset, the new version
answering a ping) is ``ewp firmware deploy``'s (ewp/firmware_bundle.py), handed in as
``deploy``: it returns the version the board reports after the reset. The previous firmware's
files stay on the station until the new firmware answered with the offered version; if it does
not, they are deployed again and the update is reported ``rolled-back``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from edge.agent.updater.checks import is_downgrade, read_manifest
from edge.agent.updater.download import Downloader
from edge.agent.updater.errors import UpdateRefused, UpdaterError
from edge.agent.updater.tuf_client import TrustedRepository, custom
from protocol.envelope import utc_timestamp
from protocol.updates import UpdateOffer, UpdateStatus

log = logging.getLogger(__name__)

Deploy = Callable[[Path], str]  # a firmware directory -> the version the board then reports


class FirmwareUpdater:
    def __init__(
        self,
        *,
        station_id: str,
        root: Path,
        repository: Callable[[], TrustedRepository],
        downloader: Downloader,
        deploy: Deploy,
        report: Callable[[UpdateStatus], None],
    ) -> None:
        self.station_id = station_id
        self.root = root / "firmware"
        self.releases = self.root / "releases"
        self.current = self.root / "current"
        self.cache = root / "cache"
        self._repository = repository
        self.downloader = downloader
        self._deploy = deploy
        self._report = report

    def installed_version(self) -> str | None:
        try:
            return PurePosixPath(os.readlink(self.current)).name
        except OSError:
            return None

    def _send(self, offer: UpdateOffer, state: str, **fields: object) -> None:
        self._report(
            UpdateStatus.model_validate(
                {
                    "station_id": self.station_id,
                    "rollout_id": offer.rollout_id,
                    "component": "firmware",
                    "version": offer.version,
                    "from_version": self.installed_version(),
                    "state": state,
                    "at": utc_timestamp(),
                }
                | fields
            )
        )

    def handle(self, offer: UpdateOffer) -> str:
        """Verify, deploy, confirm or restore; returns the final state reported."""
        try:
            return self._handle(offer)
        except UpdateRefused as exc:
            self._send(offer, "refused", reason=str(exc)[:300])
            return "refused"
        except (UpdaterError, OSError) as exc:
            self._send(offer, "failed", reason=f"{type(exc).__name__}: {exc}"[:300])
            return "failed"

    def _handle(self, offer: UpdateOffer) -> str:
        if offer.component != "firmware":
            raise UpdateRefused("refused: not a firmware offer")
        installed = self.installed_version()
        if is_downgrade(offer, installed):
            raise UpdateRefused(
                f"refused: firmware {offer.version} is older than the installed {installed}"
            )
        repo = self._repository()
        repo.refresh()
        info = repo.target(offer.target)
        fields = custom(info)
        if fields.get("kind") != "firmware" or fields.get("version") != offer.version:
            raise UpdateRefused(
                f"refused: the signed target {offer.target} is {fields.get('kind')} "
                f"{fields.get('version')}, not firmware {offer.version}"
            )
        self.cache.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.cache).free
        if free < info.length * 3:
            raise UpdateRefused(f"refused before downloading: {info.length * 3} bytes needed")
        part = self.cache / (info.path.replace("/", "_") + ".part")
        self._send(offer, "downloading", bytes_total=info.length)
        self.downloader.fetch(repo.url(info), part, info.length)
        if not repo.verified(info, part):
            part.unlink(missing_ok=True)
            raise UpdateRefused(
                f"refused: {info.path} does not match its signed length and hashes (tampered)"
            )
        self._send(offer, "downloaded", bytes_done=info.length, bytes_total=info.length)
        new_dir = self._unpack(part, offer.version)
        part.unlink(missing_ok=True)
        self._send(offer, "installing")
        previous = self.releases / installed if installed else None
        reported: str | None
        try:
            reported = self._deploy(new_dir)
            why = f"the board reports firmware {reported}, not {offer.version}"
        except Exception as exc:  # the board link: any failure means "did not come up"
            reported, why = None, f"{type(exc).__name__}: {exc}"
        if reported == offer.version:
            self._point(offer.version)
            self._send(offer, "healthy")
            self._prune()
            return "healthy"
        log.error("firmware %s did not come up (%s)", offer.version, why)
        if previous is None or not previous.exists():
            self._send(offer, "failed", reason=f"{why}; no previous firmware kept to restore"[:300])
            return "failed"
        back = self._deploy(previous)
        self._send(
            offer,
            "rolled-back",
            reason=f"{why}; firmware {installed} restored (the board reports {back})"[:300],
        )
        return "rolled-back"

    def adopt(self, firmware_dir: Path, version: str) -> None:
        """Provisioning: the firmware `ewp firmware deploy` put on the board, kept for a
        rollback."""
        self.adopt_dir(self.root.parent, firmware_dir, version)

    @staticmethod
    def adopt_dir(root: Path, firmware_dir: Path, version: str) -> None:
        releases = root / "firmware" / "releases"
        target = releases / version
        if not target.exists():
            shutil.copytree(firmware_dir, target)
        link = root / "firmware" / "current"
        tmp = link.with_name(".current.tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(f"releases/{version}", tmp)
        os.replace(tmp, link)

    def _unpack(self, bundle: Path, version: str) -> Path:
        target = self.releases / version
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        try:
            with tarfile.open(bundle, "r:") as tar:
                files = read_manifest(tar)["files"]
                for member in tar.getmembers()[1:]:
                    name = member.name
                    digest = files.get(name)
                    parts = PurePosixPath(name).parts
                    if (
                        digest is None
                        or not member.isfile()
                        or len(parts) != 2
                        or parts[0] != "firmware"
                    ):
                        raise UpdateRefused(f"refused: unexpected bundle member {name!r}")
                    src = tar.extractfile(member)
                    assert src is not None
                    data = src.read()
                    if hashlib.sha256(data).hexdigest() != digest:
                        raise UpdateRefused(f"refused: {name} does not match the manifest")
                    (target / parts[1]).write_bytes(data)
        except (OSError, tarfile.TarError, ValueError, KeyError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise UpdateRefused(f"refused: not a firmware bundle ({exc})") from exc
        return target

    def _point(self, version: str) -> None:
        tmp = self.current.with_name(".current.tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(f"releases/{version}", tmp)
        os.replace(tmp, self.current)

    def _prune(self) -> None:
        keep = {self.installed_version()}
        for path in self.releases.iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

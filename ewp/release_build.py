"""``ewp release build``: the project's releases as bundles (fleet/updates/bundle.py).

- agent: the project's wheel (``pip wheel --no-deps .``) and the wheels of its locked
  dependencies (``pip download --only-binary=:all: --no-deps --require-hashes -r LOCK``, for the
  station's platform), plus any wheels from ``--wheels DIR`` (an air-gapped build);
- firmware: the controller's firmware cross-compiled with mpy-cross (ewp/firmware_bundle.py):
  ``main.py``, the ``.mpy`` modules and ``firmware.json`` with their hashes.

See docs/decisions/0050-release-bundle.md and docs/tools/ewp-release.md.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from fleet.updates.bundle import ReleaseManifest, write_bundle
from fleet.updates.errors import UpdateError

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent
STATION_PLATFORM = "manylinux2014_aarch64"  # Raspberry Pi OS 64-bit


def _pip(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise UpdateError(f"pip {args[0]} failed: {proc.stderr.strip()[-800:]}")


def build_agent_release(
    out: Path,
    *,
    version: str,
    changelog: str = "",
    min_upgrade_from: str | None = None,
    lock: Path | None = None,
    wheels: Path | None = None,
    platform: str = STATION_PLATFORM,
    project: Path = PROJECT,
) -> ReleaseManifest:
    with tempfile.TemporaryDirectory(prefix="ewp-release-") as tmp:
        wheel_dir = Path(tmp)
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheel_dir), str(project))
        if lock is not None:
            _pip(
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--no-deps",
                "--require-hashes",
                "--platform",
                platform,
                "--python-version",
                f"{sys.version_info.major}.{sys.version_info.minor}",
                "--dest",
                str(wheel_dir),
                "-r",
                str(lock),
            )
        files = {p.name: p for p in sorted(wheel_dir.glob("*.whl"))}
        if wheels is not None:
            files |= {p.name: p for p in sorted(wheels.glob("*.whl"))}
        if not files:
            raise UpdateError("no wheels to bundle")
        return write_bundle(
            out,
            kind="agent",
            version=version,
            files=files,
            changelog=changelog,
            min_upgrade_from=min_upgrade_from,
        )


def build_firmware_release(
    out: Path,
    *,
    version: str | None = None,
    changelog: str = "",
    min_upgrade_from: str | None = None,
    source: Path | None = None,
) -> ReleaseManifest:
    """The firmware's version is the one in firmware/version.py (what the board reports);
    ``version``, if given, must agree."""
    from ewp.firmware_bundle import FIRMWARE_SOURCE, build_bundle

    with tempfile.TemporaryDirectory(prefix="ewp-firmware-") as tmp:
        bundle = build_bundle(Path(tmp), source or FIRMWARE_SOURCE)
        if version is not None and version != bundle.version:
            raise UpdateError(
                f"firmware/version.py says {bundle.version}, not {version}: bump it first"
            )
        files = {p.name: p for p in sorted(bundle.path.iterdir()) if p.is_file()}
        return write_bundle(
            out,
            kind="firmware",
            version=bundle.version,
            files=files,
            changelog=changelog,
            min_upgrade_from=min_upgrade_from,
        )

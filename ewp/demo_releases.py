"""The releases of `ewp demo --rollout` (ewp/demo_rollout.py): a TUF repository with a
throwaway root key, the project's wheel built once (what `ewp release build agent` bundles,
without the dependency wheels: the demo's stations share its virtualenv), and bundles of it at
the running version and the next. The next version's wheel says it is that version (its
METADATA); the broken build also carries one default the stations' sensors do not have.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from fleet.errors import FleetError
from fleet.updates.bundle import write_bundle
from fleet.updates.keys import init_keys, sign_root
from fleet.updates.publish import publish_release
from fleet.updates.repository import FileRepository

# The broken build: one default only that build carries (docs/tools/ewp-demo.md).
BROKEN_FILE = "edge/agent/settings.py"
BROKEN_CLASS = "class FingerprintSensorSettings"
BROKEN_LINE = "password: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 0\n"
BROKEN_DEFAULT = "0x0BAD0BAD"


def release_version(version: str) -> str:
    """MAJOR.MINOR.MICRO of a package version (a local or dev part dropped)."""
    from packaging.version import Version

    major, minor, micro = [*Version(version).release, 0, 0, 0][:3]
    return f"{major}.{minor}.{micro}"


def bump(version: str) -> str:
    """The next patch version."""
    major, minor, micro = release_version(version).split(".")
    return f"{major}.{minor}.{int(micro) + 1}"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _break_sensor_default(text: str) -> str:
    """The broken build's one change: a default fingerprint password the sensors lack."""
    start = text.find(BROKEN_CLASS)
    at = text.find(BROKEN_LINE, start) if start >= 0 else -1
    if at < 0:
        raise FleetError(f"cannot build the broken release: {BROKEN_LINE!r} not found")
    fault = BROKEN_LINE.replace("= 0\n", f"= {BROKEN_DEFAULT}\n")
    return text[:at] + fault + text[at + len(BROKEN_LINE) :]


def versioned_wheel(wheel: Path, out_dir: Path, version: str, *, broken: bool = False) -> Path:
    """A copy of the project's wheel that says it is ``version`` (its METADATA, so the agent's
    ``ewp.__version__`` and the packets it stamps change), and with ``broken`` the sensor
    default above; RECORD updated to match."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        dist = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD")).rsplit("/", 1)[0]
        changes: dict[str, Callable[[str], str]] = {
            f"{dist}/METADATA": lambda text: re.sub(
                r"(?m)^Version: .*$", f"Version: {version}", text, count=1
            )
        }
        if broken:
            changes[BROKEN_FILE] = _break_sensor_default
        changed: dict[str, bytes] = {}
        for info in src.infolist():
            data = src.read(info)
            if info.filename in changes:
                data = changes[info.filename](data.decode()).encode()
                changed[info.filename] = data
            elif info.filename == f"{dist}/RECORD":
                lines = data.decode().splitlines()
                data = ("\n".join(_rerecord(line, changed) for line in lines) + "\n").encode()
            dst.writestr(info, data)
    return out


def _rerecord(line: str, changed: dict[str, bytes]) -> str:
    path = line.split(",", 1)[0]
    return _record_line(path, changed[path]) if path in changed else line


class Releases:
    """The demo's release repository: keys (one root key: a throwaway fleet), the project's
    wheel built once, and the bundles made from it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys = root / "keys"
        self.repo_dir = root / "repo"
        self.wheel: Path | None = None
        self.repo: FileRepository | None = None
        self.running = release_version(_project_version())
        self.new = bump(self.running)

    def prepare(self) -> Path:
        """Keys, the root, the wheel, and the running release published; returns its bundle."""
        init_keys(self.keys, self.repo_dir / "metadata", root_keys=1, threshold=1)
        sign_root(self.repo_dir / "metadata", self.keys / "root-1.pem")
        self.repo = FileRepository(self.repo_dir, self.keys)
        wheels = self.root / "wheel"
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
             str(wheels), str(_project_dir())],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise FleetError(f"building the agent wheel failed: {proc.stderr.strip()[-800:]}")
        self.wheel = next(wheels.glob("*.whl"))
        bundle = self.bundle(self.running, self.wheel, "the release the stations run")
        publish_release(self.repo, bundle)
        return bundle

    def bundle(self, version: str, wheel: Path, changelog: str) -> Path:
        out = self.root / f"agent-{version}.tar"
        write_bundle(
            out, kind="agent", version=version, files={wheel.name: wheel}, changelog=changelog
        )
        return out

    def publish_new(self, *, broken: bool) -> tuple[int, dict[str, int]]:
        """Build and publish the next version; its size and its deltas' sizes."""
        assert self.wheel is not None and self.repo is not None
        wheel = versioned_wheel(self.wheel, self.root / self.new, self.new, broken=broken)
        changelog = "demo: broken sensor default" if broken else "demo: the next version"
        published = publish_release(self.repo, self.bundle(self.new, wheel, changelog))
        return published.length, dict(published.deltas)

    def root_json(self) -> bytes:
        return (self.repo_dir / "metadata" / "1.root.json").read_bytes()

    def fleet_settings(self) -> str:
        return (
            f'\n[updates]\nrepository = "{self.repo_dir}"\nkeys = "{self.keys}"\n'
            "[rollouts]\ntick_interval_s = 1\n"
        )


def _project_dir() -> Path:
    """The source tree `ewp release build` builds (an installed ewp has none)."""
    project = Path(__file__).resolve().parent.parent
    if not (project / "pyproject.toml").exists():
        raise FleetError(f"the rollout demo builds the project: no source tree at {project}")
    return project


def _project_version() -> str:
    from ewp import __version__

    return __version__

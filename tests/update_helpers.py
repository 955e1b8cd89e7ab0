"""A real release repository for update tests: keys, a root signed by two of three root keys,
and bundles made of small files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fleet.updates.bundle import write_bundle
from fleet.updates.keys import init_keys, sign_root
from fleet.updates.publish import Published, publish_release
from fleet.updates.repository import Expiry, FileRepository

if TYPE_CHECKING:
    from fleet.tls import TlsFiles


def make_repository(tmp: Path, expiry: Expiry | None = None) -> FileRepository:
    keys, repo_dir = tmp / "keys", tmp / "repo"
    init_keys(keys, repo_dir / "metadata", root_keys=3, threshold=2)
    sign_root(repo_dir / "metadata", keys / "root-1.pem")
    _, _, published = sign_root(repo_dir / "metadata", keys / "root-3.pem")
    assert published
    return FileRepository(repo_dir, keys, expiry)


def agent_bundle(
    tmp: Path,
    version: str,
    modules: dict[str, bytes],
    *,
    min_upgrade_from: str | None = None,
    changelog: str = "",
) -> Path:
    """A bundle whose ``wheels/`` hold the given files (not real wheels: enough for the
    repository; the updater tests build real wheels)."""
    src = tmp / f"src-{version}"
    src.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, data in modules.items():
        (src / name).write_bytes(data)
        files[name] = src / name
    out = tmp / f"agent-{version}.tar"
    write_bundle(
        out,
        kind="agent",
        version=version,
        files=files,
        changelog=changelog,
        min_upgrade_from=min_upgrade_from,
    )
    return out


def publish_agent(
    repo: FileRepository, tmp: Path, version: str, modules: dict[str, bytes], **kw: str
) -> Published:
    return publish_release(repo, agent_bundle(tmp, version, modules, **kw))


def make_wheel(out_dir: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A real (minimal) wheel: the files plus a ``.dist-info`` with METADATA, WHEEL, RECORD."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}.dist-info"
    entries = dict(files)
    entries[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
    entries[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: ewp-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, data in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    entries[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(entries):
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[path])
    return wheel


class RepositoryServer:
    """The fleet's repository app (fleet/updates/serve.py) under uvicorn in a thread."""

    def __init__(self, repo_dir: Path, tls: TlsFiles | None = None) -> None:
        import threading

        import uvicorn

        from fleet.broker.mosquitto import free_port
        from fleet.updates.serve import repository_app

        self.port = free_port()
        self.scheme = "https" if tls is not None else "http"
        certs = {} if tls is None else {"ssl_certfile": tls.cert_file, "ssl_keyfile": tls.key_file}
        config = uvicorn.Config(
            repository_app(repo_dir),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            **certs,  # type: ignore[arg-type]
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> RepositoryServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the repository server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

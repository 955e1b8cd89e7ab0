"""A throwaway PostgreSQL cluster, for tests and benchmarks: ``initdb`` in a temporary directory,
``postgres`` on a free port of 127.0.0.1 (and a unix socket in the same directory).

PostgreSQL refuses to run as root, and the test suite runs as root in CI: when we are root the
server runs as the ``postgres`` system user (``runuser -u postgres --``) in a directory handed
over to it. Clients connect over TCP with ``trust`` authentication: the cluster listens on the
loopback address only and lives as long as one test session or benchmark.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from fleet.broker.mosquitto import free_port

SERVER_USER = "postgres"
SEARCH = ("/usr/lib/postgresql",)  # Debian: /usr/lib/postgresql/15/bin


class PostgresUnavailableError(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """The newest PostgreSQL server's bin directory (``EWP_PG_BIN`` overrides)."""
    override = os.environ.get("EWP_PG_BIN")
    if override:
        return Path(override)
    candidates: list[tuple[int, Path]] = []
    for root in SEARCH:
        for version_dir in Path(root).glob("*"):
            if (version_dir / "bin" / "initdb").is_file() and version_dir.name.isdigit():
                candidates.append((int(version_dir.name), version_dir / "bin"))
    on_path = shutil.which("initdb")
    if not candidates and on_path:
        return Path(on_path).parent
    if not candidates:
        raise PostgresUnavailableError(
            "PostgreSQL server binaries not found (initdb, pg_ctl): install the `postgresql` "
            "Debian package (`make test` does: scripts/ensure-system-deps.sh) or set EWP_PG_BIN"
        )
    return max(candidates)[1]


class PostgresCluster:
    """One ``initdb``-made cluster; ``create_database`` gives each test its own database.

    ``durable=False`` (tests) turns fsync off: the tests check behaviour, not power cuts, and
    run several times faster. Benchmarks use ``durable=True``, PostgreSQL's defaults.
    """

    def __init__(self, *, durable: bool = False, extra_settings: dict[str, str] | None = None):
        self.bin_dir = find_bin_dir()
        self.durable = durable
        self.extra_settings = extra_settings or {}
        self.host = "127.0.0.1"
        self.port = 0
        self.directory: Path | None = None
        self._as_root = os.geteuid() == 0
        self._started = False

    # -- life cycle -------------------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        return subprocess.run(
            command, check=check, capture_output=True, text=True, timeout=120, cwd="/"
        )

    def start(self) -> PostgresCluster:
        directory = Path(tempfile.mkdtemp(prefix="ewp-pg-"))
        self.directory = directory
        data = directory / "data"
        if self._as_root:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError as exc:
                raise PostgresUnavailableError(
                    f"running as root needs the `{SERVER_USER}` system user to run PostgreSQL "
                    "(the `postgresql` Debian package creates it)"
                ) from exc
            os.chown(directory, account.pw_uid, account.pw_gid)
        directory.chmod(0o700)
        try:
            self._run(
                "initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--locale=C.UTF-8", "--no-instructions",
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise PostgresUnavailableError(f"initdb failed: {exc.stderr.strip()}") from exc
        settings = {
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{directory}'",
            "max_connections": "200",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        settings |= self.extra_settings
        with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# ewp throwaway cluster\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        for attempt in range(5):
            self.port = free_port()
            result = self._run(
                "pg_ctl", "-D", str(data), "-l", str(directory / "server.log"), "-w", "-t", "60",
                "-o", f"-p {self.port}", "start",
                check=False,
            )  # fmt: skip
            if result.returncode == 0:
                break
            if attempt == 4:
                log_text = (directory / "server.log").read_text(errors="replace")[-2000:]
                raise PostgresUnavailableError(f"PostgreSQL did not start: {log_text}")
        self._started = True
        self._wait_listening()
        return self

    def _wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise PostgresUnavailableError(f"PostgreSQL does not listen on {self.host}:{self.port}")

    def stop(self) -> None:
        if self.directory is None:
            return
        if self._started:
            self._run(
                "pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop",
                check=False,
            )  # fmt: skip
            self._started = False
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases --------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3 driver)."""
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def execute(self, statement: str) -> None:
        """One statement outside a transaction (CREATE/DROP DATABASE), as the superuser."""
        import psycopg  # the fleet extra; imported here so SQLite-only users never need it

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(statement.encode())

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        clause = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

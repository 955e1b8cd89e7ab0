"""systemd's part for ewp-agent.service, in miniature, for the restart tests.

What deploy/systemd/ewp-agent.service asks of systemd: ``ExecStartPre`` (the boot counter),
``ExecStart`` with ``PYTHONPATH=<root>/current/site`` resolved at each start, ``Type=notify``
(a start counts only when READY=1 arrives on ``NOTIFY_SOCKET``), ``TimeoutStartSec``,
``Restart=always``, and after ``StartLimitBurst`` failed starts the ``OnFailure=`` unit, which
runs the rollback from ``<root>/previous/site``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[4]


@dataclass
class Supervisor:
    root: Path
    env: dict[str, str]
    start_timeout_s: float = 15.0
    burst: int = 3
    history: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def _env(self, site: Path) -> dict[str, str]:
        return (
            os.environ | self.env | {"PYTHONPATH": f"{site}:{PROJECT}", "EWP_ROOT": str(self.root)}
        )

    def _run_step(self, step: str, site: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "edge.agent.updater", step, "--root", str(self.root)],
            env=self._env(site),
            check=True,
            timeout=30,
            capture_output=True,
        )

    def start_once(self) -> str:
        self._run_step("boot", self.root / "current" / "site")  # ExecStartPre
        sock_dir = tempfile.mkdtemp(prefix="ewp-sd-")
        sock_path = os.path.join(sock_dir, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(0.2)
        log = (self.root / "logs").resolve()
        log.mkdir(parents=True, exist_ok=True)
        with (log / "agent.log").open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ewp_app"],
                env=self._env(self.root / "current" / "site") | {"NOTIFY_SOCKET": sock_path},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.start_timeout_s
        outcome = "timeout"
        try:
            while time.monotonic() < deadline:
                try:
                    message = sock.recv(4096).decode()
                except TimeoutError:
                    message = ""
                if "READY=1" in message.split("\n"):
                    outcome = "ready"
                    break
                code = self.process.poll()
                if code is not None:
                    outcome = f"exit {code}"
                    break
        finally:
            sock.close()
            os.unlink(sock_path)
            os.rmdir(sock_dir)
        if outcome == "timeout":
            self.process.kill()
            self.process.wait()
        self.history.append(outcome)
        return outcome

    def run_until_ready(self, max_starts: int = 8) -> list[str]:
        failures = 0
        for _ in range(max_starts):
            if self.start_once() == "ready":
                return self.history
            failures += 1
            if failures >= self.burst:  # StartLimitBurst reached: OnFailure=
                self.history.append("on-failure")
                self._run_step("rollback", self.root / "previous" / "site")
                failures = 0
        raise AssertionError(f"never ready: {self.history}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)

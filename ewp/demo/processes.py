"""The demo's child processes: `ewp` commands in their own sessions, logged, stopped cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path


def ewp_command(*args: str) -> list[str]:
    """The installed `ewp` script (not `python -m`, which would put the working directory
    first on sys.path), falling back to the module."""
    script = Path(sys.executable).with_name("ewp")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "ewp", *args]


def spawn(logs: Path, name: str, args: list[str]) -> subprocess.Popen[bytes]:
    """``args`` in a session of its own (Ctrl-C reaches the demo only), output to
    ``logs/<name>.log``."""
    out = (logs / f"{name}.log").open("ab")
    return subprocess.Popen(
        args, stdout=out, stderr=subprocess.STDOUT, cwd=logs, start_new_session=True
    )


def stop_all(procs: Iterable[subprocess.Popen[bytes] | None], *, timeout_s: float) -> None:
    """SIGTERM to every process still running (all at once, so they stop side by side), then
    wait for each; one still running after ``timeout_s`` is killed."""
    running = [p for p in procs if p is not None and p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()

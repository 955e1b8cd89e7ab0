"""`ewp` as a real process, for the end-to-end tests of the `ewp sim` and `ewp sensor` commands."""

from __future__ import annotations

import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EWP = (
    str(Path(sys.executable).with_name("ewp"))
    if Path(sys.executable).with_name("ewp").exists()
    else (shutil.which("ewp") or "ewp")
)


def ewp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EWP, *args], capture_output=True, text=True, timeout=timeout)


@contextmanager
def simulator(device: str, *args: str, lines: int = 1) -> Iterator[list[str]]:
    """Start `ewp sim DEVICE ARGS`, yield the URLs it prints, stop it with SIGTERM (exit 0)."""
    proc = subprocess.Popen(
        [EWP, "sim", device, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    try:
        try:
            urls = [printed.get(timeout=20) for _ in range(lines)]
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"the simulator printed no URL: {proc.communicate()[1]}") from None
        yield urls
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

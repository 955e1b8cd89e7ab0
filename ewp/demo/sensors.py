"""The demo's simulated devices: `ewp sim fingerprint|iris --count N` processes, one device
per TCP port, at most ``SIMS_PER_PROCESS`` devices a process (so they use every core)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ewp.demo.processes import ewp_command, stop_all
from fleet.errors import FleetError

SIMS_PER_PROCESS = 8  # simulated devices per `ewp sim` process


class SimulatedSensors:
    """One simulated device of each kind per station; ``seed`` makes the applicants repeat."""

    def __init__(self, logs: Path, count: int, seed: int) -> None:
        self.logs = logs
        self.count = count
        self.seed = seed
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *, irises: bool) -> tuple[list[str], list[str] | None]:
        """The fingerprint sensors' URLs, and the iris cameras' when ``irises``, in station
        order."""
        fingerprints = self._start("fingerprint")
        return fingerprints, self._start("iris") if irises else None

    def _start(self, kind: str) -> list[str]:
        started = []
        for first in range(0, self.count, SIMS_PER_PROCESS):
            count = min(SIMS_PER_PROCESS, self.count - first)
            command = [
                "sim",
                kind,
                "--listen",
                "tcp://127.0.0.1:0",
                "--count",
                str(count),
                "--seed",
                str(self.seed + first),
            ]
            proc = subprocess.Popen(
                ewp_command(*command),
                stdout=subprocess.PIPE,
                stderr=(self.logs / f"sim-{kind}-{first // SIMS_PER_PROCESS}.log").open("ab"),
                cwd=self.logs,
                start_new_session=True,
            )
            self.procs.append(proc)
            started.append((proc, count))
        urls = []
        for proc, count in started:
            assert proc.stdout is not None
            for _ in range(count):
                line = proc.stdout.readline().decode().strip()
                if not line:
                    raise FleetError(f"the {kind} simulators did not start; see {self.logs}")
                urls.append(line)
        return urls

    def stop(self) -> None:
        stop_all(self.procs, timeout_s=10)
        self.procs = []

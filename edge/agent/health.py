"""The station's heartbeat: queue depth, oldest pending packet, disk, CPU temperature,
sensors, link, and which configuration runs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edge.agent.outbox import Outbox
from edge.agent.uplink import LinkStats
from protocol.bounds import SHORT_TEXT_LEN
from protocol.envelope import utc_timestamp
from protocol.messages import (
    AppliedConfigRef,
    DiskHealth,
    Environment,
    Heartbeat,
    QueueHealth,
    SensorHealth,
)

CPU_THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def read_cpu_temperature(path: Path = CPU_THERMAL_ZONE) -> float | None:
    """The SoC temperature in °C (the kernel reports millidegrees); None where unreadable."""
    try:
        return round(int(path.read_text(encoding="ascii").strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


class SensorBoard:
    """The latest known state of each sensor, updated by whoever talks to it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, SensorHealth] = {}

    def set(self, kind: str, state: str, detail: str | None = None) -> None:
        """``detail`` longer than a heartbeat carries (a driver's message with its advice) is
        cut to fit, marked with an ellipsis; the full text is in the agent's log."""
        if detail is not None and len(detail) > SHORT_TEXT_LEN:
            detail = detail[: SHORT_TEXT_LEN - 1] + "…"
        with self._lock:
            self._states[kind] = SensorHealth.model_validate(
                {"kind": kind, "state": state, "detail": detail}
            )

    def snapshot(self) -> list[SensorHealth]:
        with self._lock:
            return [self._states[k] for k in sorted(self._states)]


class HealthReporter:
    def __init__(
        self,
        *,
        station_id: str,
        outbox: Outbox,
        data_dir: Path,
        software_version: str,
        sensors: SensorBoard,
        environment: Callable[[], Environment | None] = lambda: None,
        clock: Callable[[], float] = time.time,
        cpu_temperature: Callable[[], float | None] = read_cpu_temperature,
        interval_s: Callable[[], float | None] = lambda: None,
        config: Callable[[], AppliedConfigRef | None] = lambda: None,
    ) -> None:
        self.station_id = station_id
        self._outbox = outbox
        self._data_dir = data_dir
        self._software_version = software_version
        self._sensors = sensors
        self._environment = environment
        self._clock = clock
        self._cpu_temperature = cpu_temperature
        self._interval_s = interval_s
        self._config = config
        self._started = clock()
        self._seq = 0

    def heartbeat(self, link: LinkStats) -> Heartbeat:
        now = self._clock()
        stats = self._outbox.stats()
        st = os.statvfs(self._data_dir)
        self._seq += 1
        return Heartbeat(
            station_id=self.station_id,
            at=utc_timestamp(),
            seq=self._seq,
            uptime_s=round(now - self._started, 1),
            software_version=self._software_version,
            queue=QueueHealth(
                pending=stats.pending,
                sending=stats.sending,
                acked=stats.acked,
                pending_bytes=stats.pending_bytes,
                oldest_pending_age_s=stats.oldest_pending_age(now),
                created_total=stats.created_total,
                last_seq=stats.last_seq,
            ),
            disk=DiskHealth(
                free_bytes=st.f_bavail * st.f_frsize, total_bytes=st.f_blocks * st.f_frsize
            ),
            sensors=self._sensors.snapshot(),
            link=link.as_heartbeat_fields(),
            environment=self._environment(),
            cpu_temperature_c=self._cpu_temperature(),
            interval_s=self._interval_s(),
            config=self._config(),
        )

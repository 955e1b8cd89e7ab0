"""The kiosk's always-visible status bar and its banners, from what the agent already knows.

Read on the web server's thread: its own outbox connection (one per thread, as the outbox
requires), the uplink's link flag, the sensor board, the controller's tamper latch, the disk.
Nothing here waits on the network or a sensor.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.agent.errors import OutboxError
from edge.agent.outbox import Outbox
from edge.agent.service import StationAgent

BACKLOG_OLD_S = 24 * 3600.0  # a packet waiting longer than this: the "old backlog" banner
DISK_NEARLY_FULL = 2  # banner when free space is under this many times the outbox's floor


@dataclass(frozen=True)
class Sensor:
    kind: str
    state: str  # ok | missing | error | unknown
    detail: str | None


@dataclass(frozen=True)
class StatusBar:
    online: bool
    offline_since: float | None
    waiting: int
    oldest_age_s: float | None
    sensors: tuple[Sensor, ...]
    controller: str | None  # None: no controller fitted; else ok | missing | locked
    disk_free_bytes: int
    disk_total_bytes: int
    banners: tuple[str, ...]  # message keys: banner-tamper, banner-disk, banner-backlog, ...


class StatusReader:
    def __init__(
        self,
        agent: StationAgent,
        *,
        update_pending: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.agent = agent
        self._update_pending = update_pending
        self._clock = clock
        self._outbox: Outbox | None = None
        self._offline_since: float | None = clock()
        self._was_online = False

    def close(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None

    def _outbox_stats(self) -> tuple[int, float | None]:
        try:
            if self._outbox is None:
                self._outbox = Outbox(self.agent.settings.outbox_path, min_free_bytes=0)
            stats = self._outbox.stats()
        except OutboxError:
            return -1, None
        return stats.waiting, stats.oldest_pending_age(self._clock())

    def read(self) -> StatusBar:
        now = self._clock()
        uplink = self.agent.uplink
        online = uplink is not None and uplink.stats.connected
        if online:
            self._offline_since = None
        elif self._offline_since is None or self._was_online:
            self._offline_since = now
        self._was_online = online
        waiting, oldest = self._outbox_stats()
        data_dir = self.agent.settings.station.data_dir
        disk = shutil.disk_usage(data_dir if Path(data_dir).exists() else "/")
        controller = self.agent.controller
        controller_state = None
        if controller is not None:
            controller_state = (
                "locked" if controller.locked else "ok" if controller.connected else "missing"
            )
        banners = []
        if controller is not None and controller.locked:
            banners.append("banner-tamper")
        floor = self.agent.settings.outbox.min_free_mb * 1024 * 1024
        if disk.free < max(floor * DISK_NEARLY_FULL, disk.total // 20):
            banners.append("banner-disk")
        if oldest is not None and oldest > BACKLOG_OLD_S:
            banners.append("banner-backlog")
        if self._update_pending():
            banners.append("banner-update")
        return StatusBar(
            online=online,
            offline_since=self._offline_since,
            waiting=waiting,
            oldest_age_s=oldest,
            sensors=tuple(
                Sensor(s.kind, str(s.state), s.detail) for s in self.agent.sensors.snapshot()
            ),
            controller=controller_state,
            disk_free_bytes=disk.free,
            disk_total_bytes=disk.total,
            banners=tuple(banners),
        )

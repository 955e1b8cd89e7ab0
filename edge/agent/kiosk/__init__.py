"""The station's kiosk UI: the enrolment workflow on a touchscreen (docs/kiosk.md).

``KioskServer`` puts it together: the workflow's worker (flow.py) owns the station agent,
the web app (app.py) serves 127.0.0.1 only, and the one-time unlock URL (access.py) is written
for the kiosk's Chromium.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import uvicorn

from edge.agent.kiosk.access import KioskAccess
from edge.agent.kiosk.app import Kiosk, build_app
from edge.agent.kiosk.flow import KioskFlow
from edge.agent.kiosk.status import StatusReader
from edge.agent.service import StationAgent

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


def update_pending(agent: StationAgent) -> bool:
    """An update offered and not installed yet, or a new version on trial (not confirmed)."""
    updates = agent.updates
    return updates is not None and (updates.pending or updates.layout.trial() is not None)


class KioskServer:
    """The kiosk for one running agent: ``start()``, read ``unlock_url``, ``stop()``."""

    def __init__(self, agent: StationAgent, *, port: int | None = None) -> None:
        settings = agent.settings.kiosk
        self.agent = agent
        self.port = settings.port if port is None else port
        if self.port == 0:
            with socket.socket() as s:
                s.bind((HOST, 0))
                self.port = s.getsockname()[1]
        self.flow = KioskFlow(agent, idle_logout_s=settings.idle_logout_s)
        self.access = KioskAccess(self.run_dir, HOST, self.port)
        self.status = StatusReader(agent, update_pending=lambda: update_pending(agent))
        self.kiosk = Kiosk(self.flow, self.access, self.status, language=settings.language)
        self.app = build_app(self.kiosk)
        config = uvicorn.Config(
            self.app,
            host=HOST,
            port=self.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.unlock_url = ""

    @property
    def run_dir(self) -> Path:
        return self.agent.settings.station.data_dir / "kiosk"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Start the station (sensors, uplink) and serve the kiosk in a thread."""
        self.flow.start()
        self.unlock_url = self.access.new_unlock_url()
        self._thread = threading.Thread(target=self.server.run, name="kiosk-http", daemon=True)
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the kiosk could not listen on {self.url}: see the log")
            threading.Event().wait(0.05)
        log.info("kiosk serving on %s (one-time link in %s)", self.url, self.access.url_file)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flow.stop()

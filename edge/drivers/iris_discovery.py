"""Finding iris cameras by USB vendor and product id, and noticing them come and go.

An iris camera is a USB CDC device: it appears as ``/dev/ttyACM<n>`` under a name that can
change each time it is plugged in. :func:`find_iris_cameras` asks pyserial's ``list_ports``
for the serial ports whose USB ids match; :class:`IrisCameraWatcher` polls it and reports
cameras added and removed through a callback (hot-plug). Both take the ``list_ports``
function as a parameter, so tests (and hosts with another enumeration) pass their own.

The default ids ``1209:0001`` are the pid.codes test id, a placeholder: configure the ids of
the camera (or the bridge around its vendor SDK) that the fleet uses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

DEFAULT_VID = 0x1209
DEFAULT_PID = 0x0001

ListPorts = Callable[[], Iterable[Any]]


def _comports() -> list[Any]:
    from serial.tools import list_ports

    return list(list_ports.comports())


@dataclass(frozen=True, order=True)
class FoundCamera:
    """A serial port whose USB ids are those of an iris camera."""

    port: str
    serial_number: str | None
    vid: int
    pid: int
    description: str = ""
    location: str | None = None

    def describe(self) -> dict[str, object]:
        return {
            "port": self.port,
            "serial_number": self.serial_number,
            "usb_id": f"{self.vid:04x}:{self.pid:04x}",
            "description": self.description,
            "location": self.location,
        }


def find_iris_cameras(
    vid: int = DEFAULT_VID, pid: int = DEFAULT_PID, *, list_ports: ListPorts | None = None
) -> list[FoundCamera]:
    """The serial ports of USB devices with ids ``vid:pid``, sorted by port name.

    ``list_ports`` defaults to ``serial.tools.list_ports.comports``; it returns objects with
    ``device``, ``vid``, ``pid``, ``serial_number``, ``description`` and ``location``.
    """
    ports = list((list_ports or _comports)())
    found = [
        FoundCamera(
            port=str(info.device),
            serial_number=getattr(info, "serial_number", None) or None,
            vid=int(info.vid),
            pid=int(info.pid),
            description=str(getattr(info, "description", "") or ""),
            location=getattr(info, "location", None) or None,
        )
        for info in ports
        if getattr(info, "vid", None) == vid and getattr(info, "pid", None) == pid
    ]
    return sorted(found)


@dataclass(frozen=True)
class HotplugEvent:
    kind: Literal["added", "removed"]
    camera: FoundCamera


class IrisCameraWatcher:
    """Poll for iris cameras and report each one plugged in or pulled out.

    ::

        watcher = IrisCameraWatcher(on_change=lambda event: ..., interval=1.0)
        watcher.start()   # a daemon thread; the first poll reports the cameras present
        ...
        watcher.stop()

    :meth:`poll` does one round synchronously (and returns its events), which is what tests
    call. A camera is the same camera while its port and serial number are the same; one that
    comes back under a new port name is reported removed, then added. Errors of ``list_ports``
    and of the callback are logged, and the watching goes on.
    """

    def __init__(
        self,
        on_change: Callable[[HotplugEvent], None],
        vid: int = DEFAULT_VID,
        pid: int = DEFAULT_PID,
        *,
        interval: float = 1.0,
        list_ports: ListPorts | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.on_change = on_change
        self.vid = vid
        self.pid = pid
        self.interval = interval
        self._list_ports = list_ports
        self._known: dict[tuple[str, str | None], FoundCamera] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def cameras(self) -> list[FoundCamera]:
        """The cameras present at the last poll."""
        with self._lock:
            return sorted(self._known.values())

    def poll(self) -> list[HotplugEvent]:
        """One round: list the ports, report what changed since the last round."""
        try:
            current = find_iris_cameras(self.vid, self.pid, list_ports=self._list_ports)
        except Exception:
            log.exception("listing serial ports failed; trying again in %g s", self.interval)
            return []
        now = {(camera.port, camera.serial_number): camera for camera in current}
        with self._lock:
            removed = [camera for key, camera in self._known.items() if key not in now]
            added = [camera for key, camera in now.items() if key not in self._known]
            self._known = now
        events = [HotplugEvent("removed", camera) for camera in sorted(removed)]
        events += [HotplugEvent("added", camera) for camera in sorted(added)]
        for event in events:
            log.info(
                "iris camera %s: %s (serial %s)",
                event.kind,
                event.camera.port,
                event.camera.serial_number,
            )
            try:
                self.on_change(event)
            except Exception:
                log.exception("the hot-plug callback failed for %s", event)
        return events

    def start(self) -> None:
        """Poll every ``interval`` seconds in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("the watcher is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="iris-hotplug", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def __enter__(self) -> IrisCameraWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""What every simulated serial device has, whatever its protocol.

A device (``fingerprint.SimulatedFingerprintSensor``, ``iris.SimulatedIrisCamera``) speaks its
own protocol with its own codec; what :class:`SimulatedDevice` gives it is the same for all:

* the host line it is plugged into: :meth:`~SimulatedDevice._plugged_in` around a session
  records the stream, :meth:`~SimulatedDevice.unplug` pulls the cable (what the host sends
  is read with ``host_frames.serve_frames`` into the device's own codec);
* its armed faults (a ``faults.FaultPlan``): :meth:`~SimulatedDevice.inject`,
  :meth:`~SimulatedDevice.clear_faults`;
* who is in front of it: a tester's presenter (``manual``) or a scripted applicant
  (``auto``, see ``applicants``), switched with :meth:`~SimulatedDevice.set_mode`.

:meth:`RunningSimulator.start` serves a device in this process for a test or a demo, on TCP or
a pty.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, Self, TypeVar

from simulators.faults import F, FaultPlan
from simulators.serial_endpoints import ByteStream, Endpoint, Transport, serve_session

Mode = Literal["manual", "auto"]


class Presenter(Protocol):
    """Who is in front of a device: a tester's (``manual``) or a scripted applicant (``auto``)."""

    @property
    def mode(self) -> str: ...

    def describe(self) -> dict[str, object]: ...


P = TypeVar("P", bound=Presenter)


class SimulatedDevice(Generic[F, P]):
    """The part of a simulated serial device that does not depend on its protocol.

    A subclass sets ``_presenter`` (from :meth:`_make_presenter`) in its ``__init__`` and runs
    its session inside :meth:`_plugged_in`. ``_lock`` guards the device's state; the control
    methods may be called from any thread while a host talks to the device.
    """

    def __init__(self, faults: FaultPlan[F]) -> None:
        self._lock = threading.RLock()
        self._stream: ByteStream | None = None
        self._presenter: P
        self.faults = faults

    def _make_presenter(self, mode: Mode) -> P:
        raise NotImplementedError

    def set_mode(self, mode: Mode) -> None:
        if mode not in ("manual", "auto"):
            raise ValueError(f"mode must be manual or auto, got {mode!r}")
        with self._lock:
            if self._presenter.mode != mode:
                self._presenter = self._make_presenter(mode)

    def inject(self, fault: F | str | dict[str, object]) -> F:
        """Arm a fault (a ``Fault``, a spec string, or a table as in a fault file)."""
        return self.faults.inject(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def unplug(self) -> bool:
        """Pull the cable now; False when no host is connected."""
        with self._lock:
            stream = self._stream
        if stream is None:
            return False
        stream.unplug()
        return True

    @contextlib.contextmanager
    def _plugged_in(self, stream: ByteStream) -> Iterator[None]:
        """A host is on ``stream`` for the duration (the caller resets its state first)."""
        with self._lock:
            self._stream = stream
        try:
            yield
        finally:
            with self._lock:
                if self._stream is stream:
                    self._stream = None

    def _line_bytes(self) -> dict[str, int] | None:
        """Bytes sent and received on the host line, for ``status()`` (caller holds the lock)."""
        stream = self._stream
        if stream is None:
            return None
        return {"sent": stream.bytes_written, "received": stream.bytes_read}

    def session(self, stream: ByteStream) -> None:
        raise NotImplementedError


@dataclass(kw_only=True)
class DeviceConfig(Generic[F]):
    """What every simulated device is configured with (the command line maps onto it).

    A device's config adds its own settings and checks them in :meth:`problems`; all the
    problems are reported at once, as one ValueError.
    """

    mode: Mode = "manual"
    seed: int = 0
    index: int = 0  # which of several devices in one process (its own applicants)
    poor_rate: float = 0.0  # auto: the share of poor presentations
    pace: bool = False  # send at the line's speed
    faults: list[F] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What is wrong with the settings (a device's config extends this)."""
        problems = []
        if self.mode not in ("manual", "auto"):
            problems.append(f"mode must be manual or auto, got {self.mode!r}")
        if not 0.0 <= self.poor_rate <= 1.0:
            problems.append(f"poor rate must be 0..1, got {self.poor_rate}")
        return problems

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))


D = TypeVar("D", bound="SimulatedDevice[Any, Any]")


@dataclass
class RunningSimulator(Generic[D]):
    """A simulated device behind an endpoint: ``url`` for the host, ``device`` to control it."""

    device: D
    endpoint: Endpoint

    @classmethod
    def start(
        cls, device: D, transport: Transport = "tcp", host: str = "127.0.0.1", port: int = 0
    ) -> Self:
        """Serve ``device`` in this process (one thread); pass ``.url`` to pyserial.

        ``transport="tcp"`` gives ``socket://HOST:PORT`` (port 0 picks a free one); ``"pty"``
        gives a ``/dev/pts/N`` path that pyserial opens like a USB serial adapter (see
        ``serve_session``).
        """
        return cls(device, serve_session(device.session, transport, host, port))

    @property
    def url(self) -> str:
        return self.endpoint.url

    def stop(self) -> None:
        self.endpoint.stop()
        with contextlib.suppress(Exception):
            self.device.unplug()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

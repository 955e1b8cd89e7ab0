"""The kiosk's side of the enrolment workflow: the same workflow as `ewp enrol`, another screen.

One worker thread owns the station (``StationAgent.start``: sensors, the capture side of the
outbox) and runs every job that touches them — log in, capture, save — one at a time, as the
agent requires. The web side never waits on a sensor or the network: it reads a snapshot of
``KioskState`` and submits jobs. ``KioskConsole`` is the workflow's ``Console``: guidance goes
into the state the screen polls; ``resolve`` (no attempt reached the threshold) waits for the
operator's answer from the screen.

Screens: ``login`` → ``login-finger`` → ``home`` (find an application, walk-in form, status
search) → ``confirm`` (applicant, exceptions declared, language) → ``capture`` (→ ``resolve``)
→ ``review`` → ``saving`` → ``saved`` → ``home``. A sensor fault mid-capture gives
``capture-failed`` with a retry. Everything lives in this process's memory: a browser reload
shows the current screen again, captures included; captured images are never written to disk.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from PIL import Image

from edge.agent.capture import WorkflowResult
from edge.agent.capture_console import (
    Declared,
    ExceptionReason,
    Guidance,
    KeepBest,
    Resolution,
    ShownCapture,
)
from edge.agent.errors import AgentError
from edge.agent.i18n import ApplicantLanguage, applicant_language
from edge.agent.operators import Operator, OperatorError, OperatorSession
from edge.agent.outbox import OutboxEntry
from edge.agent.preregistered import CacheLockedError
from edge.agent.service import SENSOR_CHECK_INTERVAL_S, StationAgent
from edge.agent.terminal import login_prompt_key
from edge.drivers.fingerprint_r30x import FingerprintError
from edge.drivers.iris_camera import IrisCameraError
from protocol.enrolment import Application

log = logging.getLogger(__name__)

Screen = Literal[
    "login",
    "login-finger",
    "home",
    "confirm",
    "capture",
    "resolve",
    "capture-failed",
    "review",
    "saving",
    "saved",
]
T = TypeVar("T")
JOB_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Shown:
    """The best capture of a position so far, ready to show (PNG bytes, in memory)."""

    position: str
    attempt: int
    quality: int
    png: bytes


@dataclass
class KioskState:
    screen: Screen = "login"
    operator: Operator | None = None
    application: Application | None = None
    applicant_language: ApplicantLanguage = "en"
    declared: dict[str, Declared] = field(default_factory=dict)
    guidance: Guidance | None = None
    position: str | None = None  # the finger or eye being captured
    attempt: int = 0
    attempts: int = 0
    last_quality: int | None = None
    attempts_used: dict[str, int] = field(default_factory=dict)
    done: dict[str, str] = field(default_factory=dict)  # position -> good | low | exception
    shown: dict[str, Shown] = field(default_factory=dict)
    resolving: tuple[str, int | None] | None = None
    result: WorkflowResult | None = None
    saved: OutboxEntry | None = None
    error: str | None = None  # what went wrong, as the agent or a driver said it
    message: str | None = None  # a message key for the screen (login failed, not found, ...)
    message_params: dict[str, str] = field(default_factory=dict)
    version: int = 0  # bumped on every change: the screen polls for it

    @property
    def busy(self) -> bool:
        return self.screen in ("login-finger", "capture", "resolve", "saving")


class KioskConsole:
    """The workflow's console: guidance into the state; ``resolve`` asks the screen."""

    def __init__(self, flow: KioskFlow) -> None:
        self.flow = flow
        self.answers: queue.Queue[Resolution] = queue.Queue()

    def guide(self, guidance: Guidance) -> None:
        params = guidance.params
        with self.flow.changing() as state:
            state.guidance = guidance
            if guidance.key in ("place-finger", "look-at-camera"):
                state.position = str(params.get("finger", params.get("eye", "")))
                state.attempt = int(params.get("attempt", 1))
                state.attempts = int(params.get("attempts", 1))
                state.last_quality = None
                if state.position != "both-eyes":
                    state.attempts_used[state.position] = state.attempt
                else:
                    for eye in ("left-eye", "right-eye"):
                        if eye not in state.done:
                            state.attempts_used[eye] = state.attempt
            elif "quality" in params:
                state.last_quality = int(params["quality"])
            where = str(params.get("finger", params.get("eye", "")))
            if guidance.key in ("finger-good", "iris-good"):
                state.done[where] = "good"
            elif guidance.key in ("finger-accepted-low", "iris-accepted-low"):
                state.done[where] = "low"
        self.flow.touch()

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        if best_quality is None:
            answer: Resolution = Declared("unusable", "no usable capture")
        else:
            with self.flow.changing() as state:
                state.screen = "resolve"
                state.resolving = (position, best_quality)
            answer = self.answers.get()
            with self.flow.changing() as state:
                state.screen = "capture"
                state.resolving = None
        if isinstance(answer, Declared):
            with self.flow.changing() as state:
                state.done[position] = "exception"
                state.declared[position] = answer
        return answer


class KioskFlow:
    """The kiosk's state and its one worker thread."""

    def __init__(
        self,
        agent: StationAgent,
        *,
        idle_logout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.agent = agent
        self.idle_logout_s = idle_logout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = KioskState()
        self._session: OperatorSession | None = None
        self._pin: str | None = None
        self._console: KioskConsole | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-station")
        self._stop = threading.Event()
        self._checker: threading.Thread | None = None

    # -- state -------------------------------------------------------------------------------

    def snapshot(self) -> KioskState:
        """A copy of the state for one page render (dicts copied; images shared, immutable)."""
        with self._lock:
            s = self._state
            return replace(
                s,
                declared=dict(s.declared),
                attempts_used=dict(s.attempts_used),
                done=dict(s.done),
                shown=dict(s.shown),
                message_params=dict(s.message_params),
            )

    @property
    def version(self) -> int:
        """Bumped on every change of the state (a screen polls for it)."""
        return self._state.version

    def changing(self) -> _Change:
        return _Change(self)

    def touch(self) -> None:
        if self._session is not None:
            self._session.touch(self._clock())

    def check_idle(self) -> bool:
        """Log the operator out when idle (never in the middle of a capture); True if so."""
        session = self._session
        if session is None or self._state.busy or not session.expired(self._clock()):
            return False
        log.info(
            "operator %s logged out after %.0f s idle",
            session.operator.operator_id,
            self.idle_logout_s,
        )
        self.logout(message="logged-out-idle")
        return True

    # -- the worker ------------------------------------------------------------------------

    def start(self) -> None:
        self._worker.submit(self.agent.start).result(timeout=60)
        self._checker = threading.Thread(
            target=self._check_sensors, name="kiosk-sensors", daemon=True
        )
        self._checker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._console is not None:
            self._console.answers.put(KeepBest())
        self._worker.submit(self.agent.stop)
        self._worker.shutdown(wait=True)

    def _check_sensors(self) -> None:
        """Probe the sensors now and then, on the worker, when nothing else is using them."""
        while not self._stop.wait(SENSOR_CHECK_INTERVAL_S):
            if not self._state.busy:
                self._worker.submit(self.agent.check_sensor)

    def call(self, job: Callable[[], T]) -> T:
        """Run a short job on the worker (sensors, station databases) and wait for it."""
        return self._worker.submit(job).result(timeout=JOB_TIMEOUT_S)

    def _background(self, job: Callable[[], None]) -> Future[None]:
        def run() -> None:
            try:
                job()
            except Exception:
                log.exception("kiosk job failed")
                with self.changing() as state:
                    state.error = "internal error: see the agent's log"
                    state.screen = "home" if self._session else "login"

        return self._worker.submit(run)

    # -- operator --------------------------------------------------------------------------

    def login(self, operator_id: str, pin: str) -> None:
        with self.changing() as state:
            if state.screen != "login":
                return
            state.screen = "login-finger"
            state.message = None
            state.guidance = Guidance("login-finger")

        def job() -> None:
            try:
                session = self.agent.operators.login(
                    self.agent.fingerprint_sensor(),
                    operator_id,
                    pin,
                    prompt=lambda m: self._guide_login(login_prompt_key(m)),
                )
            except (OperatorError, AgentError, FingerprintError) as exc:
                with self.changing() as state:
                    state.screen = "login"
                    state.error = str(exc)
                return
            session.idle_logout_s = self.idle_logout_s
            try:
                self.agent.preregistered.unlock(operator_id, pin)
            except CacheLockedError:
                log.info("operator %s has no access to pre-registered applications", operator_id)
            self._session = session
            with self.changing() as state:
                state.operator = session.operator
                state.screen = "home"
                state.error = None
                state.message = None

        self._background(job)

    def _guide_login(self, key: str) -> None:
        with self.changing() as state:
            state.guidance = Guidance(key)

    def logout(self, message: str | None = None) -> None:
        self._session = None
        self._worker.submit(self.agent.preregistered.lock)
        with self.changing() as state:
            language = state.applicant_language
            self._state = KioskState(applicant_language=language, message=message)
            self._state.version = state.version + 1
            if message == "logged-out-idle":
                self._state.message_params = {"minutes": str(round(self.idle_logout_s / 60))}

    @property
    def logged_in(self) -> bool:
        return self._session is not None

    # -- the applicant ---------------------------------------------------------------------

    def find(self, number: str) -> bool:
        """A pre-registered application by number (typed or scanned); False if not here."""
        number = number.strip().upper()
        try:
            found = self.call(lambda: self.agent.preregistered.lookup(number))
        except CacheLockedError as exc:
            with self.changing() as state:
                state.error = str(exc)
            return False
        if found is None:
            with self.changing() as state:
                state.message, state.message_params = "not-found", {"number": number[:40]}
            return False
        self.choose(found)
        return True

    def choose(self, application: Application) -> None:
        with self.changing() as state:
            state.application = application
            state.applicant_language = applicant_language(application.applicant.nationality)
            state.declared = {}
            state.screen = "confirm"
            state.message = state.error = None

    def declare(self, position: str, reason: ExceptionReason, note: str = "") -> None:
        with self.changing() as state:
            if state.screen == "confirm":
                state.declared[position] = Declared(reason, note)

    def undeclare(self, position: str) -> None:
        with self.changing() as state:
            if state.screen == "confirm":
                state.declared.pop(position, None)

    def set_applicant_language(self, language: ApplicantLanguage) -> None:
        with self.changing() as state:
            state.applicant_language = language

    def cancel(self) -> None:
        with self.changing() as state:
            if state.screen in ("confirm", "capture-failed", "review", "saved"):
                self._reset_applicant(state)

    # -- capture, review, save ----------------------------------------------------------------

    def start_capture(self) -> None:
        with self.changing() as state:
            if state.screen not in ("confirm", "capture-failed") or state.application is None:
                return
            application = state.application
            declared = dict(state.declared)
            state.screen = "capture"
            state.error = None
            state.guidance = None
            state.position, state.attempt, state.last_quality = None, 0, None
            state.attempts_used, state.shown, state.result = {}, {}, None
            state.done = {position: "exception" for position in declared}
        assert self._session is not None
        operator_id = self._session.operator.operator_id
        console = self._console = KioskConsole(self)

        def job() -> None:
            try:
                result = self.agent.capture(
                    application,
                    console,
                    operator_id=operator_id,
                    declared=declared,
                    on_capture=self._shown,
                )
            except (AgentError, FingerprintError, IrisCameraError) as exc:
                log.warning("capture of %s stopped: %s", application.application_number, exc)
                with self.changing() as state:
                    state.screen = "capture-failed"
                    state.error = str(exc)
                return
            with self.changing() as state:
                state.result = result
                state.screen = "review"
            self.touch()

        self._background(job)

    def _shown(self, capture: ShownCapture) -> None:
        """Keep the best capture of each position as a PNG, in memory, for the screens."""
        with self._lock:
            best = self._state.shown.get(capture.position)
        if best is not None and best.quality >= capture.quality:
            with self.changing() as state:
                state.last_quality = capture.quality
            return
        image = Image.frombytes("L", (capture.width, capture.height), capture.pixels)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        shown = Shown(capture.position, capture.attempt, capture.quality, buffer.getvalue())
        with self.changing() as state:
            state.shown[capture.position] = shown
            if capture.position == state.position or state.position == "both-eyes":
                state.last_quality = capture.quality

    def answer(self, resolution: Resolution) -> None:
        if self._console is not None and self._state.screen == "resolve":
            self._console.answers.put(resolution)

    def submit(self) -> None:
        with self.changing() as state:
            if state.screen != "review" or state.result is None:
                return
            result = state.result
            state.screen = "saving"

        def job() -> None:
            try:
                entry = self.agent.save(result)
            except AgentError as exc:
                with self.changing() as state:
                    state.screen = "review"
                    state.error = str(exc)
                return
            number = result.enrolment.application.application_number
            self.agent.preregistered.remove(number)
            with self.changing() as state:
                state.saved = entry
                state.screen = "saved"
                state.shown = {}  # the images leave memory once the packet is sealed
                state.result = None
            self.touch()

        self._background(job)

    def next_applicant(self) -> None:
        with self.changing() as state:
            if state.screen == "saved":
                self._reset_applicant(state)

    @staticmethod
    def _reset_applicant(state: KioskState) -> None:
        state.screen = "home"
        state.application = None
        state.declared, state.done, state.shown, state.attempts_used = {}, {}, {}, {}
        state.result = state.saved = state.guidance = state.position = None
        state.error = state.message = None


class _Change:
    """``with flow.changing() as state:`` — change the state under the lock; bump its version."""

    def __init__(self, flow: KioskFlow) -> None:
        self.flow = flow

    def __enter__(self) -> KioskState:
        self.flow._lock.acquire()
        return self.flow._state

    def __exit__(self, *exc: object) -> None:
        self.flow._state.version += 1
        self.flow._lock.release()

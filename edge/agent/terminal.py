"""Enrolment at a terminal, for stations without the kiosk screen (`ewp enrol`).

The operator logs in (PIN, then a finger on the sensor), enters an application or looks up a
pre-registered one, declares fingers or eyes that cannot be captured, and follows the capture
guidance; everything is in Thai or English. Input and output are injected, so the same code runs
under a test script.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from rich.console import Console as RichConsole

from edge.agent.capture_console import Declared, Guidance, KeepBest, Resolution
from edge.agent.errors import AgentError
from edge.agent.i18n import REASONS, Language, render
from edge.agent.operators import OperatorError, OperatorSession
from edge.agent.preregistered import CacheLockedError
from edge.agent.service import StationAgent
from edge.drivers.fingerprint_r30x import FingerprintError
from edge.drivers.iris_camera import IrisCameraError
from protocol.enrolment import APPLICANT_FIELDS, APPLICATION_KINDS, Application
from protocol.reference_data import job_types, nationalities

log = logging.getLogger(__name__)

Ask = Callable[[str, bool], str]  # (prompt, secret) -> answer; EOFError ends the session
STYLE = {"info": "", "capturing": "cyan", "good": "green", "retry": "yellow", "error": "red"}


class TerminalConsole:
    """The workflow's console on a terminal."""

    def __init__(
        self,
        out: RichConsole,
        ask: Ask,
        language: Language,
        observer: Callable[[Guidance], None] | None = None,
    ) -> None:
        self.out, self.ask, self.language = out, ask, language
        self._observer = observer  # e.g. a test's scripted applicant

    def say(self, key: str, level: str = "info", **params: object) -> None:
        style = STYLE.get(level, "")
        text = render(key, self.language, **params)
        self.out.print(f"[{style}]{text}[/{style}]" if style else text)

    def guide(self, guidance: Guidance) -> None:
        self.say(guidance.key, guidance.level, **guidance.params)
        if self._observer is not None:
            self._observer(guidance)

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        if best_quality is None:
            return Declared("unusable", "no usable capture")
        prompt = render("resolve", self.language, position=position, quality=best_quality)
        while True:
            answer = self.ask(prompt, False).strip().lower()
            if answer == "k":
                return KeepBest()
            if answer == "u":
                note = self.ask("note / หมายเหตุ", False).strip()
                return Declared("unusable", note)


class TerminalEnrolment:
    def __init__(
        self,
        agent: StationAgent,
        out: RichConsole,
        ask: Ask,
        *,
        language: Language = "th",
        observer: Callable[[Guidance], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.agent = agent
        self.out = out
        self.ask = ask
        self.language = language
        self.console = TerminalConsole(out, ask, language, observer)
        self._clock = clock
        self.session: OperatorSession | None = None
        self.saved = 0

    def _t(self, key: str, **params: object) -> str:
        return render(key, self.language, **params)

    # -- session -------------------------------------------------------------------------------

    def login(self) -> OperatorSession:
        while True:
            operator_id = self.ask(self._t("login-operator"), False).strip()
            pin = self.ask(self._t("login-pin"), True).strip()
            try:
                sensor = self.agent.fingerprint_sensor()
                session = self.agent.operators.login(
                    sensor,
                    operator_id,
                    pin,
                    prompt=lambda m: self.console.guide(Guidance(login_prompt_key(m))),
                )
            except OperatorError as exc:
                self.out.print(f"[red]{exc}[/red]")
                continue
            try:
                self.agent.preregistered.unlock(operator_id, pin)
            except CacheLockedError:
                log.info("operator %s has no access to pre-registered applications", operator_id)
            self.session = session
            self.console.say("logged-in", "good", name=session.operator.name)
            return session

    def _check_idle(self) -> None:
        if self.session is not None and self.session.expired(self._clock()):
            minutes = round(self.session.idle_logout_s / 60)
            self.logout()
            self.console.say("logged-out-idle", "retry", minutes=minutes)

    def logout(self) -> None:
        self.session = None
        self.agent.preregistered.lock()

    def run(self) -> None:
        """The menu loop, until the operator logs out or input ends."""
        try:
            while True:
                if self.session is None:
                    self.login()
                self.out.print(self._t("menu"))
                choice = self.ask(self._t("choice"), False).strip().lower()
                self._check_idle()
                if self.session is None:
                    continue
                self.session.touch(self._clock())
                if choice == "n":
                    application = self.enter_application()
                    if application is not None:
                        self.enrol(application)
                elif choice == "l":
                    application = self.lookup()
                    if application is not None:
                        self.enrol(application)
                elif choice == "q":
                    self.show_queue()
                elif choice == "x":
                    self.logout()
                    return
        except EOFError:
            self.logout()

    # -- applications --------------------------------------------------------------------------

    def _field(self, key: str, validate: Callable[[str], Any], **params: object) -> Any:
        while True:
            answer = self.ask(self._t(key, **params), False).strip()
            try:
                return validate(answer)
            except (ValueError, ValidationError) as exc:
                self.console.say("invalid", "error", problem=_problem(exc))

    def enter_application(self) -> Application | None:
        """Ask for each field, validated as it is typed (with the same rules as the packet)."""
        data: dict[str, Any] = {"applicant": {}, "employer": {}}
        number = self.ask(self._t("application-number"), False).strip().upper()
        data["application_number"] = number
        data["kind"] = self._field("field-kind", _choice(APPLICATION_KINDS))
        for name in APPLICANT_FIELDS:
            data["applicant"][name] = self._field(
                f"field-{name}", _applicant_field(name, data["applicant"])
            )
        data["employer"]["juristic_id"] = self._field("field-juristic_id", _employer_id)
        data["employer"]["name"] = self._field("field-employer_name", _non_empty)
        data["job_type"] = self._field(
            "field-job_type", _choice(tuple(job_types())), choices=", ".join(job_types())
        )
        data["work_province"] = self._field("field-work_province", _province)
        try:
            return Application.model_validate(data)
        except ValidationError as exc:
            self.console.say("invalid", "error", problem=_problem(exc))
            return None

    def lookup(self) -> Application | None:
        number = self.ask(self._t("application-number"), False).strip().upper()
        try:
            application = self.agent.preregistered.lookup(number)
        except CacheLockedError as exc:
            self.out.print(f"[red]{exc}[/red]")
            return None
        if application is None:
            self.console.say("not-found", "error", number=number)
            return None
        applicant = application.applicant
        nationality = nationalities()[applicant.nationality].name(self.language)
        answer = self.ask(
            self._t(
                "confirm-applicant",
                name=f"{applicant.given_name} {applicant.family_name}",
                passport=applicant.passport_number,
                nationality=nationality,
            ),
            False,
        )
        return application if answer.strip().lower() in ("y", "yes", "ใช่") else None

    def declared_exceptions(self) -> dict[str, Declared]:
        declared: dict[str, Declared] = {}
        policy = self.agent.capture_policy
        valid = {*policy.fingers, *(f"{e}-eye" for e in policy.eyes)}
        while True:
            answer = self.ask(self._t("declare-exception"), False).strip()
            if not answer:
                return declared
            words = answer.split(maxsplit=2)
            if len(words) < 2 or words[0] not in valid or words[1] not in REASONS:
                self.console.say("invalid", "error", problem=f"{sorted(valid)} + {list(REASONS)}")
                continue
            declared[words[0]] = Declared(words[1], words[2] if len(words) > 2 else "")  # type: ignore[arg-type]

    # -- capture -------------------------------------------------------------------------------

    def enrol(self, application: Application) -> None:
        assert self.session is not None
        declared = self.declared_exceptions()
        try:
            self.agent.enrol(
                application,
                self.console,
                operator_id=self.session.operator.operator_id,
                declared=declared,
            )
        except (AgentError, FingerprintError, IrisCameraError) as exc:
            self.out.print(f"[red]{exc}[/red]")
            return
        self.saved += 1
        stats = self.agent.outbox_stats()
        entry = self.agent.last_saved
        self.console.say("saved", "good", seq=entry.seq if entry else "?", waiting=stats.waiting)
        self.agent.preregistered.remove(application.application_number)
        if self.session is not None:
            self.session.touch(self._clock())

    def show_queue(self) -> None:
        stats = self.agent.outbox_stats()
        age = stats.oldest_pending_age(self._clock())
        self.console.say(
            "queue",
            "info",
            waiting=stats.waiting,
            acked=stats.acked,
            age="-" if age is None else _duration(age),
        )


def login_prompt_key(message: str) -> str:
    """The message key for what OperatorRegistry.login asks of the operator's finger."""
    return "login-finger" if "place" in message else "lift-finger"


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
    return str(exc)


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("required")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in options:
            raise ValueError(f"choose one of: {', '.join(options)}")
        return value

    return check


def _applicant_field(name: str, sofar: dict[str, Any]) -> Callable[[str], Any]:
    """Validate one applicant field with the packet's own rules (the Applicant model)."""
    from protocol.enrolment import Applicant

    sample = {
        "given_name": "A",
        "family_name": "B",
        "passport_number": "AB123456",
        "nationality": "MMR",
        "date_of_birth": "1990-01-01",
        "sex": "X",
    }

    def check(value: str) -> Any:
        if name == "sex" and not value:
            value = "X"
        model = Applicant.model_validate({**sample, **sofar, name: value})
        return getattr(model, name)

    return check


def _employer_id(value: str) -> str:
    from protocol.enrolment import Employer

    return Employer.model_validate({"juristic_id": value, "name": "x"}).juristic_id


def _province(value: str) -> str:
    from protocol.reference_data import province_by_name

    province = province_by_name(value)
    if province is None:
        raise ValueError(f"{value!r} is not a Thai province")
    return province.code


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"

"""Operators of a station: who may enrol, and their sessions (PIN + fingerprint).

Each operator has a PIN (stored as a scrypt hash) and one or more fingers enrolled in the
fingerprint module's own template library (the module matches them; no fingerprint template of
an operator leaves the module). Logging in takes both: the PIN, then a finger that the module
identifies as one of that operator's. Repeated failures lock the operator out for a while; a
session ends after ``idle_logout_s`` without activity.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.agent.errors import AgentError
from edge.agent.sqlite_store import SqliteStore
from edge.drivers.fingerprint_r30x import FingerprintSensor, NotFoundError, RetryCaptureError

log = logging.getLogger(__name__)

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MATCH_SCORE_MIN = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operators (
    operator_id   TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    pin_hash      TEXT NOT NULL,
    pages         TEXT NOT NULL,         -- JSON list of the module's library page ids
    active        INTEGER NOT NULL DEFAULT 1,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  REAL NOT NULL DEFAULT 0
);
"""


class OperatorError(AgentError):
    """Login or operator management refused; the message says why."""


class OperatorLockedError(OperatorError):
    pass


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        _, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt_hex), dklen=32, **_SCRYPT)
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


def validate_pin(pin: str) -> str:
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise OperatorError("a PIN is 4 to 12 digits")
    if len(set(pin)) == 1 or pin in "0123456789012" or pin in "9876543210987":
        raise OperatorError("choose a PIN that is not all one digit or a run like 1234")
    return pin


@dataclass(frozen=True)
class Operator:
    operator_id: str
    name: str
    pages: tuple[int, ...]
    active: bool


@dataclass
class OperatorSession:
    operator: Operator
    started_at: float
    last_activity: float
    idle_logout_s: float

    def expired(self, now: float) -> bool:
        return now - self.last_activity > self.idle_logout_s

    def touch(self, now: float) -> None:
        self.last_activity = now


class OperatorRegistry(SqliteStore):
    """Operators in ``{data_dir}/operators.sqlite`` (PIN hashes and module page ids only)."""

    def __init__(
        self,
        path: Path,
        *,
        max_failures: int = 5,
        lockout_s: float = 900.0,
        idle_logout_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(path, _SCHEMA, check_same_thread=False)
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.idle_logout_s = idle_logout_s
        self._clock = clock

    def get(self, operator_id: str) -> Operator | None:
        row = self._db.execute(
            "SELECT operator_id, name, pages, active FROM operators WHERE operator_id = ?",
            (operator_id,),
        ).fetchone()
        if row is None:
            return None
        return Operator(row[0], row[1], tuple(json.loads(row[2])), bool(row[3]))

    def list(self) -> list[Operator]:
        rows = self._db.execute(
            "SELECT operator_id, name, pages, active FROM operators ORDER BY operator_id"
        ).fetchall()
        return [Operator(r[0], r[1], tuple(json.loads(r[2])), bool(r[3])) for r in rows]

    # -- management ----------------------------------------------------------------------------

    def add(
        self,
        sensor: FingerprintSensor,
        operator_id: str,
        name: str,
        pin: str,
        *,
        timeout_s: float = 20.0,
        prompt: Callable[[str], None] = lambda message: None,
    ) -> Operator:
        """Register an operator: PIN, and one finger enrolled into the module's library."""
        if not _ID.fullmatch(operator_id):
            raise OperatorError("an operator id is 2-32 characters of a-z, 0-9, '.', '_', '-'")
        if self.get(operator_id) is not None:
            raise OperatorError(f"operator {operator_id} exists")
        validate_pin(pin)
        page = self._free_page(sensor)
        for buffer in (1, 2):
            prompt(f"{name}: place your finger ({buffer} of 2)")
            sensor.wait_for_finger(timeout_s)
            sensor.image_to_template(buffer)
            prompt("lift the finger")
            sensor.wait_for_finger_removed(timeout_s)
        sensor.create_model()
        sensor.store_template(1, page)
        self._db.execute(
            "INSERT INTO operators (operator_id, name, pin_hash, pages) VALUES (?, ?, ?, ?)",
            (operator_id, name, hash_pin(pin), json.dumps([page])),
        )
        log.info("operator %s registered (module page %d)", operator_id, page)
        operator = self.get(operator_id)
        assert operator is not None
        return operator

    def _free_page(self, sensor: FingerprintSensor) -> int:
        used: set[int] = set()
        for table in range(4):
            used |= sensor.read_index_table(table)
        capacity = sensor.read_system_parameters().library_size
        for page in range(capacity):
            if page not in used:
                return page
        raise OperatorError("the fingerprint module's library is full: remove an operator")

    def deactivate(self, operator_id: str) -> None:
        self._db.execute("UPDATE operators SET active = 0 WHERE operator_id = ?", (operator_id,))

    # -- login ---------------------------------------------------------------------------------

    def login(
        self,
        sensor: FingerprintSensor,
        operator_id: str,
        pin: str,
        *,
        timeout_s: float = 20.0,
        prompt: Callable[[str], None] = lambda message: None,
    ) -> OperatorSession:
        """PIN first, then a finger the module must identify as this operator's."""
        now = self._clock()
        row = self._db.execute(
            "SELECT pin_hash, pages, active, failures, locked_until FROM operators"
            " WHERE operator_id = ?",
            (operator_id,),
        ).fetchone()
        if row is None or not row[2]:
            raise OperatorError("unknown operator or wrong PIN")
        pin_hash, pages, _, failures, locked_until = row
        if locked_until > now:
            minutes = max(1, round((locked_until - now) / 60))
            raise OperatorLockedError(
                f"too many failed logins: {operator_id} is locked for {minutes} more minutes"
            )
        if not check_pin(pin, pin_hash):
            self._failed(operator_id, failures)
            raise OperatorError("unknown operator or wrong PIN")
        prompt("place your finger to confirm")
        try:
            sensor.wait_for_finger(timeout_s)
            sensor.image_to_template(1)
            found = sensor.search(1, 0, sensor.read_system_parameters().library_size)
        except (NotFoundError, RetryCaptureError) as exc:
            self._failed(operator_id, failures)
            raise OperatorError(f"finger not recognised ({exc}); try again") from None
        finally:
            prompt("lift the finger")
            try:
                sensor.wait_for_finger_removed(timeout_s)
            except RetryCaptureError:
                log.debug("finger not lifted after login")
        if found.page_id not in json.loads(pages) or found.score < MATCH_SCORE_MIN:
            self._failed(operator_id, failures)
            raise OperatorError("this finger is not registered for this operator")
        self._db.execute(
            "UPDATE operators SET failures = 0, locked_until = 0 WHERE operator_id = ?",
            (operator_id,),
        )
        operator = self.get(operator_id)
        assert operator is not None
        log.info("operator %s logged in", operator_id)
        return OperatorSession(operator, now, now, self.idle_logout_s)

    def _failed(self, operator_id: str, failures: int) -> None:
        failures += 1
        locked_until = 0.0
        if failures >= self.max_failures:
            locked_until = self._clock() + self.lockout_s
            failures = 0
            log.warning("operator %s locked out after repeated failed logins", operator_id)
        self._db.execute(
            "UPDATE operators SET failures = ?, locked_until = ? WHERE operator_id = ?",
            (failures, locked_until, operator_id),
        )

"""Pre-registered applications, kept on the station for offline lookup by application number.

Applications submitted online arrive from the fleet before a mobile unit's trip. They hold
personal data, so the cache keeps them encrypted: each application is sealed (HPKE, X25519,
ChaCha20-Poly1305) to the cache's own public key as it arrives — no secret is needed to store
one — and the cache's private key is kept wrapped, once per operator, by a key derived from that
operator's PIN (scrypt). Reading therefore needs a logged-in operator: a stolen station without
a PIN reveals application numbers, nothing else. Entries expire (``expires_at``) and are deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from edge.agent.errors import AgentError
from protocol.enrolment import Application

log = logging.getLogger(__name__)
T = TypeVar("T")

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_INFO = b"ewp-preregistration-cache\x00v1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS key_wraps (
    operator_id TEXT PRIMARY KEY,
    salt        BLOB NOT NULL,
    nonce       BLOB NOT NULL,
    wrapped     BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    application_number TEXT PRIMARY KEY,
    sealed             BLOB NOT NULL,
    received_at        REAL NOT NULL,
    expires_at         REAL NOT NULL
);
"""


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    def wrapper(self: PreregisteredCache, *args: object, **kwargs: object) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    wrapper.__doc__ = method.__doc__
    return wrapper


class CacheLockedError(AgentError):
    """The cache cannot be read without an operator's PIN."""


def _kek(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, dklen=32, **_SCRYPT)


class PreregisteredCache:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.executescript(_SCHEMA)
        self._clock = clock
        self._private: x25519.X25519PrivateKey | None = None
        # The uplink thread stores arrivals while the operator's thread looks up.
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    # -- keys ----------------------------------------------------------------------------------

    def _public_key(self) -> x25519.X25519PublicKey | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'public_key'").fetchone()
        return x25519.X25519PublicKey.from_public_bytes(row[0]) if row else None

    @_locked
    def grant(self, operator_id: str, pin: str, *, by_pin: tuple[str, str] | None = None) -> None:
        """Let ``operator_id`` open the cache with ``pin``.

        The first grant creates the cache key. Later grants need the cache unlocked (a logged-in
        operator) or ``by_pin`` = (operator id, PIN) of an operator who already has access.
        """
        if self._public_key() is None:
            private = x25519.X25519PrivateKey.generate()
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('public_key', ?)",
                (private.public_key().public_bytes_raw(),),
            )
            self._private = private
        elif by_pin is not None:
            self.unlock(*by_pin)
        if self._private is None:
            raise CacheLockedError("an operator with access must be logged in to grant access")
        salt, nonce = os.urandom(16), os.urandom(12)
        wrapped = ChaCha20Poly1305(_kek(pin, salt)).encrypt(
            nonce, self._private.private_bytes_raw(), operator_id.encode()
        )
        self._db.execute(
            "INSERT OR REPLACE INTO key_wraps (operator_id, salt, nonce, wrapped)"
            " VALUES (?, ?, ?, ?)",
            (operator_id, salt, nonce, wrapped),
        )

    @_locked
    def unlock(self, operator_id: str, pin: str) -> None:
        row = self._db.execute(
            "SELECT salt, nonce, wrapped FROM key_wraps WHERE operator_id = ?", (operator_id,)
        ).fetchone()
        if row is None:
            raise CacheLockedError(f"operator {operator_id} has no access to the cache")
        salt, nonce, wrapped = row
        try:
            raw = ChaCha20Poly1305(_kek(pin, salt)).decrypt(nonce, wrapped, operator_id.encode())
        except InvalidTag:
            raise CacheLockedError("wrong PIN for the pre-registered applications") from None
        self._private = x25519.X25519PrivateKey.from_private_bytes(raw)

    def lock(self) -> None:
        """Forget the key (operator logged out)."""
        self._private = None

    @property
    def unlocked(self) -> bool:
        return self._private is not None

    # -- applications --------------------------------------------------------------------------

    @_locked
    def store(self, applications: list[Application], *, expires_at: float) -> int:
        """Seal and keep applications (needs no operator). Returns how many were stored."""
        public = self._public_key()
        if public is None:
            raise CacheLockedError(
                "no operator is registered yet, so pre-registered applications cannot be kept"
            )
        now = self._clock()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for application in applications:
                sealed = _SUITE.encrypt(application.model_dump_json().encode(), public, info=_INFO)
                self._db.execute(
                    "INSERT OR REPLACE INTO applications"
                    " (application_number, sealed, received_at, expires_at) VALUES (?, ?, ?, ?)",
                    (application.application_number, sealed, now, expires_at),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        log.info("kept %d pre-registered applications", len(applications))
        return len(applications)

    @_locked
    def lookup(self, application_number: str) -> Application | None:
        self.purge_expired()
        row = self._db.execute(
            "SELECT sealed FROM applications WHERE application_number = ?",
            (application_number.strip().upper(),),
        ).fetchone()
        if row is None:
            return None
        if self._private is None:
            raise CacheLockedError("log in to look up pre-registered applications")
        data = _SUITE.decrypt(row[0], self._private, info=_INFO)
        return Application.model_validate(json.loads(data))

    @_locked
    def numbers(self) -> list[str]:
        self.purge_expired()
        return [
            r[0]
            for r in self._db.execute(
                "SELECT application_number FROM applications ORDER BY application_number"
            )
        ]

    @_locked
    def remove(self, application_number: str) -> None:
        """Enrolled: the cache copy is no longer needed."""
        self._db.execute(
            "DELETE FROM applications WHERE application_number = ?", (application_number,)
        )

    @_locked
    def purge_expired(self) -> int:
        cursor = self._db.execute(
            "DELETE FROM applications WHERE expires_at <= ?", (self._clock(),)
        )
        return cursor.rowcount

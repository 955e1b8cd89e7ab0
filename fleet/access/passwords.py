"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fleet.errors import AccessError

MIN_LENGTH = 12
MAX_LENGTH = 1024

_hasher = PasswordHasher()
# Verified when the username does not exist, so a wrong username costs as long as a wrong
# password and timing does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("ewp-no-such-user-dummy-password")


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise AccessError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise AccessError(f"a password has at most {MAX_LENGTH} characters")
    if password.strip() == "" or len(set(password)) < 4:
        raise AccessError("that password is too simple: use a passphrase of several words")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; with ``password_hash=None`` spends the same time, False."""
    try:
        ok = _hasher.verify(password_hash or _DUMMY_HASH, password[:MAX_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)

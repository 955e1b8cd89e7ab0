"""Secrets on disk, written so no one else can read them and no crash leaves half of one.

``write_atomic`` creates a temporary file with a unique name beside the target, exclusively
(``O_EXCL``: it never opens a file or a link someone placed there) and with mode 0600 from the
start (then the mode asked for), writes and fsyncs it, renames it over the target
(``os.replace``: readers see the old content or the new one, never a part) and fsyncs the
directory. ``write_private`` is that for secrets, in a directory only the owner may enter. Both
ends use them: the station's keys, identity and update state, the fleet's keys, generated
secrets and sealed packets.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, data: bytes, *, mode: int = PRIVATE_MODE) -> None:
    """Put ``data`` at ``path`` atomically, readable by the owner only (or ``mode``); a missing
    directory is made 0700."""
    write_atomic(path, data, mode=mode, directory_mode=0o700)


def write_atomic(path: Path, data: bytes, *, mode: int, directory_mode: int = 0o777) -> None:
    """Put ``data`` at ``path`` atomically and durably, with ``mode``; a missing directory is
    made with ``directory_mode`` (less the umask)."""
    path.parent.mkdir(mode=directory_mode, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode != PRIVATE_MODE:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing, and take an existing one down to
    0600 (a store created by an earlier version with the default umask)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        if path.stat().st_mode & 0o777 != PRIVATE_MODE:
            path.chmod(PRIVATE_MODE)
        return
    os.close(fd)


def create_private_once(path: Path, data: bytes) -> bool:
    """Put ``data`` at ``path`` (0600) only if nothing is there yet, atomically: of several
    processes creating the same secret at once exactly one wins, and all then read its file.
    Returns whether this call created it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if the name exists: never replaces a secret
        except FileExistsError:
            return False
        sync_directory(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def create_private(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` (0600) as a new file, whole or not at all; FileExistsError if
    there is one already: a key is never overwritten."""
    if not create_private_once(path, data):
        raise FileExistsError(f"{path} exists: a key is never overwritten")

"""Secrets on disk: owner-only whatever the umask, replaced atomically through a unique
temporary file that is created exclusively (a planted file or link is never written through)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.keys import CentralPrivateKey
from protocol.private_files import create_private, make_private, write_atomic, write_private


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: what the code asks for is what the file gets."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_is_owner_only_and_replaced_whole(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "secrets" / "admin-token"
    write_private(target, b"first\n")
    assert target.read_bytes() == b"first\n" and mode(target) == 0o600
    assert mode(target.parent) == 0o700
    write_private(target, b"second\n")
    assert target.read_bytes() == b"second\n" and mode(target) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["admin-token"], "no temp left"
    public = tmp_path / "applied.json"
    write_private(public, b"{}", mode=0o644)
    assert mode(public) == 0o644


def test_a_shared_file_gets_its_mode_and_its_directory_the_umask_s(
    tmp_path: Path, open_umask: None
) -> None:
    """What the fleet's sealed packets and the station's update state are written with."""
    target = tmp_path / "ct-01" / "2026" / "packet.ewp"
    write_atomic(target, b"sealed", mode=0o640)
    write_atomic(target, b"sealed again", mode=0o640)
    assert target.read_bytes() == b"sealed again" and mode(target) == 0o640
    assert mode(target.parent) == 0o777, "not a secrets directory"
    assert [p.name for p in target.parent.iterdir()] == ["packet.ewp"], "no temp left"


def test_a_new_key_is_owner_only_and_never_written_over(tmp_path: Path, open_umask: None) -> None:
    key = tmp_path / "ca.key"
    create_private(key, b"first key")
    assert key.read_bytes() == b"first key" and mode(key) == 0o600
    with pytest.raises(FileExistsError, match="never overwritten"):
        create_private(key, b"second key")
    assert key.read_bytes() == b"first key"
    assert [p.name for p in tmp_path.iterdir()] == ["ca.key"], "no temp left"


def test_a_planted_temporary_name_is_not_written_through(tmp_path: Path) -> None:
    """The old writers opened ``<name>.tmp`` with O_TRUNC: a link planted there sent the secret
    wherever it pointed. Now the temporary file's name is unique and opened with O_EXCL."""
    elsewhere = tmp_path / "attacker-readable"
    elsewhere.write_bytes(b"untouched")
    target = tmp_path / "keys" / "central.key"
    target.parent.mkdir()
    (target.parent / "central.key.tmp").symlink_to(elsewhere)
    CentralPrivateKey.generate().save(target)
    assert elsewhere.read_bytes() == b"untouched"
    assert (target.parent / "central.key.tmp").is_symlink()
    assert mode(target) == 0o600 and b"ewp-central-private-key" in target.read_bytes()


def test_make_private_creates_owner_only_and_tightens_an_old_file(
    tmp_path: Path, open_umask: None
) -> None:
    new = tmp_path / "fleet.sqlite"
    make_private(new)
    assert new.exists() and mode(new) == 0o600 and new.read_bytes() == b""
    old = tmp_path / "old.sqlite"
    old.write_bytes(b"kept")
    old.chmod(0o644)
    make_private(old)
    assert mode(old) == 0o600 and old.read_bytes() == b"kept"

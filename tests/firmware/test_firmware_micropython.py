"""The firmware under a real MicroPython interpreter, and cross-compiled for the RP2040.

Test modules in tests/firmware/micropython/fw_*.py run under MicroPython's unix port with a
fake hal (one interpreter per test, in a fresh directory standing for the board's flash); every
firmware file must compile with ``mpy-cross -march=armv6m``, so a feature MicroPython lacks
fails here rather than on a board.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.drivers.controller_link import FrameParser, encode_frame
from simulators.controller import micropython_command
from tests.firmware.cpython import FIRMWARE

pytestmark = pytest.mark.timeout(180)

HERE = Path(__file__).resolve().parent / "micropython"


def _tests() -> list[tuple[str, str]]:
    found = []
    for path in sorted(HERE.glob("fw_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.append((path.stem, node.name))
    return found


def _env() -> dict[str, str]:
    return os.environ | {"MICROPYPATH": f"{FIRMWARE}:{HERE}"}


@pytest.mark.parametrize(("module", "function"), _tests())
def test_firmware_under_micropython(module: str, function: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*micropython_command(), str(HERE / "run.py"), module, function],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert f"PASS {function}" in out and "DONE" in out, out


def test_every_firmware_file_cross_compiles_for_the_rp2040(tmp_path: Path) -> None:
    sources = sorted(FIRMWARE.glob("*.py"))
    assert len(sources) > 10
    failures = []
    for src in sources:
        proc = subprocess.run(
            [sys.executable, "-m", "mpy_cross", "-march=armv6m", "-o", str(tmp_path / "x.mpy")]
            + [str(src)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            failures.append(f"{src.name}: {proc.stderr.strip()}")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def micropython_parser() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [*micropython_command(), str(HERE / "parse_server.py")],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=10)


def _parse_under_micropython(proc: subprocess.Popen[str], data: bytes) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(data.hex() + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def _host_view(data: bytes) -> str:
    p = FrameParser()
    frames = p.feed(data)
    return ",".join(f"{f.seq}:{f.payload.hex()}" for f in frames) + (
        f"|{p.crc_errors} {p.garbage}"
    )


frames = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=115)), max_size=6)


@settings(max_examples=150, deadline=None)
@given(frames, st.binary(max_size=40), st.lists(st.integers(0, 10_000), max_size=4))
def test_board_parser_under_micropython_agrees_with_the_host(
    micropython_parser: subprocess.Popen[str],
    fs: list[tuple[int, bytes]],
    garbage: bytes,
    flips: list[int],
) -> None:
    data = bytearray(garbage + b"".join(encode_frame(s, p) for s, p in fs))
    for f in flips:
        if data:
            data[f % len(data)] ^= 1 << (f % 8)
    assert _parse_under_micropython(micropython_parser, bytes(data)) == _host_view(bytes(data))

"""The control port every simulator opens (simulators/control_port.py): lines in, lines out;
the JSON-lines protocol; the commands every simulated device takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from simulators.control_port import (
    ControlError,
    ControlPort,
    handle_device_command,
    json_lines,
)
from tests.simulators.tcp_clients import ControlClient


def test_each_line_gets_the_answer_and_none_gets_nothing() -> None:
    seen: list[str] = []

    def answer(line: str) -> str | None:
        seen.append(line)
        return None if line.strip() == "quiet" else line.strip().upper()

    port = ControlPort(answer)
    try:
        assert port.url == f"tcp://127.0.0.1:{port.port}"
        with ControlClient(port.url) as one, ControlClient(port.url) as two:
            assert one.say("tamper open") == "TAMPER OPEN"
            assert two.say("") == ""  # a blank line is a line: its answer is empty
            one.stream.write(b"quiet\n")
            assert one.say("status") == "STATUS"
            assert one.say(b"caf\xff") == "CAF\ufffd"  # undecodable bytes are replaced
        assert seen[:3] == ["tamper open\n", "\n", "quiet\n"]
    finally:
        port.stop()


class FakeDevice:
    """A simulated device as its control port sees it."""

    def __init__(self) -> None:
        self.mode = "manual"
        self.faults: list[str] = []
        self.connected = True

    def set_mode(self, mode: Any) -> None:
        if mode not in ("manual", "auto"):
            raise ValueError(f"mode must be manual or auto, got {mode!r}")
        self.mode = mode

    def inject(self, fault: str | dict[str, object]) -> Any:
        if isinstance(fault, dict):
            fault = f"{fault['kind']}:{fault.get('count', 1)}"
        if fault.startswith("explode"):
            raise ValueError(f"unknown fault {fault!r}")
        self.faults.append(fault)
        return type("Armed", (), {"describe": lambda _: fault})()

    def clear_faults(self) -> None:
        self.faults.clear()

    def unplug(self) -> bool:
        was, self.connected = self.connected, False
        return was

    def status(self) -> dict[str, object]:
        return {"mode": self.mode, "faults": list(self.faults)}


def _wave(device: FakeDevice, request: dict[str, Any]) -> dict[str, Any]:
    if "hand" not in request:
        raise ControlError("wave needs a 'hand'")
    return {"waved": request["hand"]}


@pytest.fixture
def devices() -> list[FakeDevice]:
    return [FakeDevice(), FakeDevice()]


@pytest.fixture
def client(devices: list[FakeDevice]) -> Iterator[ControlClient]:
    def handle(request: dict[str, Any]) -> dict[str, Any]:
        return handle_device_command(devices, request, device_word="gadget", own={"wave": _wave})

    port = ControlPort(json_lines(handle))
    with ControlClient(port.url) as connected:
        yield connected
    port.stop()


def test_the_commands_every_device_takes(devices: list[FakeDevice], client: ControlClient) -> None:
    assert client.ask({"cmd": "wave", "hand": "left"}) == {"ok": True, "gadget": 0, "waved": "left"}
    assert client.ask({"cmd": "mode", "mode": "auto", "gadget": 1}) == {"ok": True, "gadget": 1}
    assert (devices[0].mode, devices[1].mode) == ("manual", "auto")
    assert client.ask({"cmd": "fault", "spec": "silence:2"})["armed"] == "silence:2"
    assert client.ask({"cmd": "fault", "kind": "garbage", "count": 8})["armed"] == "garbage:8"
    assert client.ask({"cmd": "status"}) == {
        "ok": True,
        "gadget": 0,
        "mode": "manual",
        "faults": ["silence:2", "garbage:8"],
    }
    assert client.ask({"cmd": "clear-faults"}) == {"ok": True, "gadget": 0}
    assert devices[0].faults == []
    assert client.ask({"cmd": "unplug"})["unplugged"] is True
    assert client.ask({"cmd": "unplug"})["unplugged"] is False


@pytest.mark.parametrize(
    ("request_line", "error"),
    [
        ('{"cmd": "fly"}', "unknown command 'fly': use wave, mode, fault, clear-faults, unplug "
         "or status"),
        ('{"cmd": "wave"}', "wave needs a 'hand'"),
        ('{"cmd": "status", "gadget": 2}', "gadget must be 0..1, got 2"),
        ('{"cmd": "mode", "mode": "sleepy"}', "mode must be manual or auto"),
        ('{"cmd": "fault", "spec": "explode"}', "unknown fault 'explode'"),
        ('["status"]', "send one JSON object a line"),
        ("{not json", "Expecting property name"),
    ],
)  # fmt: skip
def test_refused_commands_say_why(client: ControlClient, request_line: str, error: str) -> None:
    reply = client.say(request_line)
    assert reply.startswith('{"ok": false, "error": ')
    assert error in reply


def test_blank_lines_get_no_answer(client: ControlClient) -> None:
    client.stream.write(b"\n   \n")
    assert client.ask({"cmd": "status"})["ok"] is True

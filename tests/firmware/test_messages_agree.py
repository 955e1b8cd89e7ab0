"""The board's copy of the message numbers (firmware/messages.py) and the host's
(edge/drivers/controller_messages.py) are two copies of docs/controller-protocol.md: they must
not drift apart, since neither side can import the other (MicroPython on the board)."""

from __future__ import annotations

from edge.drivers import controller_messages as host
from tests.firmware.cpython import firmware_module

SAME_NAMES = [
    *("IDENTIFY", "PING", "TIME_SYNC", "SET_LEDS", "BUZZER", "SET_CONFIG", "TAMPER_CHALLENGE"),
    *("TAMPER_CLEAR", "MAINTENANCE", "READ_SENSORS", "GET_STATUS", "LINK_TEST"),
    *("IDENTITY", "PONG", "RESULT", "READINGS", "EVENT", "GPS", "BOOT", "CHALLENGE", "STATUS"),
    *("EV_BUTTON", "EV_TAMPER", "EV_POWER", "EV_HOST", "EV_SENSOR", "EV_TAMPER_CLEARED"),
    "EV_LINK_TEST",
]


def test_message_ids_and_event_kinds_agree() -> None:
    board = firmware_module("messages")
    assert {name: getattr(board, name) for name in SAME_NAMES} == {
        name: getattr(host, name) for name in SAME_NAMES
    }


def test_enumerations_agree() -> None:
    board = firmware_module("messages")
    pairs = [
        (host.Status, {"OK": "OK", "UNKNOWN_COMMAND": "UNKNOWN"}),
        (host.Capability, {}),
        (host.LedMode, {}),
        (host.Beep, {}),
        (host.ResetCause, {}),
    ]
    prefixes = {host.Capability: "CAP_", host.LedMode: "LED_", host.Beep: "BEEP_",
                host.ResetCause: "RESET_", host.Status: ""}  # fmt: skip
    for enum_type, renamed in pairs:
        for member in enum_type:
            name = prefixes[enum_type] + renamed.get(member.name, member.name)
            assert getattr(board, name) == member.value, (enum_type.__name__, member.name)

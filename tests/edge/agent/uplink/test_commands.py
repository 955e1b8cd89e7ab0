"""The fleet's commands and other down messages, through a real broker to handlers given at
construction; every answer signed with the station's key."""

from __future__ import annotations

import secrets
from pathlib import Path

from edge.agent.uplink import FleetHandlers
from ewp.local_fleet import FleetStack, wait_until
from mqtt_session import Message
from protocol import topics
from protocol.commands import verify_response
from protocol.envelope import utc_timestamp
from protocol.messages import Command, CommandResponse, Scalar, parse_message
from tests.edge.agent.uplink.link import fleet_side, running_uplink


def _command(kind: str, **args: Scalar) -> tuple[str, bytes]:
    command_id = secrets.token_hex(16)
    command = Command.model_validate(
        {"command_id": command_id, "kind": kind, "args": args, "issued_at": utc_timestamp()}
    )
    return command_id, command.to_payload()


def _answer(received: list[Message], command_id: str) -> CommandResponse | None:
    for message in received:
        response = parse_message(CommandResponse, message.payload)
        if response.command_id == command_id:
            return response
    return None


def test_commands_go_to_their_handlers_and_every_answer_is_signed(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    identity = fleet_stack.provision_station("ct-31", tmp_path / "st")
    config_payloads: list[bytes] = []

    def broken(command: Command) -> tuple[str, dict[str, Scalar]]:
        raise RuntimeError("the handler broke")

    def on_config(payload: bytes) -> None:
        config_payloads.append(payload)
        raise ValueError("a handler that raises does not stop the link")

    handlers = FleetHandlers(
        commands={"tamper-clear": broken}, messages={topics.CONFIG.suffix: on_config}
    )
    responses = topics.RESPONSES.for_station("ct-31")
    with (
        fleet_side(fleet_stack, responses) as (fleet, received),
        running_uplink(identity, tmp_path / "st" / "outbox.sqlite", handlers=handlers) as uplink,
    ):
        wait_until(lambda: uplink.stats.connected, message="station connected")
        fleet.publish_and_wait(topics.CONFIG.for_station("ct-31"), b"not a config")
        wait_until(lambda: config_payloads, message="config handled")
        asked = {kind: _command(kind) for kind in ("ping", "tamper-clear", "tamper-challenge")}
        for _, payload in asked.values():
            fleet.publish_and_wait(topics.COMMANDS.for_station("ct-31"), payload)
        wait_until(
            lambda: all(_answer(received, cid) for cid, _ in asked.values()),
            message="three answers",
        )
    answers = {kind: _answer(received, cid) for kind, (cid, _) in asked.items()}
    ping, broke, unknown = answers["ping"], answers["tamper-clear"], answers["tamper-challenge"]
    assert ping is not None and ping.status == "ok" and "pong" in ping.detail
    assert broke is not None and broke.status == "error"
    assert broke.detail == {"error": "the handler broke"}
    assert unknown is not None and unknown.status == "unknown-command"
    for answer in answers.values():
        assert answer is not None and answer.station_id == "ct-31"
        verify_response(answer, identity.signing_key.public_key())
    assert config_payloads == [b"not a config"]


def test_merged_handlers_keep_both_and_the_later_wins() -> None:
    def first(command: Command) -> tuple[str, dict[str, Scalar]]:
        return "ok", {"by": "first"}

    def second(command: Command) -> tuple[str, dict[str, Scalar]]:
        return "ok", {"by": "second"}

    def promote() -> None:
        pass

    merged = FleetHandlers({"ping": first, "tamper-clear": first}).merged(
        FleetHandlers({"ping": second}, on_login_with_next_password=promote)
    )
    assert merged.commands == {"ping": second, "tamper-clear": first}
    assert merged.on_login_with_next_password is promote

"""What the fleet tells the station, other than receipts: commands and the other down topics.

The handlers are given when the uplink is built (``FleetHandlers``), never attached later.
A command's handler returns ``(status, detail)``; the station signs the answer with its key and
publishes it on ``responses``. An unknown command is answered ``unknown-command``, a handler
that raises ``error``. The other down topics (config, app-status, preregistrations, update)
each go to their handler by topic suffix; a handler that raises is logged, the link goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from edge.agent.uplink.session import StationSession
from protocol import topics
from protocol.commands import sign_response
from protocol.envelope import utc_timestamp
from protocol.errors import MessageError
from protocol.messages import Command, CommandResponse, M, Scalar, parse_message

log = logging.getLogger(__name__)

# A command handler returns (status, detail): status "ok", "refused" or "error".
CommandHandler = Callable[[Command], tuple[str, dict[str, Scalar]]]
# A handler for another down topic (config, app-status): gets the payload, in this thread.
MessageHandler = Callable[[bytes], None]


def parsed(model: type[M], payload: bytes, what: str) -> M | None:
    """A message from the fleet, or None (logged) when it does not parse."""
    try:
        return parse_message(model, payload)
    except MessageError as exc:
        log.warning("malformed %s ignored: %s", what, exc)
        return None


def pong(command: Command) -> tuple[str, dict[str, Scalar]]:
    return "ok", {"pong": utc_timestamp()}


@dataclass(frozen=True)
class FleetHandlers:
    """What the station does with the fleet's commands (by kind) and other down messages (by
    topic suffix); ``on_login_with_next_password``: a login with a rotated password worked."""

    commands: Mapping[str, CommandHandler] = field(default_factory=dict)
    messages: Mapping[str, MessageHandler] = field(default_factory=dict)
    on_login_with_next_password: Callable[[], None] | None = None

    def merged(self, other: FleetHandlers) -> FleetHandlers:
        """These handlers and ``other``'s (``other`` wins on the same key)."""
        return FleetHandlers(
            {**self.commands, **other.commands},
            {**self.messages, **other.messages},
            other.on_login_with_next_password or self.on_login_with_next_password,
        )


class FleetCommands:
    def __init__(self, session: StationSession, handlers: FleetHandlers) -> None:
        self._session = session
        self._commands: dict[str, CommandHandler] = {"ping": pong, **handlers.commands}
        self._messages = dict(handlers.messages)

    def on_message(self, suffix: str, payload: bytes) -> None:
        if suffix == topics.COMMANDS.suffix:
            self._on_command(payload)
        elif suffix in self._messages:
            try:
                self._messages[suffix](payload)
            except Exception:
                log.exception("handling a message on %s failed", suffix)
        else:
            log.info("message on %s (%d bytes) not handled", suffix, len(payload))

    def _on_command(self, payload: bytes) -> None:
        command = parsed(Command, payload, "command")
        if command is None:
            return
        handler = self._commands.get(command.kind)
        detail: dict[str, Scalar]
        if handler is None:
            status, detail = "unknown-command", {"kind": command.kind}
        else:
            try:
                status, detail = handler(command)
            except Exception as exc:
                log.exception("command %s (%s) failed", command.command_id, command.kind)
                status, detail = "error", {"error": str(exc)}
        log.info("command %s (%s): %s", command.command_id, command.kind, status)
        response = sign_response(
            CommandResponse.model_validate(
                {
                    "command_id": command.command_id,
                    "station_id": self._session.station_id,
                    "status": status,
                    "detail": detail,
                    "answered_at": utc_timestamp(),
                }
            ),
            self._session.identity.signing_key,
        )
        self._session.publish(topics.RESPONSES, response.to_payload(), qos=1)

"""The station's own answers to the fleet, as handlers for the uplink: the tamper commands
(through the station controller, when one is fitted) and the batches of pre-registered
applications (kept in the encrypted cache). They run in the uplink thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from edge.agent.errors import AgentError
from edge.agent.preregistered import PreregisteredCache
from edge.agent.station_controller import StationController
from edge.agent.uplink import FleetHandlers
from edge.drivers.controller import ControllerError, TamperClearRefusedError
from protocol import topics
from protocol.errors import ProtocolError
from protocol.messages import Command, PreregistrationBatch, Scalar, parse_message

log = logging.getLogger(__name__)

Answer = tuple[str, dict[str, Scalar]]
# Reports an event to the fleet: (kind, severity, **detail).
Report = Callable[..., None]


class StationCommands:
    def __init__(
        self,
        controller: Callable[[], StationController | None],
        preregistered: PreregisteredCache,
        report: Report,
    ) -> None:
        self._controller = controller  # replaced while its firmware is updated
        self._preregistered = preregistered
        self._report = report

    def handlers(self) -> FleetHandlers:
        return FleetHandlers(
            commands={"tamper-challenge": self.tamper_challenge, "tamper-clear": self.tamper_clear},
            messages={topics.PREREGISTRATIONS.suffix: self.preregistrations},
        )

    def tamper_challenge(self, command: Command) -> Answer:
        controller = self._controller()
        if controller is None:
            return "refused", {"reason": "no station controller fitted"}
        challenge = controller.tamper_challenge()
        return "ok", {
            "board_id": challenge.board_id.hex(),
            "nonce": challenge.nonce.hex(),
            "tamper_count": challenge.tamper_count,
        }

    def tamper_clear(self, command: Command) -> Answer:
        controller = self._controller()
        if controller is None:
            return "refused", {"reason": "no station controller fitted"}
        try:
            mac = bytes.fromhex(str(command.args.get("mac", "")))
            controller.clear_tamper(mac)
        except ValueError:
            return "refused", {"reason": "mac must be hex"}
        except TamperClearRefusedError as exc:
            return "refused", {"reason": str(exc)}
        except ControllerError as exc:
            return "error", {"reason": str(exc)}
        return "ok", {"locked": False}

    def preregistrations(self, payload: bytes) -> None:
        try:
            batch = parse_message(PreregistrationBatch, payload)
            expires = datetime.fromisoformat(batch.expires_at.replace("Z", "+00:00"))
            stored = self._preregistered.store(batch.applications, expires_at=expires.timestamp())
        except (ProtocolError, ValueError, AgentError) as exc:
            log.warning("pre-registered applications not kept: %s", exc)
            self._report("preregistrations-refused", "warning", error=str(exc))
            return
        self._report("preregistrations-received", "info", batch_id=batch.batch_id, count=stored)

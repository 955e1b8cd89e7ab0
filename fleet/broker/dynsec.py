"""Manage station credentials in a running Mosquitto through its dynamic-security plugin.

Commands are JSON published to ``$CONTROL/dynamic-security/v1``; the plugin answers on
``.../response``, echoing our ``correlationData``. Changes take effect at once: a disabled or
deleted client is disconnected and cannot reconnect.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

from fleet.broker.connection import BrokerConnection
from fleet.errors import BrokerAdminError
from mqtt_session import (
    Message,
    SessionError,
    Subscription,
)
from protocol.topics import acl_for_station, validate_station_id

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"


def station_role(station_id: str) -> str:
    return f"ewp-station-{station_id}"


class DynsecAdmin(BrokerConnection):
    """A connection to the broker as its dynamic-security admin. Thread-safe."""

    client_prefix = "ewp-dynsec"
    _lock: threading.Lock
    _waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]]

    def _prepare(self) -> list[Subscription]:
        self._lock = threading.Lock()
        self._waiting = {}
        # Ready (and commands sent) only once the response subscription is acknowledged.
        return [Subscription(RESPONSE_TOPIC, 1, self._on_response)]

    def connect(self) -> DynsecAdmin:
        if self._session.ready.is_set():
            return self
        try:
            self._session.connect_wait(self.timeout)
        except SessionError as exc:
            if self._session.refusal is not None:
                raise BrokerAdminError(
                    f"the broker refused the dynamic-security admin login "
                    f"({self._session.refusal.text}): check broker.admin_password in the fleet "
                    "settings"
                ) from exc
            raise BrokerAdminError(f"cannot manage broker credentials: {exc}") from exc
        return self

    def __enter__(self) -> DynsecAdmin:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_response(self, message: Message) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable dynamic-security response ignored")
            return
        for response in responses:
            waiting = self._waiting.get(str(response.get("correlationData", "")))
            if waiting is not None:
                waiting[1].append(response)
                waiting[0].set()

    def execute(self, *commands: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[Any]:
        """Run commands in order; BrokerAdminError on the first error not listed in ``ignore``."""
        results = []
        with self._lock:
            for command in commands:
                correlation = uuid.uuid4().hex
                done = threading.Event()
                box: list[dict[str, Any]] = []
                self._waiting[correlation] = (done, box)
                try:
                    payload = {"commands": [{**command, "correlationData": correlation}]}
                    try:
                        self._session.publish_and_wait(
                            CONTROL_TOPIC, json.dumps(payload), qos=1, timeout=self.timeout
                        )
                    except SessionError as exc:
                        raise BrokerAdminError(
                            f"{command['command']} not sent to the broker: {exc}"
                        ) from exc
                    if not done.wait(self.timeout):
                        raise BrokerAdminError(
                            f"the broker did not answer {command['command']} within "
                            f"{self.timeout:.0f} s"
                        )
                finally:
                    del self._waiting[correlation]
                response = box[0]
                error = response.get("error")
                if error and not any(text in error for text in ignore):
                    raise BrokerAdminError(f"broker refused {command['command']}: {error}")
                results.append(response.get("data"))
        return results

    # -- station credentials -------------------------------------------------------------------

    def create_station(self, station_id: str, password: str) -> None:
        """Create (or replace) the station's broker client and its own role."""
        validate_station_id(station_id)
        role = station_role(station_id)
        self.execute(
            {"command": "deleteClient", "username": station_id},
            {"command": "deleteRole", "rolename": role},
            ignore=("not found",),
        )
        acls = [
            {"acltype": e.acltype, "topic": e.topic, "priority": 0, "allow": e.allow}
            for e in acl_for_station(station_id)
        ]
        self.execute(
            {"command": "createRole", "rolename": role, "acls": acls},
            {
                "command": "createClient",
                "username": station_id,
                "password": password,
                "clientid": station_id,
                "textname": f"ewp station {station_id}",
                "roles": [{"rolename": role}],
            },
        )
        log.info("broker credentials created for station %s", station_id)

    def set_station_password(self, station_id: str, password: str) -> None:
        self.execute({"command": "setClientPassword", "username": station_id, "password": password})

    def disable_station(self, station_id: str) -> None:
        """Revoke: the station is disconnected now and cannot log in again."""
        self.execute({"command": "disableClient", "username": station_id})

    def enable_station(self, station_id: str) -> None:
        self.execute({"command": "enableClient", "username": station_id})

    def delete_station(self, station_id: str) -> None:
        self.execute(
            {"command": "deleteClient", "username": station_id},
            {"command": "deleteRole", "rolename": station_role(station_id)},
            ignore=("not found",),
        )

    def list_clients(self) -> list[str]:
        data = self.execute({"command": "listClients", "verbose": False, "count": -1})[0]
        return list(data.get("clients", [])) if isinstance(data, dict) else []

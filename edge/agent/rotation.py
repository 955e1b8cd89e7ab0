"""Station side of key and broker-credential rotation (protocol/rotation.py,
docs/decisions/0023-station-key-rotation.md and 0021-broker-credential-rotation.md).
Command handlers, run in the uplink thread; each answer is signed by the uplink with the
station's key *after* the handler ran (so ``activate-key``'s answer is signed by the new key).

- ``rotate-key``: make a new key, keep it in ``station.key.next``, answer with its public key
  and its signature over the rotation message. The current key stays in use.
- ``activate-key``: the fleet registered the new key: it replaces ``station.key`` (an atomic
  rename) and the agent signs with it from now on.
- ``rotate-credentials``: make a new broker password, keep it in ``station.json`` beside the
  current one (``next_password``), answer with it. The fleet sets it at the broker, which
  disconnects the station; the uplink logs in with the new password first, and on success
  ``promote_password`` makes it the only one.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.identity import (
    KEY_FILE,
    NEXT_KEY_FILE,
    StationIdentity,
    load_station_record,
    save_station_record,
)
from edge.agent.uplink import FleetHandlers
from protocol.errors import KeyFileError
from protocol.keys import (
    encode_station_public_key,
    load_station_private_key,
    save_station_private_key,
    station_key_id,
)
from protocol.messages import Command, Scalar
from protocol.private_files import sync_directory
from protocol.rotation import ACTIVATE_KEY, ROTATE_CREDENTIALS, ROTATE_KEY, rotation_message

log = logging.getLogger(__name__)

Answer = tuple[str, dict[str, Scalar]]


class StationRotation:
    def __init__(
        self,
        identity_dir: Path,
        *,
        current: Callable[[], StationIdentity],
        adopt: Callable[[StationIdentity], None],
    ) -> None:
        self._dir = identity_dir
        self._current = current
        self._adopt = adopt

    def handlers(self) -> FleetHandlers:
        """The rotation commands, and the promotion of a password that worked, for the uplink."""
        return FleetHandlers(
            commands={
                ROTATE_KEY: self.rotate_key,
                ACTIVATE_KEY: self.activate_key,
                ROTATE_CREDENTIALS: self.rotate_credentials,
            },
            on_login_with_next_password=self.promote_password,
        )

    def rotate_key(self, command: Command) -> Answer:
        nonce = command.args.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            return "refused", {"reason": "rotate-key needs a nonce"}
        identity = self._current()
        key = ed25519.Ed25519PrivateKey.generate()
        save_station_private_key(key, self._dir / NEXT_KEY_FILE)
        public = key.public_key()
        proof = key.sign(
            rotation_message(
                identity.station_id,
                command.command_id,
                nonce,
                station_key_id(identity.signing_key.public_key()),
                public.public_bytes_raw(),
            )
        )
        log.info(
            "new station key %s made; waiting for the fleet to activate it", station_key_id(public)
        )
        return "ok", {
            "public_key": encode_station_public_key(public),
            "key_id": station_key_id(public),
            "proof": base64.b64encode(proof).decode(),
        }

    def activate_key(self, command: Command) -> Answer:
        wanted = str(command.args.get("key_id", ""))
        if station_key_id(self._current().signing_key.public_key()) == wanted:
            return "ok", {"key_id": wanted}  # a repeated activation
        waiting = self._dir / NEXT_KEY_FILE
        try:
            key = load_station_private_key(waiting)
        except KeyFileError:
            return "refused", {"reason": "no new key is waiting to be activated"}
        if station_key_id(key.public_key()) != wanted:
            return "refused", {"reason": f"the waiting key is not {wanted}"}
        os.replace(waiting, self._dir / KEY_FILE)
        sync_directory(self._dir)
        self._adopt(StationIdentity.load(self._dir))
        log.info("station key %s is active", wanted)
        return "ok", {"key_id": wanted}

    def rotate_credentials(self, command: Command) -> Answer:
        password = secrets.token_urlsafe(32)
        record = load_station_record(self._dir)
        mqtt = record.mqtt.model_copy(update={"next_password": password})
        save_station_record(self._dir, record.model_copy(update={"mqtt": mqtt}))
        self._adopt(StationIdentity.load(self._dir))
        log.info("new broker password kept; the fleet will switch the broker to it")
        return "ok", {"password": password}

    def promote_password(self) -> None:
        """The new password worked at the broker: it becomes the only one."""
        record = load_station_record(self._dir)
        if record.mqtt.next_password is None:
            return
        mqtt = record.mqtt.model_copy(
            update={"password": record.mqtt.next_password, "next_password": None}
        )
        save_station_record(self._dir, record.model_copy(update={"mqtt": mqtt}))
        self._adopt(StationIdentity.load(self._dir))
        log.info("the broker accepted the new password; the old one is forgotten")

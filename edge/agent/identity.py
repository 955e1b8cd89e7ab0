"""The station's identity: its Ed25519 key, broker credentials and the central public key.

Written once by provisioning into ``{data_dir}/identity/`` (mode 0700, files 0600):

- ``station.key``   the Ed25519 private key, PKCS#8 PEM, generated on the station
- ``station.json``  station id, kind, fleet URL, broker credentials, the central public key
- ``fleet-ca.pem``  the fleet's CA certificate, pinned at provisioning by the fingerprint in the
  claim token; the broker's TLS certificate is verified against it
- ``station.key.next``  a new key made for a rotation, until the fleet activates it
  (edge/agent/rotation.py)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import BaseModel, ConfigDict, ValidationError

from edge.agent.errors import NotProvisionedError
from protocol.errors import KeyFileError
from protocol.keys import CentralPublicKey, load_station_private_key
from protocol.private_files import write_private
from protocol.provisioning import MqttAccess

KEY_FILE = "station.key"
NEXT_KEY_FILE = "station.key.next"
STATION_FILE = "station.json"
FLEET_CA_FILE = "fleet-ca.pem"


class MqttCredentials(MqttAccess):
    """The broker login the fleet gave at provisioning, as the station keeps it."""

    next_password: str | None = None  # a rotation's new password, until a login proves it


class StationRecord(BaseModel):
    """What ``station.json`` holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    station_id: str
    kind: str
    fleet_url: str
    mqtt: MqttCredentials
    central_public_key: dict[str, str]
    provisioned_at: str


@dataclass(frozen=True)
class StationIdentity:
    station_id: str
    kind: str
    fleet_url: str
    signing_key: ed25519.Ed25519PrivateKey
    mqtt: MqttCredentials
    central_key: CentralPublicKey
    fleet_ca_file: Path | None = None  # the pinned fleet CA, when provisioned over TLS

    @classmethod
    def load(cls, identity_dir: Path) -> StationIdentity:
        record_path = identity_dir / STATION_FILE
        if not record_path.exists():
            raise NotProvisionedError(
                f"this station is not provisioned ({record_path} is missing): ask the fleet "
                "admin for a claim token (`ewp fleet station add`), then run "
                "`ewp agent provision --fleet URL --token TOKEN --config FILE`"
            )
        try:
            record = StationRecord.model_validate_json(record_path.read_bytes())
            central = CentralPublicKey.from_json(record.central_public_key)
            key = load_station_private_key(identity_dir / KEY_FILE)
        except (ValidationError, KeyFileError, OSError) as exc:
            raise NotProvisionedError(
                f"the station identity in {identity_dir} is damaged ({exc}); provision the "
                "station again with a new claim token"
            ) from exc
        return cls(
            station_id=record.station_id,
            kind=record.kind,
            fleet_url=record.fleet_url,
            signing_key=key,
            mqtt=record.mqtt,
            central_key=central,
            fleet_ca_file=ca if (ca := identity_dir / FLEET_CA_FILE).is_file() else None,
        )


def load_station_record(identity_dir: Path) -> StationRecord:
    return StationRecord.model_validate_json((identity_dir / STATION_FILE).read_bytes())


def save_station_record(identity_dir: Path, record: StationRecord) -> None:
    identity_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = (json.dumps(record.model_dump(), indent=2) + "\n").encode()
    write_private(identity_dir / STATION_FILE, data)

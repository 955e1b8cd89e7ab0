"""Station side of provisioning: make the key here, claim the identity, keep the credentials.

The private key is generated on the station and never leaves it. If the claim fails, the new
key is discarded and any earlier identity is left as it was.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.errors import ProvisioningError
from edge.agent.identity import KEY_FILE, MqttCredentials, StationRecord, save_station_record
from protocol.errors import KeyFileError
from protocol.keys import CentralPublicKey, encode_station_public_key, save_station_private_key
from protocol.provisioning import CLAIM_PATH, ClaimRequest, ClaimResponse, claim_message

log = logging.getLogger(__name__)


def provision(
    identity_dir: Path,
    fleet_url: str,
    token: str,
    *,
    software_version: str,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> StationRecord:
    """Claim this station's identity from the fleet with a one-time token."""
    key = ed25519.Ed25519PrivateKey.generate()
    public_raw = key.public_key().public_bytes_raw()
    request = ClaimRequest(
        token=token,
        public_key=encode_station_public_key(key.public_key()),
        proof=base64.b64encode(key.sign(claim_message(token, public_raw))).decode(),
        software_version=software_version,
    )
    url = fleet_url.rstrip("/") + CLAIM_PATH
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(
                url, content=request.model_dump_json(), headers={"content-type": "application/json"}
            )
    except httpx.HTTPError as exc:
        raise ProvisioningError(
            f"cannot reach the fleet at {fleet_url} ({exc}): check the URL and the network"
        ) from exc
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ProvisioningError(f"the fleet refused the claim ({response.status_code}): {detail}")
    try:
        answer = ClaimResponse.model_validate_json(response.content)
        CentralPublicKey.from_json(answer.central_public_key)
    except (ValueError, KeyFileError) as exc:
        raise ProvisioningError(f"the fleet's answer is not a valid claim response: {exc}") from exc
    record = StationRecord(
        station_id=answer.station_id,
        kind=answer.kind,
        fleet_url=answer.fleet_url,
        mqtt=MqttCredentials.model_validate(answer.mqtt.model_dump()),
        central_public_key=answer.central_public_key,
        provisioned_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    identity_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Key first, record second: the record's presence means "provisioned".
    save_station_private_key(key, identity_dir / KEY_FILE)
    save_station_record(identity_dir, record)
    log.info("provisioned as station %s (%s)", record.station_id, record.kind)
    return record

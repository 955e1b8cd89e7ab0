"""Station side of provisioning: make the key here, claim the identity, keep the credentials.

The private key is generated on the station and never leaves it. If the claim fails, the new
key is discarded and any earlier identity is left as it was.

Only over ``https://`` (plain ``http://`` only with ``insecure_for_testing``). The claim token
carries the fingerprint of the fleet's CA certificate: the station fetches the certificate,
refuses to go on if its fingerprint differs, then checks the fleet's HTTPS certificate against
that CA alone (no other authority can vouch for "the fleet") and keeps it to check the broker's.
"""

from __future__ import annotations

import base64
import hmac
import logging
import ssl
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.errors import ProvisioningError
from edge.agent.identity import (
    FLEET_CA_FILE,
    KEY_FILE,
    MqttCredentials,
    StationRecord,
    save_station_record,
)
from protocol.errors import KeyFileError
from protocol.keys import CentralPublicKey, encode_station_public_key, save_station_private_key
from protocol.private_files import write_private
from protocol.provisioning import (
    CA_PATH,
    CLAIM_PATH,
    ClaimRequest,
    ClaimResponse,
    ca_fingerprint,
    claim_message,
    split_claim_token,
)

log = logging.getLogger(__name__)


def provision(
    identity_dir: Path,
    fleet_url: str,
    token: str,
    *,
    software_version: str,
    insecure_for_testing: bool = False,
    timeout: float = 30.0,
) -> StationRecord:
    """Claim this station's identity from the fleet with a one-time token."""
    try:
        token, pin = split_claim_token(token)
    except ValueError as exc:
        raise ProvisioningError(str(exc)) from exc
    scheme = urlsplit(fleet_url).scheme
    if scheme == "http" and not insecure_for_testing:
        raise ProvisioningError(
            f"refusing to provision over plain http ({fleet_url}): the station's broker "
            "password would cross the network in clear. Use the fleet's https:// address "
            "(--insecure-for-testing only on a test bench)"
        )
    if scheme not in ("http", "https"):
        raise ProvisioningError(f"{fleet_url} is not an https:// address")
    if pin is None and not insecure_for_testing:
        raise ProvisioningError(
            "this claim token carries no fingerprint of the fleet's CA certificate, so the "
            "fleet cannot be verified: ask the fleet admin for a token from a fleet with TLS "
            "set up (`ewp fleet init`)"
        )
    ca_pem = _pinned_ca(fleet_url, pin, timeout) if pin is not None else None
    verify: ssl.SSLContext | bool = True
    if ca_pem is not None and scheme == "https":
        verify = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
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
        with httpx.Client(timeout=timeout, verify=verify) as client:
            response = client.post(
                url, content=request.model_dump_json(), headers={"content-type": "application/json"}
            )
    except httpx.ConnectError as exc:
        if isinstance(exc.__context__, ssl.SSLCertVerificationError) or "CERTIFICATE" in str(exc):
            raise ProvisioningError(
                f"the HTTPS certificate of {fleet_url} is not issued by the fleet CA the claim "
                f"token pins ({exc}): refusing to provision"
            ) from exc
        raise ProvisioningError(
            f"cannot reach the fleet at {fleet_url} ({exc}): check the URL and the network"
        ) from exc
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
    if ca_pem is not None:
        write_private(identity_dir / FLEET_CA_FILE, ca_pem)
    save_station_record(identity_dir, record)
    log.info("provisioned as station %s (%s)", record.station_id, record.kind)
    return record


def _pinned_ca(fleet_url: str, pin: str, timeout: float) -> bytes:
    """The fleet's CA certificate, fetched and checked against the token's fingerprint. It is
    fetched without verification (it is what verification will rest on): the fingerprint is
    what makes it trustworthy."""
    url = fleet_url.rstrip("/") + CA_PATH
    try:
        with httpx.Client(timeout=timeout, verify=False) as client:  # noqa: S501 (pinned below)
            response = client.get(url)
    except httpx.HTTPError as exc:
        raise ProvisioningError(
            f"cannot reach the fleet at {fleet_url} ({exc}): check the URL and the network"
        ) from exc
    if response.status_code != 200:
        raise ProvisioningError(
            f"the fleet at {fleet_url} did not hand out its CA certificate "
            f"({response.status_code}): is this the fleet's address?"
        )
    try:
        found = ca_fingerprint(response.content)
    except ValueError as exc:
        raise ProvisioningError(f"{url} is not a PEM certificate: {exc}") from exc
    if not hmac.compare_digest(found, pin):
        raise ProvisioningError(
            f"the fleet at {fleet_url} presented a CA certificate with fingerprint "
            f"{found[:16]}…, but the claim token pins {pin[:16]}…: refusing to provision. "
            "Someone may be intercepting the connection, or the token is from another fleet; "
            "ask the fleet admin"
        )
    return response.content

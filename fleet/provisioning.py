"""Station registration and the one-time claim that gives a station its identity."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet import audit
from fleet.broker.dynsec import DynsecAdmin
from fleet.errors import (
    ClaimRefusedError,
    RegistryError,
    StationExistsError,
    UnknownStationError,
)
from fleet.store.admin_models import StationKey
from fleet.store.models import Station, utcnow
from protocol.errors import KeyFileError
from protocol.keys import CentralPublicKey, decode_station_public_key, station_key_id
from protocol.provisioning import ClaimRequest, ClaimResponse, MqttAccess, claim_message
from protocol.topics import validate_station_id

log = logging.getLogger(__name__)

KINDS = ("mobile", "center")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_station(
    session: Session,
    station_id: str,
    *,
    kind: str,
    name: str | None,
    ttl_hours: float,
    actor: str,
) -> str:
    """Register a station awaiting its claim; returns the one-time claim token (shown once)."""
    try:
        validate_station_id(station_id)
    except ValueError as exc:
        raise RegistryError(str(exc)) from None
    if kind not in KINDS:
        raise RegistryError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if session.get(Station, station_id) is not None:
        raise StationExistsError(
            f"station {station_id} already exists: to replace its hardware or key, use "
            f"`ewp fleet station reissue {station_id}`"
        )
    token = secrets.token_urlsafe(24)
    session.add(
        Station(
            station_id=station_id,
            name=name or station_id,
            kind=kind,
            state="awaiting_claim",
            claim_token_hash=_token_hash(token),
            claim_expires_at=utcnow() + timedelta(hours=ttl_hours),
        )
    )
    audit.record(
        session, actor=actor, action="station.add", target=station_id, detail={"kind": kind}
    )
    session.commit()
    log.info("station %s registered (%s), awaiting its claim", station_id, kind)
    return token


def reissue_claim(session: Session, station_id: str, *, ttl_hours: float, actor: str) -> str:
    """A new claim token for an existing station (new hardware, lost key). The old key and
    broker credentials keep working until the new claim replaces them."""
    station = session.get(Station, station_id)
    if station is None:
        raise UnknownStationError(f"no station {station_id}: see `ewp fleet station list`")
    token = secrets.token_urlsafe(24)
    station.claim_token_hash = _token_hash(token)
    station.claim_expires_at = utcnow() + timedelta(hours=ttl_hours)
    audit.record(session, actor=actor, action="station.reissue-claim", target=station_id)
    session.commit()
    return token


def register_key(
    session: Session, station_id: str, public_key: str, how: str, now: datetime
) -> None:
    """Add a key to the station's key history; earlier keys are marked retired."""
    key_id = station_key_id(decode_station_public_key(public_key))
    session.execute(
        update(StationKey)
        .where(StationKey.station_id == station_id, StationKey.retired_at.is_(None))
        .values(retired_at=now)
    )
    existing = session.get(StationKey, (station_id, key_id))
    if existing is None:
        session.add(
            StationKey(
                station_id=station_id,
                key_id=key_id,
                public_key=public_key,
                registered_at=now,
                how=how,
            )
        )
    else:
        existing.retired_at = None


@dataclass(frozen=True)
class BrokerEndpoint:
    host: str
    port: int
    tls: bool


def claim_station(
    session: Session,
    admin: DynsecAdmin,
    request: ClaimRequest,
    *,
    broker: BrokerEndpoint,
    central_key: CentralPublicKey,
    fleet_url: str,
) -> ClaimResponse:
    """Spend a claim token: register the station's key and create its broker credentials.

    Everything happens in one transaction: if the broker refuses, the token stays unspent.
    """
    try:
        public_key = decode_station_public_key(request.public_key)
        proof = base64.b64decode(request.proof, validate=True)
    except (KeyFileError, ValueError) as exc:
        raise ClaimRefusedError(f"malformed claim: {exc}") from None
    now = utcnow()
    station = session.scalars(
        select(Station).where(Station.claim_token_hash == _token_hash(request.token))
    ).one_or_none()
    if station is None:
        raise ClaimRefusedError("unknown or already used claim token: ask the fleet admin")
    if station.claim_expires_at is None or station.claim_expires_at < now:
        raise ClaimRefusedError(
            f"the claim token for {station.station_id} has expired: ask the fleet admin for a "
            f"new one (`ewp fleet station reissue {station.station_id}`)"
        )
    try:
        public_key.verify(proof, claim_message(request.token, public_key.public_bytes_raw()))
    except InvalidSignature:
        raise ClaimRefusedError("the claim's proof of key possession does not verify") from None
    # Spend the token first (a concurrent claim with the same token updates nothing).
    spent = session.execute(
        update(Station)
        .where(
            Station.station_id == station.station_id,
            Station.claim_token_hash == _token_hash(request.token),
        )
        .values(
            claim_token_hash=None,
            claim_expires_at=None,
            claimed_at=now,
            public_key=request.public_key,
            key_id=station_key_id(public_key),
            state="active",
            software_version=request.software_version,
        )
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ClaimRefusedError("claim token already used: ask the fleet admin")
    register_key(session, station.station_id, request.public_key, "claim", now)
    password = secrets.token_urlsafe(32)
    try:
        admin.create_station(station.station_id, password)
    except Exception:
        session.rollback()
        raise
    audit.record(
        session,
        actor=f"station:{station.station_id}",
        action="station.claim",
        target=station.station_id,
        detail={"key_id": station_key_id(public_key)},
    )
    session.commit()
    log.info("station %s claimed with key %s", station.station_id, station_key_id(public_key))
    return ClaimResponse(
        station_id=station.station_id,
        kind=station.kind,
        fleet_url=fleet_url,
        mqtt=MqttAccess(
            host=broker.host,
            port=broker.port,
            username=station.station_id,
            password=password,
            client_id=station.station_id,
            tls=broker.tls,
        ),
        central_public_key=central_key.to_json(),
    )


def revoke_station(session: Session, admin: DynsecAdmin, station_id: str, *, actor: str) -> None:
    """Revoke at once: the broker disconnects the station; its later packets are refused; a
    claim token not yet spent stops working."""
    station = session.get(Station, station_id)
    if station is None:
        raise UnknownStationError(f"no station {station_id}")
    if station.claimed_at is not None:  # only a claimed station has broker credentials
        admin.disable_station(station_id)
    station.state = "revoked"
    station.online = False
    station.claim_token_hash = None
    station.claim_expires_at = None
    audit.record(session, actor=actor, action="station.revoke", target=station_id)
    session.commit()
    log.warning("station %s revoked", station_id)

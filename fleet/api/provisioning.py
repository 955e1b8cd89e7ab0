"""/api/v1/provisioning: a station claims its identity with its one-time token."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fleet import provisioning
from fleet.api.deps import Context, DbSession
from fleet.api.schemas import errors
from fleet.errors import NotFoundError
from protocol.provisioning import CA_PATH, ClaimRequest, ClaimResponse

router = APIRouter(prefix="/provisioning", tags=["provisioning"])


@router.post("/claim", response_model=ClaimResponse, responses=errors(403, 422, 502))
def claim(body: ClaimRequest, session: DbSession, context: Context) -> ClaimResponse:
    """Spend a claim token (no other credentials: the token is the credential)."""
    return provisioning.claim_station(
        session,
        context.broker_admin(),
        body,
        broker=context.broker_for_stations,
        central_key=context.central_key,
        fleet_url=context.settings.service.public_url,
    )


class PemResponse(Response):
    media_type = "application/x-pem-file"


@router.get(
    CA_PATH.removeprefix("/api/v1/provisioning"),
    response_class=PemResponse,
    responses={
        200: {"content": {"application/x-pem-file": {"schema": {"type": "string"}}}},
        **errors(404),
    },
)
def ca_certificate(context: Context) -> PemResponse:
    """The fleet CA certificate (PEM; public). A station checks it against the fingerprint its
    claim token carries before it trusts anything else from here."""
    pem = context.ca_certificate
    if pem is None:
        raise NotFoundError("this fleet has no TLS set up")
    return PemResponse(pem)

"""/api/v1/provisioning: a station claims its identity with its one-time token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from fleet import provisioning
from fleet.api.deps import Context, DbSession
from fleet.api.schemas import errors
from fleet.errors import BrokerAdminError, ClaimRefusedError
from protocol.provisioning import ClaimRequest, ClaimResponse

router = APIRouter(prefix="/provisioning", tags=["provisioning"])


@router.post("/claim", response_model=ClaimResponse, responses=errors(403, 422, 502))
def claim(body: ClaimRequest, session: DbSession, context: Context) -> ClaimResponse:
    """Spend a claim token (no other credentials: the token is the credential)."""
    try:
        return provisioning.claim_station(
            session,
            context.broker_admin(),
            body,
            broker=context.broker_for_stations,
            central_key=context.central_key,
            fleet_url=context.settings.service.public_url,
        )
    except ClaimRefusedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except BrokerAdminError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None

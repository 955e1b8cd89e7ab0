"""/api/v1/tokens: API tokens for scripts (your own; admins: anyone's)
(``fleet/services/access.py``)."""

from __future__ import annotations

from fastapi import APIRouter, status

from fleet.access import tokens
from fleet.api.access_schemas import TokenCreate, TokenCreated, TokenPublic
from fleet.api.deps import Context, DbSession, SignedIn
from fleet.api.schemas import errors
from fleet.services import access

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=list[TokenPublic], responses=errors(401))
def list_tokens(caller: SignedIn, session: DbSession) -> list[TokenPublic]:
    """Your tokens (an admin sees everyone's). The tokens themselves are never shown again."""
    return [
        TokenPublic.of(t, access.token_owner_name(session, t))
        for t in tokens.visible_tokens(session, caller)
    ]


@router.post(
    "",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 404, 422),
)
def create_token(
    body: TokenCreate, caller: SignedIn, session: DbSession, context: Context
) -> TokenCreated:
    """A token for yourself, or (admins) for another user; its role is at most the owner's and
    yours. Only a web session or the bootstrap token may ask: an API token cannot create
    tokens (403). The answer holds the token: it is shown only this once."""
    row, owner, secret = access.create_token(
        session,
        context,
        caller,
        name=body.name,
        username=body.username,
        role=body.role,
        days=body.days,
    )
    public = TokenPublic.of(row, owner.username)
    return TokenCreated(**public.model_dump(), token=secret)


@router.post("/{token_id}/revoke", response_model=TokenPublic, responses=errors(401, 404))
def revoke_token(token_id: int, caller: SignedIn, session: DbSession) -> TokenPublic:
    """Revoke one of your tokens (admins: anyone's); it stops working at once."""
    row = access.revoke_token(session, caller, token_id)
    return TokenPublic.of(row, access.token_owner_name(session, row))

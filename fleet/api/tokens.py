"""/api/v1/tokens: API tokens for scripts (your own; admins: anyone's)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from fleet.access import tokens, users
from fleet.api.access_schemas import TokenCreate, TokenCreated, TokenPublic
from fleet.api.deps import Context, DbSession, SignedIn
from fleet.api.schemas import errors
from fleet.errors import AccessError, RoleTooHighError, TokenMintingError, UnknownUserError
from fleet.roles import Role
from fleet.store.admin_models import ApiToken, User

router = APIRouter(prefix="/tokens", tags=["tokens"])


def _owner_name(session: DbSession, token: ApiToken) -> str:
    user = session.get(User, token.user_id)
    return user.username if user is not None else "?"


@router.get("", response_model=list[TokenPublic], responses=errors(401))
def list_tokens(caller: SignedIn, session: DbSession) -> list[TokenPublic]:
    """Your tokens (an admin sees everyone's). The tokens themselves are never shown again."""
    return [
        TokenPublic.of(t, _owner_name(session, t)) for t in tokens.visible_tokens(session, caller)
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
    try:
        if body.username is not None:
            owner = users.get_user(session, body.username)
        elif caller.user_id is not None:
            owner = session.get_one(User, caller.user_id)
        else:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "the bootstrap token is no user: name the token's owner in `username`",
            )
        role = (
            Role.parse(body.role)
            if body.role is not None
            else tokens.default_role(caller.role, Role.parse(owner.role))
        )
        access = context.settings.access
        row, secret = tokens.create_token(
            session,
            owner=owner,
            name=body.name,
            role=role,
            days=body.days or min(access.token_default_days, access.token_max_days),
            creator=caller,
            max_days=access.token_max_days,
        )
    except UnknownUserError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except (RoleTooHighError, TokenMintingError) as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except AccessError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    public = TokenPublic.of(row, owner.username)
    return TokenCreated(**public.model_dump(), token=secret)


@router.post("/{token_id}/revoke", response_model=TokenPublic, responses=errors(401, 404))
def revoke_token(token_id: int, caller: SignedIn, session: DbSession) -> TokenPublic:
    """Revoke one of your tokens (admins: anyone's); it stops working at once."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != caller.user_id and not caller.may(Role.ADMIN)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
    return TokenPublic.of(tokens.revoke(session, row, actor=caller.name), _owner_name(session, row))

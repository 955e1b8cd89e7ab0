"""/api/v1/auth: log in and out of a web session, who am I, change my password
(``fleet/services/access.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from fleet.api.access_schemas import LoginRequest, LoginResult, Me, PasswordChange, UserPublic
from fleet.api.deps import (
    Context,
    DbSession,
    SignedIn,
    clear_session_cookies,
    client_of,
    set_session_cookies,
)
from fleet.api.schemas import errors
from fleet.services import access

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=LoginResult,
    responses=errors(401, 422, 429),
)
def login(
    body: LoginRequest, request: Request, response: Response, session: DbSession, context: Context
) -> LoginResult:
    """Check username and password; set the session cookie (HttpOnly, SameSite=Lax) and the
    CSRF cookie. Failed logins are counted per username and per address, then locked out."""
    new = access.login(session, context, body.username, body.password, client_of(request))
    set_session_cookies(response, context, new)
    return LoginResult(
        user=UserPublic.of(new.user), csrf_token=new.csrf_token, expires_at=new.expires_at
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403))
def logout(caller: SignedIn, session: DbSession, response: Response) -> None:
    """End this web session (with a bearer token there is nothing to end)."""
    access.logout(session, caller)
    clear_session_cookies(response)


@router.get("/me", response_model=Me, responses=errors(401))
def me(caller: SignedIn, session: DbSession) -> Me:
    user = access.user_of(session, caller)
    return Me(
        name=caller.name,
        role=caller.role.label,
        via=caller.via,
        user=UserPublic.of(user) if user is not None else None,
    )


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 422))
def change_password(
    body: PasswordChange, caller: SignedIn, session: DbSession, response: Response
) -> None:
    """Change your own password (ends all your web sessions, this one included, and revokes
    all your API tokens)."""
    access.change_password(session, caller, body.current_password, body.new_password)
    clear_session_cookies(response)

"""/api/v1/auth: log in and out of a web session, who am I, change my password."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from fleet.access import sessions as web_sessions
from fleet.access import users
from fleet.access.passwords import verify_password
from fleet.access.sessions import CSRF_COOKIE, SESSION_COOKIE
from fleet.api.access_schemas import LoginRequest, LoginResult, Me, PasswordChange, UserPublic
from fleet.api.deps import Context, DbSession, SignedIn, client_address
from fleet.api.schemas import errors
from fleet.errors import AccessError, LockedOutError, LoginRefusedError
from fleet.store.admin_models import User

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
    try:
        new = web_sessions.login(
            session,
            body.username,
            body.password,
            client_address=client_address(request),
            user_agent=request.headers.get("user-agent", ""),
            policy=context.session_policy,
        )
    except LockedOutError as exc:
        context.metrics.logins.labels(outcome="locked").inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except LoginRefusedError as exc:
        context.metrics.logins.labels(outcome="failed").inc()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    context.metrics.logins.labels(outcome="ok").inc()
    max_age = int(context.session_policy.lifetime.total_seconds())
    secure = context.settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE,
        new.session_id,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE, new.csrf_token, max_age=max_age, httponly=False, samesite="lax", secure=secure
    )
    return LoginResult(
        user=UserPublic.of(new.user), csrf_token=new.csrf_token, expires_at=new.expires_at
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403))
def logout(caller: SignedIn, session: DbSession, response: Response) -> None:
    """End this web session (with a bearer token there is nothing to end)."""
    if caller.session_hash is not None:
        web_sessions.logout(session, caller.session_hash, actor=caller.name)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/me", response_model=Me, responses=errors(401))
def me(caller: SignedIn, session: DbSession) -> Me:
    user = session.get(User, caller.user_id) if caller.user_id is not None else None
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
    user = session.get(User, caller.user_id) if caller.user_id is not None else None
    if user is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "the bootstrap token has no password"
        )
    if not verify_password(user.password_hash, body.current_password):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the current password is wrong")
    try:
        users.update_user(session, user.username, actor=caller.name, password=body.new_password)
    except AccessError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")

"""FastAPI dependencies: the fleet context, a database session, who is calling and their role.

``current_principal`` accepts, in this order:

1. ``Authorization: Bearer <token>``: the bootstrap admin token from the settings
   (``service.admin_token``) or a user's API token (``ewp_...``). A bearer header that does not
   match is a 401: it never falls back to the cookie.
2. The ``ewp_session`` cookie of a web login. Requests that change something (any method but
   GET, HEAD and OPTIONS) must then carry the session's CSRF token in ``X-CSRF-Token``.

``require_role(Role)`` and the parameter types ``Viewer``, ``Operator``, ``ReleaseManager``,
``AdminUser`` and ``Central`` check the caller's role (viewer < operator < release manager <
admin; central beside them, held only by the central system).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Response, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from fleet.access import sessions as web_sessions
from fleet.access import tokens
from fleet.access.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, NewSession
from fleet.context import FleetContext
from fleet.roles import Principal, Role
from fleet.services.access import Client

security = logging.getLogger("ewp.security")

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="an API token (`ewp fleet token create`, POST /api/v1/tokens) or the bootstrap "
    "admin token",
)
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="the web session from POST /api/v1/auth/login; state-changing requests must "
    f"also send the session's CSRF token in the {CSRF_HEADER} header",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_context(request: Request) -> FleetContext:
    context: FleetContext = request.app.state.context
    return context


Context = Annotated[FleetContext, Depends(get_context)]


def get_session(context: Context) -> Iterator[Session]:
    with context.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def get_read_session(context: Context) -> Iterator[Session]:
    with context.read_sessions() as session:
        yield session


# For routes that only read: on SQLite they never wait for the write lock (and cannot write).
ReadSession = Annotated[Session, Depends(get_read_session)]


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def client_of(request: Request) -> Client:
    return Client(client_address(request), request.headers.get("user-agent", ""))


def set_session_cookies(response: Response, context: FleetContext, new: NewSession) -> None:
    """The session cookie (HttpOnly, SameSite=Lax) and the CSRF cookie of a new web session."""
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


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def current_principal(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_id: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """Who is calling: a bearer token (bootstrap or API token) or a web session."""
    if credentials is not None:
        presented = credentials.credentials
        if hmac.compare_digest(presented.encode(), context.admin_token.encode()):
            return Principal("admin-token", Role.ADMIN)
        with context.sessions() as session:
            principal = tokens.resolve(session, presented)
        if principal is None:
            security.warning(
                "unknown, revoked or expired API token from %s", client_address(request)
            )
            raise _unauthorised("unknown, revoked or expired token")
        return principal
    if session_id:
        policy = context.session_policy
        with context.sessions() as session:
            found = web_sessions.resolve(session, session_id, policy)
            if found is None:
                raise _unauthorised("your session has ended: log in again")
            row, user = found
            if request.method not in SAFE_METHODS and not web_sessions.csrf_matches(
                row, request.headers.get(CSRF_HEADER)
            ):
                security.warning(
                    "%s %s by %s without a valid CSRF token",
                    request.method,
                    request.url.path,
                    user.username,
                )
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    f"missing or wrong {CSRF_HEADER} header: send the csrf_token from the login",
                )
            return Principal(
                user.username,
                Role.parse(user.role),
                via="session",
                user_id=user.id,
                session_hash=row.id_hash,
            )
    raise _unauthorised(
        "authentication required: Authorization: Bearer <token>, or log in "
        "(POST /api/v1/auth/login)"
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(needed: Role) -> Callable[[Principal], Principal]:
    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.may(needed):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {needed.label} role; you are {principal.role.label}",
            )
        return principal

    return check


# Any authenticated caller, whatever its role: your own session, password and tokens.
SignedIn = CurrentPrincipal

# Use as a route or router dependency, or as a parameter type to get the caller.
Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
ReleaseManager = Annotated[Principal, Depends(require_role(Role.RELEASE_MANAGER))]
# The central system's account only (no other role, admin included: decision 0040).
Central = Annotated[Principal, Depends(require_role(Role.CENTRAL))]
AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]
Admin = Depends(require_role(Role.ADMIN))

# An alert's id in a path (the API's and the dashboard's).
AlertId = Annotated[int, Path(ge=1, le=2**62)]

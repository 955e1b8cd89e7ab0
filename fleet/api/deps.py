"""FastAPI dependencies: the fleet context, a database session, the admin check."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from fleet.context import FleetContext
from fleet.roles import Principal, Role

_bearer = HTTPBearer(auto_error=False, description="the fleet admin API token")


def get_context(request: Request) -> FleetContext:
    context: FleetContext = request.app.state.context
    return context


Context = Annotated[FleetContext, Depends(get_context)]


def get_session(context: Context) -> Iterator[Session]:
    with context.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def current_principal(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who is calling. Today: the bootstrap admin token (``service.admin_token``)."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authentication required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if hmac.compare_digest(credentials.credentials.encode(), context.admin_token.encode()):
        return Principal("admin-token", Role.ADMIN)
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "unknown or expired token",
        headers={"WWW-Authenticate": "Bearer"},
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


# Use as a route or router dependency, or as a parameter type to get the caller.
Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
ReleaseManager = Annotated[Principal, Depends(require_role(Role.RELEASE_MANAGER))]
AdminUser = Annotated[Principal, Depends(require_role(Role.ADMIN))]
Admin = Depends(require_role(Role.ADMIN))

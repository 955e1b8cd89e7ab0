"""FastAPI dependencies: the fleet context, a database session, the admin check."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from fleet.context import FleetContext

_bearer = HTTPBearer(auto_error=False, description="the fleet admin API token")


def get_context(request: Request) -> FleetContext:
    context: FleetContext = request.app.state.context
    return context


Context = Annotated[FleetContext, Depends(get_context)]


def get_session(context: Context) -> Iterator[Session]:
    with context.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def require_admin(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an admin token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), context.admin_token.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token may not do that")


Admin = Depends(require_admin)

"""The one place where the fleet's errors become HTTP answers (Home Assistant's pattern, as
``ewp/cli/errors.py`` does for the terminal).

Services raise the fleet's typed errors (``fleet/errors.py``); their kind decides the status.
The API answers ``{"detail": "<message>"}`` (a refused configuration: one entry per problem,
``loc`` naming the key); a dashboard request (``/ui/...``) gets the dashboard's error page
instead, through the ``page`` function the dashboard gives. Any other exception is a bug and
keeps its traceback (500); so does a ``FleetError`` of no kind.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse

from fleet.configuration.layers import ConfigRefusedError
from fleet.errors import (
    BadRequestError,
    ConflictError,
    FleetError,
    ForbiddenError,
    InvalidError,
    LoginError,
    NotFoundError,
    TooManyError,
    UnavailableError,
)

STATUS: dict[type[FleetError], int] = {
    BadRequestError: status.HTTP_400_BAD_REQUEST,
    LoginError: status.HTTP_401_UNAUTHORIZED,
    ForbiddenError: status.HTTP_403_FORBIDDEN,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    TooManyError: status.HTTP_429_TOO_MANY_REQUESTS,
    UnavailableError: status.HTTP_502_BAD_GATEWAY,
}
PageAnswer = Callable[[Request, FleetError, int], Response]


def status_of(error: FleetError) -> int | None:
    """The status of the error's kind: the first kind among its classes, nearest first."""
    for klass in type(error).__mro__:
        if klass in STATUS:
            return STATUS[klass]
    return None


def detail_of(error: FleetError) -> str | list[dict[str, object]]:
    if isinstance(error, ConfigRefusedError):
        return [
            {
                "loc": ["body", *p.key.split(".")],
                "msg": p.problem,
                "type": "config",
                **({"station_id": p.station_id} if p.station_id else {}),
            }
            for p in error.problems
        ]
    return str(error)


def api_answer(error: FleetError, code: int) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyError) else None
    return JSONResponse({"detail": detail_of(error)}, status_code=code, headers=headers)


def install(app: FastAPI, *, page: PageAnswer | None = None, pages_prefix: str = "/ui/") -> None:
    """Answer every fleet error of a known kind; ``page`` renders it for the dashboard."""

    async def fleet_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FleetError)
        code = status_of(exc) or status.HTTP_500_INTERNAL_SERVER_ERROR
        if page is not None and request.url.path.startswith(pages_prefix):
            return page(request, exc, code)
        return api_answer(exc, code)

    for kind in STATUS:
        app.add_exception_handler(kind, fleet_error)

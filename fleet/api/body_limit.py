"""Request bodies bounded before they are read (an ASGI middleware around the whole app).

A request that carries no credentials at all (no ``Authorization`` header, no session cookie)
may send at most ``anonymous`` bytes: the public status page, the logins, the provisioning
claim, and anything an anonymous caller posts to a protected route (FastAPI reads a body before
it checks who is calling). A request with credentials may send at most ``signed_in`` bytes.

Two checks, both before the application holds the bytes:

- a ``Content-Length`` above the limit is answered ``413`` at once; nothing of the body is read
  (the server stops reading the socket, then closes the connection);
- a body without a length (``Transfer-Encoding: chunked``) or one longer than it said is
  counted as it streams in; past the limit the application's next read fails and the answer
  is ``413``, whatever the application made of the failure.

Uvicorn reads at most a small buffer ahead of the application, so memory stays flat however
much a client sends (``tests/fleet/api/test_body_limit.py`` sends 150 MiB).
"""

from __future__ import annotations

import json
import logging

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet.access.sessions import SESSION_COOKIE

security = logging.getLogger("ewp.security")


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def has_credentials(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request presents any credential (valid or not: that is checked later)."""
    cookie_name = SESSION_COOKIE.encode() + b"="
    for name, value in headers:
        if name == b"authorization" and value.strip():
            return True
        if name == b"cookie" and cookie_name in value:
            return True
    return False


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | str | None:
    """The declared length, None when absent, or an error text when it cannot be a length."""
    values = [value for name, value in headers if name == b"content-length"]
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].strip().isdigit() or len(values[0]) > 19:
        return "a Content-Length that is not one whole number"
    return int(values[0])


class BodyLimit:
    def __init__(self, app: ASGIApp, *, anonymous: int, signed_in: int) -> None:
        self.app = app
        self.anonymous = anonymous
        self.signed_in = signed_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        limit = self.signed_in if has_credentials(headers) else self.anonymous
        declared = _content_length(headers)
        if isinstance(declared, str):
            await _answer(send, 400, declared)
            return
        if declared is not None and declared > limit:
            self._log(scope, limit, declared)
            await _answer(send, 413, f"the request body is larger than {limit} bytes")
            return

        counted = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal counted, exceeded
            if exceeded:
                raise BodyTooLargeError(limit)
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > limit:
                    exceeded = True
                    self._log(scope, limit, counted)
                    raise BodyTooLargeError(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if exceeded:  # whatever the app answers to the failed read: a 413
                if message["type"] == "http.response.start" and not answered:
                    answered = True
                    await _answer(send, 413, f"the request body is larger than {limit} bytes")
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLargeError:
            if not answered:
                answered = True
                await _answer(send, 413, f"the request body is larger than {limit} bytes")

    @staticmethod
    def _log(scope: Scope, limit: int, size: int) -> None:
        client = scope.get("client")
        security.warning(
            "%s %s from %s: body of %d bytes or more refused (limit %d)",
            scope.get("method"),
            scope.get("path"),
            client[0] if client else "unknown",
            size,
            limit,
        )


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

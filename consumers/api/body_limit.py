"""The request body limit of every path the API process serves (an ASGI middleware).

`BodyLimit(app, max_bytes=N)` answers 413 to a request whose body is over N bytes, on any path
(the feeds, the docs, the dashboard's login), before the application sees the request:
- a declared ``Content-Length`` over N is refused at once, before a byte of the body is read;
- otherwise the body is read chunk by chunk as the server receives it, counting, and refused the
  moment the count passes N: what is held is at most N bytes, never the whole body, and the
  rest is never read (the server then closes the connection);
- a body within the limit is handed to the application unchanged, and what the application
  receives after it (a disconnect) comes from the server as before.
The feed API's endpoints are GETs that need no body at all; the limit is what keeps a client from
making the server read (or a framework buffer) an unbounded one. N is `SITN_API_MAX_BODY`.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.settings import DEFAULT_MAX_BODY

__all__ = ["DEFAULT_MAX_BODY", "BodyLimit"]


class BodyLimit:
    """Refuses, with 413, any HTTP request whose body is over `max_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes={max_bytes} is negative; give a size in bytes, 0 or more")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client left: the application hears of it as it would have
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        detail = (
            f"the request body is over {self.max_bytes} bytes, the most this API takes; "
            "send a smaller one (the feeds' and rejections' GETs take none)"
        )
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    """The declared body size; a malformed one counts as too large (nothing sane sends it)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 1 << 62
    return None

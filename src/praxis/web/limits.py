"""One request-body cap for every path (issue 17 finding 8).

The CSRF and NUL guards buffered bodies only for cookie and form requests, so a bearer-token upload
was read by the route with a limit of its own. This middleware sits outside all of them and holds
every request, whatever its credential, to `platform.settings.body_limit()`: a declared
Content-Length over the cap is refused before a byte is read, and a body that streams past it is
cut off with the same 413.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from praxis.platform.settings import body_limit, upload_limit
from praxis.web.problems import problem_body


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body streams past the cap. An HTTPException, so that a
    route's body parser (FastAPI turns other errors while reading a form into a 400) lets it
    through and the app answers 413 like any other HTTP error."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is larger than the upload limit.")


async def _send_413(scope: Scope, send: Send) -> None:
    import json

    from starlette.requests import Request

    mb = upload_limit() / (1024 * 1024)
    detail = f"The request body is larger than the {mb:g} MB upload limit; split the file into smaller ones."
    body = json.dumps(problem_body(413, "payload-too-large", "Payload too large", detail,
                                   Request(scope))).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit()
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_413(scope, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge:
            if not started:
                await _send_413(scope, send)

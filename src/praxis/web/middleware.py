"""ASGI middleware: request id and access log, security headers, CSRF, idempotency keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from praxis.platform import audit, idempotency
from praxis.platform.logs import request_id_var
from praxis.platform.settings import body_limit
from praxis.web import idempotent
from praxis.web.problems import PROBLEM_JSON, problem_body

log = logging.getLogger("praxis.access")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
CSRF_COOKIE = "praxis_csrf"
SESSION_COOKIE = "praxis_session"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'self'; object-src 'none'")

_RID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _cookies(scope: Scope) -> dict[str, str]:
    raw = Headers(scope=scope).get("cookie", "")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header is treated as no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _send_problem(scope: Scope, send: Send, status: int, type_: str, title: str, detail: str, *,
                        extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """An RFC 9457 answer from middleware: the same document `web.problems` gives (instance, and
    the request id RequestContextMiddleware put in the scope)."""
    body = json.dumps(problem_body(status, type_, title, detail, Request(scope))).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()),
               (b"content-length", str(len(body)).encode())] + (extra_headers or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _too_large(scope: Scope, send: Send) -> None:
    await _send_problem(scope, send, 413, "payload-too-large", "Payload too large", "The request body is too large.")


class RequestContextMiddleware:
    """Request id (accepted from X-Request-ID when sane), security headers, access log."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        rid = incoming if _RID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status_holder: dict[str, int] = {}
        https = scope.get("scheme") == "https" or Headers(scope=scope).get("x-forwarded-proto") == "https"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                rate = scope["state"].get("rate_limit")
                if rate is not None:  # an API client's request budget (decision 41)
                    limit, remaining, reset = rate
                    headers["RateLimit-Limit"] = str(limit)
                    headers["RateLimit-Remaining"] = str(remaining)
                    headers["RateLimit-Reset"] = str(reset)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                ctype = headers.get("content-type", "")
                if ctype.startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", CSP)
                if not scope["path"].startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
                if https or self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # Answer here rather than in Starlette's outermost error middleware, so the 500 still
            # carries the request id and security headers. The trace goes to the log only.
            log.exception("unhandled error")
            if "status" in status_holder:
                raise
            await _send_problem(scope, send_wrapper, 500, "internal-error", "Internal error",
                                "The request could not be completed; quote the request id to support.")
        finally:
            route = scope.get("route")
            log.info("request", extra={
                "method": scope["method"],
                "route": getattr(route, "path", scope["path"]) if route else scope["path"],
                "status": status_holder.get("status", 500),
                "ms": round((time.perf_counter() - start) * 1000, 2),
            })
            request_id_var.reset(token)


def _has_header(scope: Scope, name: bytes) -> bool:
    return any(key == name for key, _ in scope["headers"])


def csrf_token_for(secret: bytes, cookie_value: str) -> str:
    return hmac.new(secret, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()


class CSRFMiddleware:
    """Signed double-submit token for every cookie-authenticated unsafe request.

    A browser gets a random `praxis_csrf` cookie; pages embed HMAC(secret, cookie) as the form
    field `csrf_token` (htmx sends it as `X-CSRF-Token`). Bearer-token API calls carry no
    ambient credential and are exempt, as are public JSON endpoints called without cookies.
    """

    def __init__(self, app: ASGIApp, *, secret: Callable[[], bytes], secure_cookie: bool) -> None:
        self.app = app
        self.secret = secret
        self.secure_cookie = secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _has_header(scope, b"authorization"):
            # A bearer-token call (the resolver then ignores cookies): no ambient credential to
            # protect, so no check, no HMAC and no cookie handed to a bot.
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        cookie = cookies.get(CSRF_COOKIE)
        new_cookie = None
        if not cookie or not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", cookie):
            new_cookie = cookie = secrets.token_urlsafe(24)
        state = scope.setdefault("state", {})
        state["csrf_token"] = csrf_token_for(self.secret(), cookie)

        headers = Headers(scope=scope)
        needs_check = scope["method"] not in SAFE_METHODS and (
            SESSION_COOKIE in cookies or not scope["path"].startswith("/api/"))
        if needs_check:
            submitted = headers.get("x-csrf-token")
            if not submitted:
                # Only a form without the header is read here to find its token: an htmx upload
                # (the header is set) streams through without being held in memory.
                body = await _read_body(receive, body_limit())
                if body is None:
                    await _too_large(scope, send)
                    return
                receive = _replay(body)
                submitted = await _form_token(scope, body)
            expected = csrf_token_for(self.secret(), cookie) if new_cookie is None else None
            if not submitted or expected is None or not hmac.compare_digest(submitted, expected):
                await _send_problem(scope, send, 403, "csrf-failed", "CSRF check failed",
                                    "The form's security token is missing or stale: reload the page "
                                    "and submit again.")
                return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and new_cookie is not None:
                headers = MutableHeaders(scope=message)
                attrs = f"{CSRF_COOKIE}={new_cookie}; Path=/; HttpOnly; SameSite=Lax"
                if self.secure_cookie:
                    attrs += "; Secure"
                headers.append("set-cookie", attrs)
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def _form_token(scope: Scope, body: bytes) -> str | None:
    ctype = Headers(scope=scope).get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get("csrf_token")
        return values[0] if values else None
    if ctype.startswith("multipart/form-data"):
        request = Request(scope, _replay(body))
        form = await request.form()
        value = form.get("csrf_token")
        await form.close()
        return value if isinstance(value, str) else None
    return None


# A JSON NUL escape preceded by an even number of backslashes (i.e. a real NUL, not the text "\\u0000").
_JSON_NUL = re.compile(rb'(?<!\\)(?:\\\\)*\\u0000')


class NulGuardMiddleware:
    """Refuse NUL characters in query strings, JSON and form bodies: PostgreSQL cannot store them in
    text, and no field of ours means one. Binary uploads (multipart files) are not inspected."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            await _send_problem(scope, send, 422, "validation-error", "Invalid input",
                                "NUL characters are not allowed in the address")
            return
        ctype = Headers(scope=scope).get("content-type", "")
        if scope["method"] in SAFE_METHODS or not (
                ctype.startswith("application/json") or ctype.startswith("application/x-www-form-urlencoded")):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, body_limit())
        if body is None:
            await _too_large(scope, send)
            return
        if b"\x00" in body or _JSON_NUL.search(body) or (b"%00" in body and ctype.startswith("application/x-www")):
            await _send_problem(scope, send, 422, "validation-error", "Invalid input",
                                "NUL characters are not allowed in text fields")
            return
        await self.app(scope, _replay(body), send)


class IdempotencyMiddleware:
    """`Idempotency-Key` on POST: the first answer is stored and replayed to retries.

    This only notes the key and the body's fingerprint on the request; whether to reserve the key
    or answer from the store is decided by the route's access rule once the caller is
    authenticated and permitted (web.idempotent.gate). An answer is stored only for a reserved key.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if not key:
            await self.app(scope, receive, send)
            return
        if len(key) > 255:
            await _send_problem(scope, send, 422, "validation-error", "Invalid input",
                                "Idempotency-Key must be at most 255 characters.")
            return
        credential = headers.get("authorization") or _cookies(scope).get(SESSION_COOKIE) or ""
        body = await _read_body(receive, body_limit())
        if body is None:
            await _too_large(scope, send)
            return
        path = scope["path"] + ("?" + scope["query_string"].decode() if scope.get("query_string") else "")
        pending = idempotent.Pending(hashlib.sha256(credential.encode()).hexdigest(), key,
                                     idempotency.fingerprint("POST", path, body))
        scope.setdefault("state", {})[idempotent.STATE_KEY] = pending

        captured: dict[str, Any] = {"status": 500, "headers": {}, "body": []}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = {k.decode(): v.decode() for k, v in message.get("headers", [])
                                       if k.decode().lower() not in ("set-cookie", "x-request-id",
                                                                     "content-length")}
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            with audit.collecting_patients() as pending.patients:
                await self.app(scope, _replay(body), send_wrapper)
        except Exception:
            await idempotent.abandon(pending)
            raise
        await idempotent.finish(pending, captured["status"], captured["headers"], b"".join(captured["body"]))


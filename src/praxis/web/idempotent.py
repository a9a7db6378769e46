"""`Idempotency-Key` on POST, decided after authentication and the route's permission check.

The middleware (web.middleware.IdempotencyMiddleware) only reads the body and notes the key on the
request (`Pending`); the route's access rule (web.deps.permission / authenticated) calls `gate()`
once the caller is authenticated and holds the permission. Only then is the key reserved or a
stored answer looked up, so a revoked or unknown credential, or one without the permission, gets
the same 401/403 as without a key, and nothing is stored for it. A replay is audited like a read
of the patients the first request's audit rows named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from praxis.platform import idempotency
from praxis.platform.context import Context
from praxis.web.problems import problem_response

STATE_KEY = "idempotency"


@dataclass
class Pending:
    """A POST that carries an Idempotency-Key, until the access rule has judged the caller."""

    credential: str  # hash of the credential: keys are per credential
    key: str
    fingerprint: str
    status: str = "pending"  # "pending" -> "reserved" (the handler runs) | "answered" (replay, refusal)
    patients: set[Any] = field(default_factory=set)


class Answered(Exception):
    """Raised by the gate with the answer to send instead of running the handler."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent answer")
        self.response = response


def gate(request: Request, ctx: Context) -> None:
    """Reserve the key for this authenticated, permitted caller, or answer from what is stored."""
    pending: Pending | None = request.scope.get("state", {}).get(STATE_KEY)
    if pending is None or pending.status != "pending":
        return  # no key, or a second access rule on the same route: decided already
    outcome, row = idempotency.begin(pending.credential, pending.key, pending.fingerprint)
    if outcome == "new":
        pending.status = "reserved"
        return
    pending.status = "answered"
    if outcome == "mismatch":
        raise Answered(problem_response(422, "idempotency-key-reused", "Idempotency key reused",
                                        "This Idempotency-Key was already used with a different request.",
                                        request))
    if outcome == "busy" or row is None:
        raise Answered(problem_response(409, "idempotency-in-progress", "Request in progress",
                                        "A request with this Idempotency-Key is still being processed; "
                                        "retry later.", request, headers={"Retry-After": "1"}))
    idempotency.audit_replay(ctx, row, request.url.path)
    headers = dict(row.headers or {})
    headers["Idempotent-Replayed"] = "true"
    raise Answered(Response(row.body or b"", status_code=row.status_code or 200, headers=headers))


def install(app: FastAPI) -> None:
    @app.exception_handler(Answered)
    async def _answered(_request: Request, exc: Answered) -> Response:
        return exc.response


async def finish(pending: Pending, status: int, headers: dict[str, str], body: bytes) -> None:
    """After the handler: store its answer (or forget the reservation after a server error)."""
    if pending.status != "reserved":
        return  # never reserved: unauthenticated, refused, or answered from the store
    if status >= 500:
        await run_in_threadpool(idempotency.release, pending.credential, pending.key)
    else:
        await run_in_threadpool(idempotency.complete, pending.credential, pending.key, status, headers, body,
                                pending.patients)


async def abandon(pending: Pending) -> None:
    if pending.status == "reserved":
        await run_in_threadpool(idempotency.release, pending.credential, pending.key)

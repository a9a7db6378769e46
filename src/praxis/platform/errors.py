"""Domain errors that the web layer turns into RFC 9457 problem documents.

`type` is a stable URI path under /problems/ that integrators can switch on.
"""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    status: int = 400
    type: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        type: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = errors or []
        self.headers = headers  # extra response headers (Retry-After of a 429)
        if type:
            self.type = type
        if status:
            self.status = status


class ValidationProblem(ProblemError):
    status = 422
    type = "validation-error"
    title = "Invalid input"


class NotFound(ProblemError):
    status = 404
    type = "not-found"
    title = "Not found"


class Forbidden(ProblemError):
    status = 403
    type = "forbidden"
    title = "Forbidden"


class Unauthenticated(ProblemError):
    status = 401
    type = "unauthenticated"
    title = "Authentication required"


class Conflict(ProblemError):
    status = 409
    type = "conflict"
    title = "Conflict"


class TooManyRequests(ProblemError):
    status = 429
    type = "rate-limited"
    title = "Too many requests"


class TenantScopeError(RuntimeError):
    """A tenant-scoped query ran with no organisation set: a programming error, fail closed."""

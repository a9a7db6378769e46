"""RFC 9457 problem responses for every error; no stack trace ever reaches a client."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from praxis.platform.errors import ProblemError, TenantScopeError

log = logging.getLogger("praxis.web")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/problems/"


def problem_body(status: int, type_: str, title: str, detail: str, request: Request,
                 **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    rid = getattr(request.state, "request_id", None)
    if rid:
        body["request_id"] = rid
    body.update({k: v for k, v in extra.items() if v not in (None, [])})
    return body


def problem_response(status: int, type_: str, title: str, detail: str, request: Request,
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return JSONResponse(problem_body(status, type_, title, detail, request, **extra), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


# Channels that speak another error dialect (the FHIR facade answers OperationOutcome) register a
# renderer for their path prefix; every handler below asks it first.
ErrorRenderer = Callable[[Request, int, str, str | None], Response]
_renderers: list[tuple[str, ErrorRenderer]] = []


def register_renderer(prefix: str, renderer: ErrorRenderer) -> None:
    """Render errors under `prefix` with `renderer(request, status, detail, field)`."""
    if all(p != prefix for p, _ in _renderers):
        _renderers.append((prefix, renderer))


def _special(request: Request, status: int, detail: str, field: str | None,
             headers: dict[str, str] | None = None) -> Response | None:
    for prefix, renderer in _renderers:
        if request.url.path.startswith(prefix):
            response = renderer(request, status, detail, field)
            for k, v in (headers or {}).items():
                response.headers[k] = v
            return response
    return None


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        if special := _special(request, exc.status, exc.detail, exc.field, exc.headers):
            return special
        if exc.status == 401 and wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if wants_html(request) and exc.status in (403, 404):
            from praxis.web.templating import render_error

            return render_error(request, exc.status, exc.title, exc.detail)
        return problem_response(exc.status, exc.type, exc.title, exc.detail, request, headers=exc.headers,
                                field=exc.field, errors=exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for err in exc.errors():
            errors.append({"field": _location(tuple(err.get("loc", ()))),
                           "message": err.get("msg", "invalid"), "code": err.get("type", "invalid")})
        first = errors[0]["field"] if errors else None
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]) or "Invalid input"
        if special := _special(request, 422, detail, first):
            return special
        return problem_response(422, "validation-error", "Invalid input", detail, request,
                                field=first, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required"}
        types = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated"}
        if special := _special(request, exc.status_code, str(exc.detail), None, getattr(exc, "headers", None)):
            return special
        if wants_html(request) and exc.status_code == 404:
            from praxis.web.templating import render_error

            return render_error(request, 404, "Not found", "There is nothing at this address.")
        return problem_response(exc.status_code, types.get(exc.status_code, "http-error"),
                                titles.get(exc.status_code, "Error"), str(exc.detail), request,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(TenantScopeError)
    async def _tenant(request: Request, exc: TenantScopeError) -> Response:
        log.error("tenant scope violation: %s", exc)
        if special := _special(request, 500, "The request could not be completed.", None):
            return special
        return problem_response(500, "internal-error", "Internal error",
                                "The request could not be completed.", request)

"""Health, readiness and the API docs page (assets served locally: no CDN, CSP-clean)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from praxis.platform.db import ping
from praxis.web.deps import public
from praxis.web.problems import problem_response
from praxis.web.routes import Router
from praxis.web.templating import templates

router = Router(tags=["system"])


@router.get("/healthz", dependencies=[Depends(public)])
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[Depends(public)],
            responses={503: {"description": "Not ready", "content": {"application/problem+json": {}}}})
def readyz(request: Request) -> Response:
    """Readiness: the database answers and its schema is at the code's migration heads."""
    from praxis.migrations.runner import pending_heads

    try:
        ping()
        pending = pending_heads()
    except Exception as exc:  # report, don't crash: this is what the probe is for
        return problem_response(503, "not-ready", "Not ready", "The database does not answer", request,
                                database=type(exc).__name__)
    if pending:
        return problem_response(503, "not-ready", "Not ready", "Migrations are pending: run `praxis db upgrade`",
                                request, pending=pending)
    return JSONResponse({"status": "ready"})


@router.get("/docs", dependencies=[Depends(public)], include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "web/docs.html", {"request": request})

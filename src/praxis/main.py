"""Compose the web application: middleware, problem handlers, every domain's routers."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from praxis import __version__, wiring
from praxis.platform import audit, crypto
from praxis.platform.settings import Settings, get_settings
from praxis.web import idempotent, openapi, problems
from praxis.web.limits import BodyLimitMiddleware
from praxis.web.middleware import (
    CSRFMiddleware,
    IdempotencyMiddleware,
    NulGuardMiddleware,
    RequestContextMiddleware,
)

log = logging.getLogger("praxis")

API_DESCRIPTION = """
The Praxis REST API. Authenticate with `Authorization: Bearer <api client token>` (created by an
organisation admin with exactly the scopes a bot needs) or, from the staff UI, the session cookie
plus `X-CSRF-Token`. Every error is `application/problem+json` (RFC 9457) with a stable `type`
and, for invalid input, the `field` at fault. POST endpoints accept an `Idempotency-Key` header:
a retry returns the first answer instead of doing the work twice.
"""


def _sealer(stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            audit.seal_pending()
        except Exception:  # keep sealing on the next tick; the error is logged
            log.exception("audit sealing failed")


def create_app(settings: Settings | None = None, *, seal_audit: bool = True) -> FastAPI:
    settings = settings or get_settings()
    wiring.wire()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if seal_audit:
            thread = threading.Thread(target=_sealer, args=(stop, settings.audit_seal_interval_seconds),
                                      name="audit-sealer", daemon=True)
            thread.start()
        yield
        stop.set()
        if thread:
            thread.join(timeout=5)

    app = FastAPI(
        title="Praxis API",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    problems.install(app)
    idempotent.install(app)
    openapi.install(app)
    for router in wiring.routers():
        app.include_router(router)
    static = Path(__file__).parent / "web" / "static"
    app.mount("/static/vendor/htmx", StaticFiles(directory=settings.assets_dir / "htmx.org" / "dist",
                                                 check_dir=False), name="vendor-htmx")
    app.mount("/static/vendor/swagger-ui", StaticFiles(directory=settings.assets_dir / "swagger-ui-dist",
                                                       check_dir=False), name="vendor-swagger")
    app.mount("/static", StaticFiles(directory=static), name="static")
    # Added innermost first: request id wraps everything, then CSRF, NUL guard, idempotency.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(NulGuardMiddleware)
    app.add_middleware(CSRFMiddleware, secret=lambda: crypto.keyring().secret_key,
                       secure_cookie=settings.cookie_secure)
    # One body cap for every request, bearer or cookie, outside every guard that reads a body.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app

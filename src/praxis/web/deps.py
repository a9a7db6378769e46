"""Route dependencies. Every route declares exactly one access rule:

- `permission("domain:action")` — an authenticated actor holding that permission somewhere;
  the service then checks the object's location against `ctx.scope(...)`;
- `authenticated` — any signed-in actor (own account pages, logout);
- `public` — no login (login, health, patient intake links, online booking): reviewed
  allow-list in tests/architecture/test_routes.py.

The context itself comes from a resolver that wiring.py plugs in (identity's), so the web layer
does not import identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from praxis.platform.context import Context
from praxis.platform.errors import Forbidden, Unauthenticated
from praxis.platform.permissions import is_known
from praxis.web import idempotent
from praxis.web.middleware import SESSION_COOKIE


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presents, read off HTTP here so the resolver (identity) needs no web types."""

    authorization: str  # the Authorization header, "" when absent
    session_token: str | None  # the session cookie
    client_ip: str | None
    request_id: str | None
    full_page: bool  # neither /api/ nor an htmx fragment: the page shell (org/location switcher) is wanted
    # What the resolver reports back for the answer's headers: "rate_limit" -> (limit, remaining, reset s)
    notes: dict[str, object] = field(default_factory=dict)


# The resolver returns the context (None: not signed in) and, for full pages, the page shell.
ContextResolver = Callable[[Credentials], tuple[Context | None, dict[str, object] | None]]
_resolver: ContextResolver | None = None

AUTHENTICATED = "*authenticated*"
PUBLIC = "*public*"


def set_context_resolver(resolver: ContextResolver) -> None:
    global _resolver
    _resolver = resolver


def current_context(request: Request) -> Context | None:
    """The caller's context (cached per request), or None when not signed in."""
    if hasattr(request.state, "ctx"):
        cached: Context | None = request.state.ctx
        return cached
    ctx: Context | None = None
    if _resolver is not None:
        creds = credentials(request)
        try:
            ctx, shell = _resolver(creds)
        finally:
            if "rate_limit" in creds.notes:  # RequestContextMiddleware writes the RateLimit headers
                request.state.rate_limit = creds.notes["rate_limit"]
        if shell is not None:
            request.state.shell = shell
    request.state.ctx = ctx
    return ctx


def credentials(request: Request) -> Credentials:
    return Credentials(
        authorization=request.headers.get("authorization", ""),
        session_token=request.cookies.get(SESSION_COOKIE),
        client_ip=client_ip(request),
        request_id=getattr(request.state, "request_id", None),
        full_page=not request.url.path.startswith("/api/") and not request.headers.get("hx-request"),
    )


def permission(name: str) -> Callable[[Request], Context]:
    """Dependency: require `name` (held org-wide or at some location)."""
    if not is_known(name):
        raise ValueError(f"route declares unknown permission {name!r}")

    def require_permission(request: Request) -> Context:
        ctx = current_context(request)
        if ctx is None:
            raise Unauthenticated("Sign in or send a bearer token")
        if not ctx.has(name):
            raise Forbidden(f"Permission {name} required")
        idempotent.gate(request, ctx)  # only now: a stored answer goes to whom may ask for it
        return ctx

    require_permission.permission = name  # type: ignore[attr-defined]
    return require_permission


def authenticated(request: Request) -> Context:
    """Dependency: any signed-in actor."""
    ctx = current_context(request)
    if ctx is None:
        raise Unauthenticated("Sign in or send a bearer token")
    idempotent.gate(request, ctx)
    return ctx


authenticated.permission = AUTHENTICATED  # type: ignore[attr-defined]


def public(request: Request) -> Context | None:
    """Dependency: no login needed; returns the context when there happens to be one. Idempotency
    keys are not honoured here: an answer is stored only for an authenticated caller."""
    return current_context(request)


public.permission = PUBLIC  # type: ignore[attr-defined]


def declared_permissions(dependant: Any) -> list[str]:
    """Access rules declared by a route's dependency tree (used by the route registry test)."""
    found: list[str] = []
    for dep in dependant.dependencies:
        rule = getattr(dep.call, "permission", None)
        if rule is not None:
            found.append(rule)
        found.extend(declared_permissions(dep))
    return found


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None

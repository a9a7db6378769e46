"""The web layer's context resolver: bearer token first, then the session cookie."""

from __future__ import annotations

from fastapi import Request

from praxis.identity import auth
from praxis.platform.context import Context
from praxis.practice.service import list_organisations
from praxis.web.deps import client_ip
from praxis.web.middleware import SESSION_COOKIE


def resolve(request: Request) -> Context | None:
    rid = getattr(request.state, "request_id", None)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return auth.resolve_bearer(token.strip(), client_ip=client_ip(request), request_id=rid)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    resolved = auth.resolve_session(token, client_ip=client_ip(request), request_id=rid)
    if resolved is None:
        return None
    ctx, info = resolved
    # Only full pages show the organisation/location switcher: API calls and htmx fragments (the
    # day sheet refreshes every 15 s) skip its two queries.
    if not request.url.path.startswith("/api/") and not request.headers.get("hx-request"):
        request.state.shell = _shell(ctx, info)
    return ctx


def _shell(ctx: Context, info: auth.SessionInfo) -> dict[str, object]:
    """What the page shell needs: the user's organisations and the locations they may work at."""
    from praxis.practice.service import list_locations

    orgs = [{"id": o.id, "name": o.name} for o in list_organisations(info.org_ids)]
    locations = [{"id": loc.id, "name": loc.name} for loc in list_locations(ctx)] if ctx.has(
        "locations:read") else []
    return {"orgs": orgs, "org_id": ctx.org_id, "locations": locations, "location_id": ctx.location_id}

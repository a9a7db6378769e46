"""The web layer's context resolver: bearer token first, then the session cookie."""

from __future__ import annotations

from praxis.identity import auth
from praxis.platform.context import Context
from praxis.practice.service import list_organisations
from praxis.web.deps import Credentials


def resolve(creds: Credentials) -> tuple[Context | None, dict[str, object] | None]:
    """The caller's context (None: not signed in) and, for a full page, its shell."""
    if creds.authorization:
        scheme, _, token = creds.authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None, None
        return auth.resolve_bearer(token.strip(), client_ip=creds.client_ip, request_id=creds.request_id,
                                   notes=creds.notes), None
    if not creds.session_token:
        return None, None
    resolved = auth.resolve_session(creds.session_token, client_ip=creds.client_ip, request_id=creds.request_id)
    if resolved is None:
        return None, None
    ctx, info = resolved
    # Only full pages show the organisation/location switcher: API calls and htmx fragments (the
    # day sheet refreshes every 15 s) skip its two queries.
    return ctx, (_shell(ctx, info) if creds.full_page else None)


def _shell(ctx: Context, info: auth.SessionInfo) -> dict[str, object]:
    """What the page shell needs: the user's organisations and the locations they may work at."""
    from praxis.practice.service import list_locations

    orgs = [{"id": o.id, "name": o.name} for o in list_organisations(info.org_ids)]
    locations = [{"id": loc.id, "name": loc.name} for loc in list_locations(ctx)] if ctx.has(
        "locations:read") else []
    return {"orgs": orgs, "org_id": ctx.org_id, "locations": locations, "location_id": ctx.location_id}

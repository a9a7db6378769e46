"""Build a platform Context from a membership's grants (and an open break-glass), or an API client."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.identity.models import ApiClient, BreakGlass, Grant, Membership, Role, User
from praxis.identity.roles import BUILTIN_BY_KEY, expand
from praxis.platform.clock import now
from praxis.platform.context import Context, Scope
from praxis.platform.permissions import CATALOGUE


def role_permissions(role: Role) -> set[str]:
    if role.builtin and role.key in BUILTIN_BY_KEY:
        return expand(BUILTIN_BY_KEY[role.key].patterns)
    return expand(list(role.permissions or []))


def permissions_from_grants(pairs: Iterable[tuple[set[str], uuid.UUID | None]]) -> dict[str, Scope]:
    """Merge (permissions, location or None) pairs: org-wide wins over any location set."""
    merged: dict[str, set[uuid.UUID] | None] = {}
    for perms, location_id in pairs:
        for perm in perms:
            info = CATALOGUE.get(perm)
            if info is None:
                continue
            if location_id is None:
                merged[perm] = None
            elif not info.location_bound:
                continue  # an org-level permission granted at one location grants nothing
            elif perm not in merged:
                merged[perm] = {location_id}
            elif merged[perm] is not None:
                merged[perm].add(location_id)  # type: ignore[union-attr]
    return {p: (None if locs is None else frozenset(locs)) for p, locs in merged.items()}


def active_break_glass(session: Session, membership_id: uuid.UUID) -> BreakGlass | None:
    return session.scalars(
        select(BreakGlass)
        .where(BreakGlass.membership_id == membership_id, BreakGlass.expires_at > now(),
               BreakGlass.ended_at.is_(None))
        .order_by(BreakGlass.expires_at.desc())
    ).first()


def build_user_context(session: Session, user: User, membership: Membership, *,
                       location_id: uuid.UUID | None = None, client_ip: str | None = None,
                       request_id: str | None = None, session_id: str | None = None) -> Context:
    """The session's organisation must be the membership's (the tenant hook scopes the queries)."""
    rows = session.execute(
        select(Role, Grant.location_id).join(Grant, (Grant.role_id == Role.id) & (Grant.org_id == Role.org_id))
        .where(Grant.membership_id == membership.id)
    ).all()
    pairs = [(role_permissions(role), loc) for role, loc in rows]
    roles = tuple(sorted({role.key for role, _ in rows}))
    perms = permissions_from_grants(pairs)
    bg = active_break_glass(session, membership.id)
    bg_reason = bg_until = standing = None
    if bg is not None:
        # Widen the patient-care permissions the user holds (those the catalogue marks break_glass)
        # to the break-glass scope; administration keeps its standing scope.
        scoped = {p for p, scope in perms.items() if scope is not None and CATALOGUE[p].break_glass}
        standing = perms
        perms = permissions_from_grants([*pairs, (scoped, bg.location_id)])
        bg_reason, bg_until = bg.reason, bg.expires_at
    return Context(
        org_id=membership.org_id,
        actor_id=user.id,
        actor_type="user",
        actor_name=user.name,
        roles=roles,
        permissions=perms,
        location_id=location_id,
        client_ip=client_ip,
        request_id=request_id,
        session_id=session_id,
        break_glass_reason=bg_reason,
        break_glass_until=bg_until,
        standing_permissions=standing,
    )


def build_api_client_context(client: ApiClient | Any, *, client_ip: str | None = None,
                             request_id: str | None = None) -> Context:
    """`client`: an ApiClient or a row with its org_id, id, name, scopes and location_ids."""
    locs = frozenset(uuid.UUID(str(x)) for x in client.location_ids) if client.location_ids else None
    pairs = [(expand(list(client.scopes or [])), None)] if locs is None else [
        (expand(list(client.scopes or [])), loc) for loc in locs]
    perms = permissions_from_grants(pairs)
    return Context(
        org_id=client.org_id,
        actor_id=client.id,
        actor_type="api_client",
        actor_name=client.name,
        roles=("api_client",),
        permissions=perms,
        client_ip=client_ip,
        request_id=request_id,
    )

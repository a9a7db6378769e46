"""Staff users, memberships, roles, grants, API clients and break-glass."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.identity import passwords, tokens
from praxis.identity.context import role_permissions
from praxis.identity.models import ApiClient, BreakGlass, Grant, Membership, Role, User
from praxis.identity.permissions import (
    APICLIENTS_MANAGE,
    BREAKGLASS_REVIEW,
    BREAKGLASS_USE,
    ROLES_MANAGE,
    USERS_MANAGE,
    USERS_READ,
)
from praxis.identity.roles import BUILTIN_ROLES, expand
from praxis.platform import audit, deletions
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404, session_scope
from praxis.platform.errors import Conflict, Forbidden, NotFound, ValidationProblem
from praxis.platform.ids import slug
from praxis.platform.permissions import CATALOGUE, SCOPE_ALIASES
from praxis.platform.settings import get_settings
from praxis.platform.uow import unit_of_work
from praxis.practice.models import Location

# --- setup ------------------------------------------------------------------------------------


def seed_builtin_roles(org_id: uuid.UUID) -> None:
    """Give an organisation the read-only built-in roles (idempotent)."""
    with session_scope(org_id) as s:
        existing = set(s.scalars(select(Role.key)))
        for r in BUILTIN_ROLES:
            if r.key not in existing:
                s.add(Role(key=r.key, name=r.name, description=r.description,
                           permissions=list(r.patterns), builtin=True))


def create_user(email: str, name: str, password: str) -> User:
    """A login identity (CLI and invitations); memberships attach it to organisations."""
    email = _email(email)
    with session_scope(None, system=True, reason="a user account belongs to no one organisation") as s:
        user = User(email=email, name=name.strip(), password_hash=passwords.hash_password(password))
        s.add(user)
        try:
            s.flush()
        except IntegrityError:
            raise Conflict("A user with this email exists", field="email") from None
        return user


def _email(email: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationProblem(f"Invalid email: {exc}", field="email") from None


def add_membership(org_id: uuid.UUID, user_id: uuid.UUID, grants: list[tuple[str, uuid.UUID | None]]
                   ) -> Membership:
    """Bootstrap path (CLI, seed): attach a user to an org with (role key, location) grants."""
    with session_scope(org_id) as s:
        m = s.scalars(select(Membership).where(Membership.user_id == user_id)).first()
        if m is None:
            user = s.get(User, user_id)
            m = Membership(user_id=user_id, display_name=user.name if user else "", accepted_at=now())
            s.add(m)
            s.flush()
        roles = {r.key: r for r in s.scalars(select(Role))}
        for key, loc in grants:
            if key not in roles:
                raise ValidationProblem(f"Unknown role {key!r}", field="role")
            s.add(Grant(membership_id=m.id, role_id=roles[key].id, location_id=loc))
        return m


# --- users (members) --------------------------------------------------------------------------


@dataclass
class MemberView:
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    active: bool
    mfa_enabled: bool
    locked: bool
    grants: list[dict[str, object]]
    status: str = "active"  # "invited" until the person accepts
    updated_at: datetime | None = None  # the membership's (grants, active, acceptance, unlock)


# A member's grants with their roles, in the order the screens show them.
GrantRows = list[tuple[Grant, Role]]


def _grants(s: Session, membership_id: uuid.UUID | None = None) -> dict[uuid.UUID, GrantRows]:
    """Grants with their roles by membership: one member's, or (None) every member's of the org in
    one query, so listing the staff does not query per member."""
    q = (select(Grant, Role).join(Role, (Role.id == Grant.role_id) & (Role.org_id == Grant.org_id))
         .order_by(Role.name, Grant.created_at, Grant.id))
    if membership_id is not None:
        q = q.where(Grant.membership_id == membership_id)
    out: dict[uuid.UUID, GrantRows] = {}
    for g, r in s.execute(q):
        out.setdefault(g.membership_id, []).append((g, r))
    return out


def _member_grants(s: Session, membership_id: uuid.UUID) -> GrantRows:
    return _grants(s, membership_id).get(membership_id, [])


def _locations(grants: GrantRows) -> set[uuid.UUID | None]:
    return {g.location_id for g, _ in grants}


def _visible(ctx: Context, perm: str, locations: set[uuid.UUID | None]) -> bool:
    """A member is visible to a location-scoped manager only if all their grants are in scope
    (or, for reading, any): org-wide members are managed by org-wide admins only."""
    scope = ctx.scope(perm)
    if scope is None:
        return True
    if perm == USERS_READ:
        return any(loc in scope for loc in locations if loc is not None)
    return bool(locations) and all(loc is not None and loc in scope for loc in locations)


def _view(m: Membership, user: User | None, grants: GrantRows) -> MemberView:
    """The member as shown, from rows the caller already loaded (no queries here)."""
    assert user is not None and user.id == m.user_id
    rows = [{"id": g.id, "role_id": g.role_id, "role_key": r.key, "role_name": r.name,
             "location_id": g.location_id} for g, r in grants]
    accepted = m.accepted_at is not None
    # Before the person accepts, show only what this organisation typed (nothing another recorded).
    return MemberView(m.id, user.id, user.email, m.display_name or (user.name if accepted else ""),
                      m.active and (user.active or not accepted), accepted and user.mfa_enabled,
                      accepted and bool(user.locked_until and user.locked_until > now()), rows,
                      "active" if accepted else "invited", m.updated_at)


def list_members(ctx: Context, *, location_id: uuid.UUID | None = None) -> list[MemberView]:
    """Staff of the organisation that the actor may see (scoped managers see their locations').
    Two queries whatever the number of members: memberships with their users, grants with roles."""
    ctx = ctx.standing()  # administration: standing grants only
    if not ctx.has(USERS_READ):
        raise Forbidden("Permission users:read required")
    with unit_of_work(ctx) as s:
        grants = _grants(s)
        out = []
        for m, user in s.execute(select(Membership, User).join(User, User.id == Membership.user_id)
                                 .order_by(Membership.created_at)):
            mine = grants.get(m.id, [])
            locs = _locations(mine)
            if not _visible(ctx, USERS_READ, locs):
                continue
            if location_id is not None and location_id not in locs:
                continue
            out.append(_view(m, user, mine))
        return out


def get_member(ctx: Context, membership_id: uuid.UUID) -> MemberView:
    ctx = ctx.standing()  # administration: standing grants only
    if not ctx.has(USERS_READ):
        raise Forbidden("Permission users:read required")
    with unit_of_work(ctx) as s:
        m = get_or_404(s, Membership, membership_id, "user")
        grants = _member_grants(s, m.id)
        if not _visible(ctx, USERS_READ, _locations(grants)):
            raise NotFound("No such user")
        audit.record(s, ctx, "read", "user", m.id)
        return _view(m, s.get(User, m.user_id), grants)


def _check_grantable(s: Session, ctx: Context, role: Role, location_id: uuid.UUID | None) -> None:
    """No privilege escalation: the actor must hold every permission of the role at that scope
    (`ctx` is already the standing context: break-glass never counts)."""
    if location_id is not None:
        get_or_404(s, Location, location_id, "location")
    if not ctx.can(USERS_MANAGE, location_id):
        if location_id is None:
            raise Forbidden("Only an organisation-wide user manager can grant organisation-wide roles")
        if ctx.is_break_glass:
            # The location may be visible through break-glass; saying "not found" would be false.
            raise Forbidden("You do not manage users at this location (break-glass grants nothing)",
                            field="location_id")
        raise NotFound("No such location")
    missing = sorted(p for p in role_permissions(role) if not ctx.can(p, location_id)
                     and not (location_id is not None and not CATALOGUE[p].location_bound))
    if missing:
        raise Forbidden(f"You cannot grant permissions you do not hold: {', '.join(missing[:5])}",
                        field="role_id")


def invite_member(ctx: Context, email: str, name: str, password: str,
                  grants: list[tuple[uuid.UUID, uuid.UUID | None]]) -> MemberView:
    """Add a staff member with initial grants (role id, location or None for org-wide)."""
    ctx = ctx.standing()  # administration: standing grants only
    if not ctx.has(USERS_MANAGE):
        raise Forbidden("Permission users:manage required")
    if not grants:
        raise ValidationProblem("Give the user at least one role", field="grants")
    email_n = _email(email)
    with unit_of_work(ctx) as s:
        for role_id, loc in grants:
            _check_grantable(s, ctx, get_or_404(s, Role, role_id, "role"), loc)
        user = s.scalars(select(User).where(User.email == email_n)).first()
        if user is None:
            user = User(email=email_n, name=name.strip(), password_hash=passwords.hash_password(password))
            s.add(user)
            s.flush()
        elif s.scalars(select(Membership).where(Membership.user_id == user.id)).first():
            raise Conflict("This person is already a member", field="email")
        else:
            passwords.check_policy(password)  # same refusals either way: existence does not show
        # Pending either way: a new login accepts at its first sign-in, an existing person on their
        # account page. The answer is the same, so an invitation does not reveal who has a login.
        m = Membership(user_id=user.id, display_name=name.strip())
        s.add(m)
        s.flush()
        for role_id, loc in grants:
            s.add(Grant(membership_id=m.id, role_id=role_id, location_id=loc, created_by=ctx.actor_id))
        s.flush()
        audit.record(s, ctx, "create", "user", m.id, detail={"grants": len(grants)})
        return _view(m, user, _member_grants(s, m.id))


def _managed_member(s: Session, ctx: Context, membership_id: uuid.UUID) -> tuple[Membership, GrantRows]:
    """The member the actor may manage, with the grants the visibility check loaded."""
    if not ctx.has(USERS_MANAGE):
        raise Forbidden("Permission users:manage required")
    m = get_or_404(s, Membership, membership_id, "user")
    grants = _member_grants(s, m.id)
    if not _visible(ctx, USERS_MANAGE, _locations(grants)):
        raise NotFound("No such user")
    return m, grants


def add_grant(ctx: Context, membership_id: uuid.UUID, role_id: uuid.UUID, location_id: uuid.UUID | None
              ) -> MemberView:
    ctx = ctx.standing()  # administration: standing grants only
    with unit_of_work(ctx) as s:
        m, grants = _managed_member(s, ctx, membership_id)
        role = get_or_404(s, Role, role_id, "role")
        _check_grantable(s, ctx, role, location_id)
        dup = next((x for x, _ in grants if x.role_id == role.id and x.location_id == location_id), None)
        if dup is None:
            s.add(Grant(membership_id=m.id, role_id=role.id, location_id=location_id, created_by=ctx.actor_id))
            m.updated_at = now()  # grants are the member's: a sync bot sees the member changed
            s.flush()
            grants = _member_grants(s, m.id)  # read back in the database's order
        audit.record(s, ctx, "grant", "user", m.id, location_id=location_id,
                     detail={"role": role.key})
        return _view(m, s.get(User, m.user_id), grants)


def remove_grant(ctx: Context, membership_id: uuid.UUID, grant_id: uuid.UUID) -> MemberView:
    ctx = ctx.standing()  # administration: standing grants only
    with unit_of_work(ctx) as s:
        m, grants = _managed_member(s, ctx, membership_id)
        g = next((x for x, _ in grants if x.id == grant_id), None)  # another member's grant: not found
        if g is None:
            raise NotFound("No such grant")
        if not ctx.can(USERS_MANAGE, g.location_id):
            raise NotFound("No such grant")
        s.delete(g)
        m.updated_at = now()
        s.flush()
        audit.record(s, ctx, "revoke", "user", m.id, location_id=g.location_id)
        return _view(m, s.get(User, m.user_id), [(x, r) for x, r in grants if x.id != g.id])


def set_member_active(ctx: Context, membership_id: uuid.UUID, active: bool) -> MemberView:
    ctx = ctx.standing()  # administration: standing grants only
    with unit_of_work(ctx) as s:
        m, grants = _managed_member(s, ctx, membership_id)
        if m.user_id == ctx.actor_id and not active:
            raise ValidationProblem("You cannot deactivate yourself", field="active")
        m.active, m.updated_at = active, now()
        audit.record(s, ctx, "activate" if active else "deactivate", "user", m.id)
        return _view(m, s.get(User, m.user_id), grants)


def unlock_member(ctx: Context, membership_id: uuid.UUID) -> MemberView:
    ctx = ctx.standing()  # administration: standing grants only
    with unit_of_work(ctx) as s:
        m, grants = _managed_member(s, ctx, membership_id)
        user = s.get(User, m.user_id)
        assert user is not None
        user.locked_until, user.failed_logins = None, 0
        m.updated_at = now()  # `locked` is shown on the member
        audit.record(s, ctx, "unlock", "user", m.id)
        return _view(m, user, grants)


@dataclass
class Invitation:
    membership_id: uuid.UUID
    org_id: uuid.UUID
    org_name: str
    created_at: datetime


def list_invitations(user_id: uuid.UUID) -> list[Invitation]:
    """Organisations that invited this person and await their acceptance."""
    from praxis.practice.models import Organisation

    with session_scope(None, system=True, reason="a user's invitations come from any organisation") as s:
        rows = s.execute(select(Membership, Organisation.name)
                         .join(Organisation, Organisation.id == Membership.org_id)
                         .where(Membership.user_id == user_id, Membership.accepted_at.is_(None),
                                Membership.active.is_(True))
                         .order_by(Membership.created_at)).all()
        return [Invitation(m.id, m.org_id, name, m.created_at) for m, name in rows]


def accept_invitation(user_id: uuid.UUID, membership_id: uuid.UUID) -> None:
    """The person accepts an organisation's invitation (only their own)."""
    with session_scope(None, system=True, reason="accepting an invitation to an organisation") as s:
        m = s.scalars(select(Membership).where(Membership.id == membership_id, Membership.user_id == user_id,
                                               Membership.accepted_at.is_(None))).first()
        if m is None:
            raise NotFound("No such invitation")
        m.accepted_at = now()


def change_password(user_id: uuid.UUID, current: str, new: str, *, keep_session: str | None = None) -> int:
    """Set a new password and end every other session of the user (a stolen session dies with the
    old password). Returns how many sessions were ended."""
    from praxis.identity.models import WebSession

    with session_scope(None, system=True, reason="a user's password is not an organisation's") as s:
        user = s.get(User, user_id)
        if user is None or not passwords.verify_password(user.password_hash, current):
            raise ValidationProblem("Current password is wrong", field="current_password")
        user.password_hash = passwords.hash_password(new)
        q = update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        if keep_session is not None:
            q = q.where(WebSession.token_hash != tokens.digest(keep_session))
        return int(getattr(s.execute(q.values(ended_at=now())), "rowcount", 0) or 0)


def get_user(user_id: uuid.UUID) -> User | None:
    with session_scope(None, system=True, reason="a user account belongs to no one organisation") as s:
        return s.get(User, user_id)


# --- roles ------------------------------------------------------------------------------------


def list_roles(ctx: Context) -> list[Role]:
    ctx = ctx.standing()  # administration: standing grants only
    if not (ctx.has(USERS_READ) or ctx.has(ROLES_MANAGE)):
        raise Forbidden("Permission users:read required")
    with unit_of_work(ctx) as s:
        return list(s.scalars(select(Role).order_by(Role.builtin.desc(), Role.name)))


def get_role(ctx: Context, role_id: uuid.UUID) -> tuple[Role, set[str]]:
    ctx = ctx.standing()  # administration: standing grants only
    if not (ctx.has(USERS_READ) or ctx.has(ROLES_MANAGE)):
        raise Forbidden("Permission users:read required")
    with unit_of_work(ctx) as s:
        role = get_or_404(s, Role, role_id, "role")
        return role, role_permissions(role)


def copy_role(ctx: Context, role_id: uuid.UUID, name: str) -> Role:
    """Copy a role (typically a built-in) into an editable one with explicit permissions."""
    ctx = ctx.standing()  # administration: standing grants only
    ctx.require(ROLES_MANAGE)
    with unit_of_work(ctx) as s:
        src = get_or_404(s, Role, role_id, "role")
        key = _role_key(s, name)
        role = Role(key=key, name=name.strip(), description=f"Copy of {src.name}",
                    permissions=sorted(role_permissions(src)), builtin=False)
        s.add(role)
        s.flush()
        audit.record(s, ctx, "create", "role", role.id, detail={"copied_from": src.key})
        return role


def _role_key(s: Session, name: str) -> str:
    """The first free key of `base`, `base_2`, `base_3`, ... (exact matches: `_` is no wildcard here)."""
    if not name.strip():
        raise ValidationProblem("Name is required", field="name")
    base = slug(name, max_length=50, fallback="role")
    start = 1
    while True:
        candidates = [base if n == 1 else f"{base}_{n}" for n in range(start, start + 20)]
        taken = set(s.scalars(select(Role.key).where(Role.key.in_(candidates))))
        free = next((k for k in candidates if k not in taken), None)
        if free is not None:
            return free
        start += 20


def update_role(ctx: Context, role_id: uuid.UUID, *, name: str | None, permissions: list[str] | None) -> Role:
    ctx = ctx.standing()  # administration: standing grants only
    ctx.require(ROLES_MANAGE)
    with unit_of_work(ctx) as s:
        role = get_or_404(s, Role, role_id, "role")
        if role.builtin:
            raise Conflict("Built-in roles are read-only; copy the role to change it", field="role_id")
        if permissions is not None:
            unknown = sorted(set(permissions) - set(CATALOGUE))
            if unknown:
                raise ValidationProblem(f"Unknown permission(s): {', '.join(unknown)}", field="permissions")
            wanted = expand(permissions)
            # No privilege escalation: only permissions the editor holds org-wide may be added.
            added = sorted(p for p in wanted - role_permissions(role) if not ctx.can(p))
            if added:
                raise Forbidden(f"You cannot add permissions you do not hold organisation-wide: "
                                f"{', '.join(added[:5])}", field="permissions")
            role.permissions = sorted(wanted)
        if name is not None:
            if not name.strip():
                raise ValidationProblem("Name is required", field="name")
            role.name = name.strip()
        audit.record(s, ctx, "update", "role", role.id)
        return role


# --- API clients ------------------------------------------------------------------------------


def create_api_client(ctx: Context, name: str, scopes: list[str], *, location_ids: list[uuid.UUID] | None = None,
                      expires_at: datetime | None = None, rate_limit_per_minute: int | None = None
                      ) -> tuple[ApiClient, str]:
    """A bearer token bound to this organisation with exactly these scopes; shown once."""
    ctx = ctx.standing()  # administration: standing grants only
    ctx.require(APICLIENTS_MANAGE)
    unknown = sorted(set(scopes) - set(CATALOGUE) - set(SCOPE_ALIASES))
    if unknown:
        raise ValidationProblem(f"Unknown scope(s): {', '.join(unknown)}", field="scopes")
    if not scopes:
        raise ValidationProblem("Give the client at least one scope", field="scopes")
    # An alias (SMART `system/Patient.read`) is judged on the permissions it stands for.
    over = sorted(p for p in scopes for perm in sorted(SCOPE_ALIASES.get(p, {p}))
                  if not ctx.has(perm) or (ctx.scope(perm) is not None))
    over = list(dict.fromkeys(over))
    if over:
        raise Forbidden(f"You cannot give scopes you do not hold org-wide: {', '.join(over[:5])}",
                        field="scopes")
    if expires_at is not None and expires_at <= now():
        raise ValidationProblem("Expiry must be in the future", field="expires_at")
    _check_rate_limit(rate_limit_per_minute)
    token, prefix, digest = tokens.new_api_token()
    with unit_of_work(ctx) as s:
        for loc in location_ids or []:
            get_or_404(s, Location, loc, "location")
        client = ApiClient(name=name.strip(), token_prefix=prefix, token_hash=digest, scopes=sorted(scopes),
                           location_ids=[str(x) for x in location_ids] if location_ids else None,
                           expires_at=expires_at, created_by=ctx.actor_id,
                           rate_limit_per_minute=rate_limit_per_minute)
        s.add(client)
        s.flush()
        audit.record(s, ctx, "create", "api_client", client.id, detail={"scopes": sorted(scopes)})
        return client, token


def list_api_clients(ctx: Context) -> list[ApiClient]:
    ctx = ctx.standing()  # administration: standing grants only
    ctx.require(APICLIENTS_MANAGE)
    with unit_of_work(ctx) as s:
        return list(s.scalars(select(ApiClient).order_by(ApiClient.created_at.desc())))


MAX_RATE_LIMIT = 100_000  # requests a minute


def _check_rate_limit(value: int | None) -> None:
    if value is not None and not 1 <= value <= MAX_RATE_LIMIT:
        raise ValidationProblem(f"Requests a minute: between 1 and {MAX_RATE_LIMIT:,}, or empty for the default",
                                field="rate_limit_per_minute")


def default_rate_limit() -> int:
    """Requests a minute of a client without a limit of its own (setting `api_rate_limit_per_minute`)."""
    return get_settings().api_rate_limit_per_minute


def set_api_client_rate_limit(ctx: Context, client_id: uuid.UUID, rate_limit_per_minute: int | None) -> ApiClient:
    """Give a client its own request limit (a minute), or None for the default; audited. It holds
    from the client's next request (every request reads the client row)."""
    ctx = ctx.standing()  # administration: standing grants only
    ctx.require(APICLIENTS_MANAGE)
    _check_rate_limit(rate_limit_per_minute)
    with unit_of_work(ctx) as s:
        client = get_or_404(s, ApiClient, client_id, "API client")
        before = client.rate_limit_per_minute
        client.rate_limit_per_minute = rate_limit_per_minute
        audit.record(s, ctx, "update", "api_client", client.id,
                     detail={"rate_limit_per_minute": [before, rate_limit_per_minute]})
        return client


def revoke_api_client(ctx: Context, client_id: uuid.UUID) -> ApiClient:
    ctx = ctx.standing()  # administration: standing grants only
    ctx.require(APICLIENTS_MANAGE)
    with unit_of_work(ctx) as s:
        client = get_or_404(s, ApiClient, client_id, "API client")
        if client.revoked_at is None:
            client.revoked_at = now()
        audit.record(s, ctx, "revoke", "api_client", client.id)
        return client


# --- break-glass ------------------------------------------------------------------------------


def open_break_glass(ctx: Context, reason: str, *, location_id: uuid.UUID | None = None,
                     minutes: int | None = None) -> BreakGlass:
    """Widen the user's own permissions beyond their scope for a short time, with a reason."""
    if not ctx.has(BREAKGLASS_USE) or ctx.actor_type != "user":
        raise Forbidden("Permission breakglass:use required")
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationProblem("Give a reason of at least 10 characters", field="reason")
    limit = get_settings().break_glass_minutes
    minutes = minutes or limit
    if not 1 <= minutes <= limit:
        raise ValidationProblem(f"Break-glass lasts 1 to {limit} minutes", field="minutes")
    with unit_of_work(ctx) as s:
        if location_id is not None:
            get_or_404(s, Location, location_id, "location")
        m = s.scalars(select(Membership).where(Membership.user_id == ctx.actor_id)).one()
        bg = BreakGlass(membership_id=m.id, reason=reason, location_id=location_id,
                        expires_at=now() + timedelta(minutes=minutes))
        s.add(bg)
        s.flush()
        # The opening itself is a break-glass event: flagged as such, with its reason.
        opened = replace(ctx, break_glass_reason=reason, break_glass_until=bg.expires_at)
        audit.record(s, opened, "break_glass_open", "break_glass", bg.id,
                     location_id=location_id, detail={"minutes": minutes})
        return bg


def end_break_glass(ctx: Context) -> None:
    with unit_of_work(ctx) as s:
        m = s.scalars(select(Membership).where(Membership.user_id == ctx.actor_id)).first()
        if m is None:
            return
        for bg in s.scalars(select(BreakGlass).where(BreakGlass.membership_id == m.id,
                                                     BreakGlass.ended_at.is_(None),
                                                     BreakGlass.expires_at > now())):
            bg.ended_at = now()
            audit.record(s, ctx, "break_glass_end", "break_glass", bg.id)


def list_break_glass(ctx: Context, *, since: datetime | None = None) -> list[BreakGlass]:
    ctx = ctx.standing()  # administration: standing grants only
    ctx.require(BREAKGLASS_REVIEW)
    with unit_of_work(ctx) as s:
        q = select(BreakGlass).order_by(BreakGlass.starts_at.desc())
        if since is not None:
            q = q.where(BreakGlass.starts_at >= since)
        return list(s.scalars(q.limit(500)))


def review_break_glass(ctx: Context, break_glass_id: uuid.UUID) -> BreakGlass:
    ctx = ctx.standing()  # administration: standing grants only
    ctx.require(BREAKGLASS_REVIEW)
    with unit_of_work(ctx) as s:
        bg = get_or_404(s, BreakGlass, break_glass_id, "break-glass event")
        bg.reviewed_by, bg.reviewed_at = ctx.actor_id, now()
        audit.record(s, ctx, "review", "break_glass", bg.id)
        return bg


@dataclass
class BreakGlassView:
    id: uuid.UUID
    membership_id: uuid.UUID
    user_name: str
    user_email: str
    reason: str
    location_id: uuid.UUID | None
    starts_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None


def list_break_glass_views(ctx: Context, *, since: datetime | None = None) -> list[BreakGlassView]:
    """Break-glass events with the name of who opened them (the review screen)."""
    events = list_break_glass(ctx, since=since)
    with unit_of_work(ctx) as s:
        ids = {e.membership_id for e in events}
        names = {m.id: (u.name, u.email) for m, u in s.execute(
            select(Membership, User).join(User, User.id == Membership.user_id)
            .where(Membership.id.in_(ids)))} if ids else {}
    return [BreakGlassView(e.id, e.membership_id, *names.get(e.membership_id, ("?", "")), e.reason,
                           e.location_id, e.starts_at, e.expires_at, e.ended_at, e.reviewed_by, e.reviewed_at)
            for e in events]


def location_names(ctx: Context) -> dict[uuid.UUID, str]:
    """Names of every location of the organisation (to label grants and audit rows)."""
    with unit_of_work(ctx) as s:
        return {loc.id: loc.name for loc in s.scalars(select(Location).order_by(Location.name))}


# --- audit log --------------------------------------------------------------------------------


def list_audit(ctx: Context, *, patient_id: uuid.UUID | None = None, actor_id: uuid.UUID | None = None,
               since: datetime | None = None, until: datetime | None = None,
               break_glass: bool | None = None, limit: int = 100, offset: int = 0,
               after: tuple[Any, ...] | None = None) -> list[audit.AuditRecord]:
    """Query the organisation's audit log (newest first, after the keyset position `after` when
    given); the query itself is audited."""
    ctx = ctx.standing()  # administration: standing grants only
    from praxis.platform.permissions import AUDIT_READ

    ctx.require(AUDIT_READ)
    with unit_of_work(ctx) as s:
        rows = audit.list_records(s, patient_id=patient_id, actor_id=actor_id, since=since, until=until,
                                  break_glass=break_glass, limit=limit, offset=offset, after=after)
        audit.record(s, ctx, "query", "audit", None, patient_id=patient_id,
                     detail={"actor_id": str(actor_id) if actor_id else None,
                             "since": since.isoformat() if since else None,
                             "until": until.isoformat() if until else None})
        return rows


# --- tombstones -----------------------------------------------------------------------------------


def list_deletions(ctx: Context, *, kinds: list[str] | None = None, since: datetime | None = None,
                   after: tuple[Any, ...] | None = None, limit: int = 100) -> list[deletions.Deletion]:
    """Records deleted outright that the caller's own lists would have shown (platform.deletions),
    oldest first. A kind that is not one is 422; one whose list the caller may not read, 403."""
    for kind in kinds or ():
        known = deletions.KINDS.get(kind)
        if known is None:
            raise ValidationProblem(f"kind: {kind!r} is not one of {', '.join(sorted(deletions.KINDS))}",
                                    field="kind")
        if not ctx.has(known.permission):
            raise Forbidden(f"Permission {known.permission} required to list {kind}")
    with unit_of_work(ctx) as s:
        return deletions.list_deletions(s, ctx, kinds=kinds, since=since, after=after, limit=limit)

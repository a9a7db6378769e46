"""JSON API: staff users, roles, API clients, break-glass and the audit log."""

from __future__ import annotations

from fastapi import Depends, Query
from pydantic import AwareDatetime

from praxis.identity import service
from praxis.identity.context import role_permissions
from praxis.identity.permissions import (
    APICLIENTS_MANAGE,
    BREAKGLASS_REVIEW,
    BREAKGLASS_USE,
    ROLES_MANAGE,
    USERS_MANAGE,
    USERS_READ,
)
from praxis.identity.schemas import (
    ApiClientCreated,
    ApiClientIn,
    ApiClientLimit,
    ApiClientOut,
    AuditOut,
    BreakGlassIn,
    BreakGlassOut,
    DeletionOut,
    GrantIn,
    MemberActive,
    MemberIn,
    MemberOut,
    MeOut,
    RoleCopy,
    RoleOut,
    RoleUpdate,
)
from praxis.platform.context import Context
from praxis.platform.errors import ValidationProblem
from praxis.platform.ids import parse_id
from praxis.platform.permissions import AUDIT_READ
from praxis.web.deps import authenticated, permission
from praxis.web.paging import PAGED, Pager, by, paged
from praxis.web.routes import Router

router = Router(prefix="/api/v1", tags=["identity"])


@router.get("/me", response_model=MeOut)
def me(ctx: Context = Depends(authenticated)) -> MeOut:
    """Who the caller is and what it may do where."""
    return MeOut(actor_id=ctx.actor_id, actor_type=ctx.actor_type, name=ctx.actor_name, org_id=ctx.org_id,
                 roles=list(ctx.roles),
                 permissions={p: ("org" if s is None else sorted(s, key=str)) for p, s in ctx.permissions.items()},
                 break_glass_until=ctx.break_glass_until)


@router.get("/users", response_model=list[MemberOut])
def list_users(location_id: str | None = None, ctx: Context = Depends(permission(USERS_READ)),
               page: Pager = PAGED) -> list[MemberOut]:
    loc = parse_id(location_id, "location") if location_id else None
    return page.of([MemberOut.model_validate(m) for m in service.list_members(ctx, location_id=loc)], key=by())


@router.post("/users", response_model=MemberOut, status_code=201)
def invite_user(data: MemberIn, ctx: Context = Depends(permission(USERS_MANAGE))) -> MemberOut:
    return MemberOut.model_validate(service.invite_member(
        ctx, data.email, data.name, data.password, [(g.role_id, g.location_id) for g in data.grants]))


@router.get("/users/{member_id}", response_model=MemberOut)
def get_user(member_id: str, ctx: Context = Depends(permission(USERS_READ))) -> MemberOut:
    return MemberOut.model_validate(service.get_member(ctx, parse_id(member_id, "user")))


@router.post("/users/{member_id}/grants", response_model=MemberOut, status_code=201)
def add_grant(member_id: str, data: GrantIn, ctx: Context = Depends(permission(USERS_MANAGE))) -> MemberOut:
    return MemberOut.model_validate(service.add_grant(ctx, parse_id(member_id, "user"), data.role_id,
                                                      data.location_id))


@router.delete("/users/{member_id}/grants/{grant_id}", response_model=MemberOut)
def remove_grant(member_id: str, grant_id: str, ctx: Context = Depends(permission(USERS_MANAGE))) -> MemberOut:
    return MemberOut.model_validate(service.remove_grant(ctx, parse_id(member_id, "user"),
                                                         parse_id(grant_id, "grant")))


@router.put("/users/{member_id}/active", response_model=MemberOut)
def set_active(member_id: str, data: MemberActive, ctx: Context = Depends(permission(USERS_MANAGE))
               ) -> MemberOut:
    return MemberOut.model_validate(service.set_member_active(ctx, parse_id(member_id, "user"), data.active))


@router.post("/users/{member_id}/unlock", response_model=MemberOut)
def unlock(member_id: str, ctx: Context = Depends(permission(USERS_MANAGE))) -> MemberOut:
    return MemberOut.model_validate(service.unlock_member(ctx, parse_id(member_id, "user")))


def _role_out(role: object) -> RoleOut:
    return RoleOut(id=role.id, key=role.key, name=role.name, description=role.description,  # type: ignore[attr-defined]
                   builtin=role.builtin, permissions=sorted(role_permissions(role)),  # type: ignore[attr-defined,arg-type]
                   updated_at=role.updated_at)  # type: ignore[attr-defined]


@router.get("/roles", response_model=list[RoleOut])
def list_roles(ctx: Context = Depends(permission(USERS_READ)), page: Pager = PAGED) -> list[RoleOut]:
    return page.of([_role_out(r) for r in service.list_roles(ctx)], key=by("name"))


@router.get("/roles/{role_id}", response_model=RoleOut)
def get_role(role_id: str, ctx: Context = Depends(permission(USERS_READ))) -> RoleOut:
    role, _ = service.get_role(ctx, parse_id(role_id, "role"))
    return _role_out(role)


@router.post("/roles/{role_id}/copy", response_model=RoleOut, status_code=201)
def copy_role(role_id: str, data: RoleCopy, ctx: Context = Depends(permission(ROLES_MANAGE))) -> RoleOut:
    return _role_out(service.copy_role(ctx, parse_id(role_id, "role"), data.name))


@router.patch("/roles/{role_id}", response_model=RoleOut)
def update_role(role_id: str, data: RoleUpdate, ctx: Context = Depends(permission(ROLES_MANAGE))) -> RoleOut:
    return _role_out(service.update_role(ctx, parse_id(role_id, "role"), name=data.name,
                                         permissions=data.permissions))


@router.get("/api-clients", response_model=list[ApiClientOut])
def list_api_clients(ctx: Context = Depends(permission(APICLIENTS_MANAGE)), page: Pager = PAGED
                     ) -> list[ApiClientOut]:
    return page.of([ApiClientOut.model_validate(c) for c in service.list_api_clients(ctx)])


@router.post("/api-clients", response_model=ApiClientCreated, status_code=201)
def create_api_client(data: ApiClientIn, ctx: Context = Depends(permission(APICLIENTS_MANAGE))
                      ) -> ApiClientCreated:
    """Create a client; the token is in this answer only."""
    client, token = service.create_api_client(ctx, data.name, data.scopes, location_ids=data.location_ids,
                                              expires_at=data.expires_at,
                                              rate_limit_per_minute=data.rate_limit_per_minute)
    return ApiClientCreated(**ApiClientOut.model_validate(client).model_dump(), token=token)


@router.put("/api-clients/{client_id}/rate-limit", response_model=ApiClientOut)
def set_api_client_rate_limit(client_id: str, data: ApiClientLimit,
                              ctx: Context = Depends(permission(APICLIENTS_MANAGE))) -> ApiClientOut:
    """The client's own request limit a minute (null: the server default); holds from its next request."""
    return ApiClientOut.model_validate(service.set_api_client_rate_limit(
        ctx, parse_id(client_id, "API client"), data.rate_limit_per_minute))


@router.post("/api-clients/{client_id}/revoke", response_model=ApiClientOut)
def revoke_api_client(client_id: str, ctx: Context = Depends(permission(APICLIENTS_MANAGE))) -> ApiClientOut:
    return ApiClientOut.model_validate(service.revoke_api_client(ctx, parse_id(client_id, "API client")))


@router.post("/break-glass", response_model=BreakGlassOut, status_code=201)
def open_break_glass(data: BreakGlassIn, ctx: Context = Depends(permission(BREAKGLASS_USE))) -> BreakGlassOut:
    """Open time-boxed access beyond your scope. The reason is audited and reviewed."""
    return BreakGlassOut.model_validate(service.open_break_glass(
        ctx, data.reason, location_id=data.location_id, minutes=data.minutes))


@router.get("/break-glass", response_model=list[BreakGlassOut])
def list_break_glass(since: AwareDatetime | None = None, ctx: Context = Depends(permission(BREAKGLASS_REVIEW)),
                     page: Pager = PAGED) -> list[BreakGlassOut]:
    return page.of([BreakGlassOut.model_validate(b) for b in service.list_break_glass(ctx, since=since)],
                   key=by("starts_at"))


@router.post("/break-glass/{event_id}/review", response_model=BreakGlassOut)
def review_break_glass(event_id: str, ctx: Context = Depends(permission(BREAKGLASS_REVIEW))) -> BreakGlassOut:
    return BreakGlassOut.model_validate(service.review_break_glass(ctx, parse_id(event_id, "break-glass event")))


@router.get("/deletions", response_model=list[DeletionOut])
def list_deletions(
    kind: str | None = Query(None, description="comma-separated kinds (default: every kind the caller may list)"),
    ctx: Context = Depends(authenticated),
    page: Pager = PAGED,
) -> list[DeletionOut]:
    """Records deleted outright since `updated_since` (tombstones), oldest first: what a client that
    syncs lists by `updated_since` must drop. Only kinds whose list the caller may read, at its
    locations (care timers: its own); a named kind it may not read is 403."""
    kinds = [k.strip() for k in kind.split(",") if k.strip()] if kind else None
    rows = service.list_deletions(ctx, kinds=kinds, since=page.updated_since, after=page.after,
                                  limit=page.limit + 1)
    return page.sql([DeletionOut.model_validate(r) for r in rows], key=lambda r: (r.deleted_at, r.id))


@router.get("/audit", response_model=list[AuditOut])
def query_audit(
    patient_id: str | None = None,
    actor_id: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    break_glass: bool | None = None,
    offset: int = Query(0, ge=0, le=1_000_000, deprecated=True,
                        description="deprecated: follow the Link rel=next header (`cursor`) instead"),
    ctx: Context = Depends(permission(AUDIT_READ)),
    page: Pager = Depends(paged(100, 1000)),
) -> list[AuditOut]:
    """The organisation's audit log by patient, user and period (newest first); the query is audited.
    Records are never changed, so `updated_since` is the same as `since`."""
    if offset and page.after is not None:
        raise ValidationProblem("offset: use either cursor or offset, not both", field="offset")
    if page.updated_since is not None:
        since = max(since, page.updated_since) if since else page.updated_since
    rows = service.list_audit(ctx, patient_id=parse_id(patient_id, "patient") if patient_id else None,
                              actor_id=parse_id(actor_id, "user") if actor_id else None,
                              since=since, until=until, break_glass=break_glass, limit=page.limit + 1,
                              offset=offset, after=page.after)
    return page.sql([AuditOut.model_validate(r) for r in rows], key=lambda r: (r.created_at, r.id))

"""HTML screens of identity: sign-in, MFA, account, and the users / roles / API clients / audit /
break-glass admin pages.

Every route declares exactly one access rule. The sign-in pages are `public` and read the session
cookie themselves (a session that passed the password but not yet MFA has no Context). Problems
raised by a service inside a form POST re-render the form with the message and the field at fault.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from praxis.identity import auth, service
from praxis.identity.context import role_permissions
from praxis.identity.permissions import (
    APICLIENTS_MANAGE,
    BREAKGLASS_REVIEW,
    BREAKGLASS_USE,
    ROLES_MANAGE,
    USERS_MANAGE,
    USERS_READ,
)
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError, ValidationProblem
from praxis.platform.ids import parse_id
from praxis.platform.permissions import AUDIT_READ, CATALOGUE
from praxis.platform.settings import get_settings
from praxis.practice.service import list_locations
from praxis.web import lookups
from praxis.web.deps import authenticated, client_ip, permission, public
from praxis.web.middleware import SESSION_COOKIE
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(include_in_schema=False)

register_nav("Users", "/admin/users", USERS_READ, "Admin")
register_nav("Roles", "/admin/roles", USERS_READ, "Admin")
register_nav("API clients", "/admin/api-clients", APICLIENTS_MANAGE, "Admin")
register_nav("Audit", "/admin/audit", AUDIT_READ, "Admin")
register_nav("Break-glass review", "/admin/break-glass", BREAKGLASS_REVIEW, "Admin")


# --- helpers ----------------------------------------------------------------------------------


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a local path is a valid place to return to (no scheme, host or `//` tricks)."""
    if not value or len(value) > 2000:
        return default
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    if parts.path.startswith(("/login", "/logout")):
        return default
    return value


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _with_next(path: str, nxt: str) -> str:
    return path if nxt == "/" else f"{path}?next={quote(nxt, safe='/')}"


def _set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=get_settings().cookie_secure, path="/")


def _error(exc: ProblemError) -> dict[str, Any]:
    return {"error": exc.detail, "error_field": exc.field}


def _status(exc: ProblemError) -> int:
    return exc.status if 400 <= exc.status < 500 else 400


def _audit_sign_in(token: str, request: Request) -> None:
    resolved = auth.resolve_session(token, client_ip=client_ip(request),
                                    request_id=getattr(request.state, "request_id", None))
    if resolved is not None:
        auth.record_login_event(resolved[0], "login")


def _user_id(ctx: Context) -> uuid.UUID:
    if ctx.actor_type != "user" or ctx.actor_id is None:
        raise ValidationProblem("This page is for staff users signed in with a password")
    return ctx.actor_id


def _group_by_domain(names: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in sorted(names):
        groups[name.partition(":")[0]].append((name, CATALOGUE[name].description))
    return sorted(groups.items())


# --- sign-in ----------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/", ctx: Context | None = Depends(public)) -> Response:
    nxt = safe_next(next)
    if ctx is not None:
        return _redirect(nxt)
    return render(request, "identity/login.html", {"next": nxt, "email": ""})


@router.post("/login")
def login_submit(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
                 _ctx: Context | None = Depends(public)) -> Response:
    nxt = safe_next(next)
    try:
        result = auth.login(email, password, client_ip=client_ip(request),
                            user_agent=request.headers.get("user-agent"))
    except ProblemError as exc:
        return render(request, "identity/login.html", {"next": nxt, "email": email, **_error(exc)},
                      status_code=_status(exc))
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        auth.logout(old)  # a new sign-in never reuses a session token (fixation)
    if result.next_step == "mfa":
        target = _with_next("/login/mfa", nxt)
    elif result.next_step == "enrol":
        target = _with_next("/account/mfa/enrol", nxt)
    else:
        _audit_sign_in(result.token, request)
        target = nxt
    response = _redirect(target)
    _set_session_cookie(response, result.token)
    return response


@router.get("/login/mfa")
def mfa_page(request: Request, next: str = "/", ctx: Context | None = Depends(public)) -> Response:
    nxt = safe_next(next)
    if ctx is not None:
        return _redirect(nxt)
    token = request.cookies.get(SESSION_COOKIE)
    user = auth.pending_session_user(token) if token else None
    if user is None:
        return _redirect(_with_next("/login", nxt))
    if not user.mfa_enabled:
        return _redirect(_with_next("/account/mfa/enrol", nxt))
    return render(request, "identity/mfa.html", {"next": nxt})


@router.post("/login/mfa")
def mfa_submit(request: Request, code: str = Form(""), next: str = Form("/"),
               _ctx: Context | None = Depends(public)) -> Response:
    nxt = safe_next(next)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return _redirect(_with_next("/login", nxt))
    try:
        ok = auth.verify_mfa(token, code[:64])
    except ProblemError:
        return _redirect(_with_next("/login", nxt))
    if not ok:
        if auth.pending_session_user(token) is None:  # locked out: the session was ended
            return _redirect(_with_next("/login", nxt))
        return render(request, "identity/mfa.html",
                      {"next": nxt, "error": "That code is not valid or was already used", "error_field": "code"},
                      status_code=401)
    _audit_sign_in(token, request)
    return _redirect(nxt)


# --- MFA enrolment (pending sign-in or signed-in user) ---------------------------------------


def _enrol_user(request: Request, ctx: Context | None) -> tuple[Any, str | None]:
    """The user who may enrol now, and the session token; (None, None) when nobody may.

    A session that passed only the password may enrol only when the user has no second factor
    yet: otherwise knowing the password would be enough to replace the authenticator.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if ctx is not None:
        if ctx.actor_type != "user" or ctx.actor_id is None:
            return None, None
        return service.get_user(ctx.actor_id), token
    user = auth.pending_session_user(token) if token else None
    if user is None or user.mfa_enabled:
        return None, None
    return user, token


def _grouped_secret(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _enrol_view(pending: tuple[str, str] | None) -> dict[str, Any]:
    """The pending (not yet confirmed) secret and its URI, if there is one."""
    if pending is None:
        return {"secret": None, "uri": None, "qr": None}
    secret, uri = pending
    from praxis.identity.mfa import qr_svg

    return {"secret": _grouped_secret(secret), "uri": uri, "qr": qr_svg(uri)}


@router.get("/account/mfa/enrol")
def enrol_page(request: Request, next: str = "/", ctx: Context | None = Depends(public)) -> Response:
    nxt = safe_next(next)
    user, _token = _enrol_user(request, ctx)
    if user is None:
        return _redirect(_with_next("/login", nxt) if ctx is None else "/account")
    pending = auth.pending_enrolment(user.id)
    if pending is None and not user.mfa_enabled:
        # Nothing to lose: a first secret is created on sight. Replacing a working
        # authenticator needs the explicit POST below (never a side effect of a GET).
        pending = auth.start_mfa_enrolment(user.id)
    return render(request, "identity/enrol.html",
                  {"next": nxt, "user": user, "signed_in": ctx is not None, **_enrol_view(pending)})


@router.post("/account/mfa/enrol")
def enrol_submit(request: Request, code: str = Form(""), action: str = Form("confirm"), next: str = Form("/"),
                 ctx: Context | None = Depends(public)) -> Response:
    nxt = safe_next(next)
    user, token = _enrol_user(request, ctx)
    if user is None:
        return _redirect(_with_next("/login", nxt) if ctx is None else "/account")
    if action == "restart":
        auth.start_mfa_enrolment(user.id)
        return _redirect(_with_next("/account/mfa/enrol", nxt))
    try:
        codes = auth.confirm_mfa_enrolment(user.id, code[:64], token)
    except ProblemError as exc:
        return render(request, "identity/enrol.html",
                      {"next": nxt, "user": user, "signed_in": ctx is not None,
                       **_enrol_view(auth.pending_enrolment(user.id)),
                       **_error(exc)}, status_code=_status(exc))
    if ctx is None and token:
        _audit_sign_in(token, request)
    return render(request, "identity/recovery_codes.html", {"codes": codes, "next": nxt})


# --- session ----------------------------------------------------------------------------------


@router.post("/logout")
def logout(request: Request, ctx: Context = Depends(authenticated)) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.record_login_event(ctx, "logout")
        auth.logout(token)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", secure=get_settings().cookie_secure, httponly=True,
                           samesite="lax")
    return response


_ID_SEGMENT = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def screen_after_switch(path: str, org_changed: bool) -> str:
    """The screen to show after switching: the same one. Its query is dropped (it may name the
    old location); after an organisation switch a page about one object of the old organisation
    becomes its list (/patients/<id> -> /patients), since that object is not in the new one."""
    nxt = urlsplit(safe_next(path)).path or "/"
    if org_changed:
        parts = nxt.split("/")
        for i, part in enumerate(parts):
            if _ID_SEGMENT.match(part):
                nxt = "/".join(parts[:i]) or "/"
                break
    return nxt


@router.post("/switch")
def switch(request: Request, org_id: str = Form(""), location_id: str = Form(""), next: str = Form("/"),
           ctx: Context = Depends(authenticated)) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return _redirect("/")
    try:
        org = parse_id(org_id, "organisation") if org_id else ctx.org_id
        loc = parse_id(location_id, "location") if location_id else None
        auth.switch(token, org, loc)
    except ProblemError as exc:
        return render(request, "web/error.html", {"title": "Cannot switch", "detail": exc.detail,
                                                  "status": _status(exc)}, status_code=_status(exc))
    return _redirect(screen_after_switch(next, org != ctx.org_id))


# --- home and account -------------------------------------------------------------------------


# The screen each role works from; "/" takes a user there (the first role of theirs listed
# here whose screen they may open). Roles not listed (organisation admin, analyst) get the home
# page with every screen they may open.
LANDING = (
    ("front_desk", "/desk/day-sheet"),
    ("location_manager", "/desk/day-sheet"),
    ("provider", "/scheduling"),
    ("care_coordinator", "/patients"),
    ("biller", "/patients"),
)


def landing(ctx: Context) -> str | None:
    """The work screen for the actor's roles, or None for the home page."""
    from praxis.web.templating import NAV

    if "org_admin" in ctx.roles:
        return None
    allowed = {path for _label, path, perm, _group in NAV if ctx.has(perm)}
    for role, path in LANDING:
        if role in ctx.roles and path in allowed:
            return path
    return None


@router.get("/")
def home(request: Request, home: bool = False, ctx: Context = Depends(authenticated)) -> Response:
    from praxis.web.templating import NAV

    work = None if home else landing(ctx)
    if work:
        return _redirect(work)
    links = [(label, path, CATALOGUE[perm].description if perm in CATALOGUE else "")
             for label, path, perm, _group in NAV if ctx.has(perm)]
    return render(request, "identity/home.html", {"links": links})


def _account_context(ctx: Context) -> dict[str, Any]:
    user = service.get_user(ctx.actor_id) if ctx.actor_type == "user" and ctx.actor_id else None
    locations: dict[uuid.UUID, str] = service.location_names(ctx) if ctx.has(BREAKGLASS_USE) else {}
    invitations = service.list_invitations(user.id) if user else []
    return {"user": user, "bg_locations": sorted(locations.items(), key=lambda kv: kv[1]),
            "max_minutes": get_settings().break_glass_minutes, "invitations": invitations}


@router.get("/account")
def account(request: Request, ctx: Context = Depends(authenticated)) -> Response:
    return render(request, "identity/account.html", _account_context(ctx))


@router.post("/account/invitations/{membership_id}/accept")
def accept_invitation(request: Request, membership_id: str, ctx: Context = Depends(authenticated)) -> Response:
    """Join an organisation that invited you; it then appears in the switcher."""
    try:
        service.accept_invitation(_user_id(ctx), parse_id(membership_id, "invitation"))
    except ProblemError as exc:
        return render(request, "web/error.html", {"title": "Cannot accept", "detail": exc.detail,
                                                  "status": _status(exc)}, status_code=_status(exc))
    return render(request, "identity/account.html", {**_account_context(ctx), "flash": "Invitation accepted."})


@router.post("/account/password")
def change_password(request: Request, current_password: str = Form(""), new_password: str = Form(""),
                    confirm_password: str = Form(""), ctx: Context = Depends(authenticated)) -> Response:
    try:
        uid = _user_id(ctx)
        if new_password != confirm_password:
            raise ValidationProblem("The new passwords do not match", field="confirm_password")
        service.change_password(uid, current_password, new_password,
                                keep_session=request.cookies.get(SESSION_COOKIE))
    except ProblemError as exc:
        if exc.field == "password":
            exc.field = "new_password"
        return render(request, "identity/account.html", {**_account_context(ctx), **_error(exc)},
                      status_code=_status(exc))
    return render(request, "identity/account.html", {**_account_context(ctx), "flash": "Password changed."})


@router.post("/account/break-glass")
def open_break_glass(request: Request, reason: str = Form(""), location_id: str = Form(""),
                     minutes: str = Form(""), ctx: Context = Depends(permission(BREAKGLASS_USE))) -> Response:
    try:
        loc = parse_id(location_id, "location") if location_id else None
        mins = int(minutes) if minutes.strip() else None
        service.open_break_glass(ctx, reason, location_id=loc, minutes=mins)
    except ValueError:
        return render(request, "identity/account.html",
                      {**_account_context(ctx), "error": "Minutes must be a number", "error_field": "minutes",
                       "bg_reason": reason}, status_code=422)
    except ProblemError as exc:
        return render(request, "identity/account.html",
                      {**_account_context(ctx), **_error(exc), "bg_reason": reason}, status_code=_status(exc))
    return _redirect("/account")


@router.post("/account/break-glass/end")
def end_break_glass(request: Request, ctx: Context = Depends(permission(BREAKGLASS_USE))) -> Response:
    service.end_break_glass(ctx)
    return _redirect("/account")


# --- users ------------------------------------------------------------------------------------


def _grant_locations(ctx: Context) -> list[Any]:
    """Locations where the actor may grant roles."""
    return list_locations(ctx, permission=USERS_MANAGE) if ctx.has(USERS_MANAGE) else []


@router.get("/admin/users")
def users(request: Request, ctx: Context = Depends(permission(USERS_READ))) -> Response:
    return render(request, "identity/users.html", {"members": service.list_members(ctx),
                                                   "locations": service.location_names(ctx)})


def _new_user_context(ctx: Context, form: dict[str, str] | None = None) -> dict[str, Any]:
    return {"roles": service.list_roles(ctx), "grant_locations": _grant_locations(ctx),
            "org_wide": ctx.scope(USERS_MANAGE) is None, "form": form or {}}


@router.get("/admin/users/new")
def new_user(request: Request, ctx: Context = Depends(permission(USERS_MANAGE))) -> Response:
    return render(request, "identity/user_new.html", _new_user_context(ctx))


@router.post("/admin/users/new")
def new_user_submit(request: Request, email: str = Form(""), name: str = Form(""), password: str = Form(""),
                    role_id: str = Form(""), location_id: str = Form(""),
                    ctx: Context = Depends(permission(USERS_MANAGE))) -> Response:
    form = {"email": email, "name": name, "role_id": role_id, "location_id": location_id}
    try:
        if not name.strip():
            raise ValidationProblem("Name is required", field="name")
        role = _parse_form_id(role_id, "role_id", "Choose a role")
        loc = _parse_form_id(location_id, "location_id") if location_id else None
        member = service.invite_member(ctx, email, name, password, [(role, loc)])
    except ProblemError as exc:
        return render(request, "identity/user_new.html", {**_new_user_context(ctx, form), **_error(exc)},
                      status_code=_status(exc))
    return _redirect(f"/admin/users/{member.id}")


def _parse_form_id(value: str, field: str, missing: str = "Required") -> uuid.UUID:
    if not value:
        raise ValidationProblem(missing, field=field)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationProblem("Not a valid choice", field=field) from None


def _member_page(request: Request, ctx: Context, member: Any, status_code: int = 200,
                 **extra: Any) -> Response:
    can_manage = ctx.has(USERS_MANAGE)
    return render(request, "identity/user_detail.html", {
        "member": member,
        "locations": service.location_names(ctx),
        "can_manage": can_manage,
        "roles": service.list_roles(ctx) if can_manage else [],
        "grant_locations": _grant_locations(ctx),
        "org_wide": ctx.scope(USERS_MANAGE) is None,
        "is_self": member.user_id == ctx.actor_id,
        **extra,
    }, status_code=status_code)


@router.get("/admin/users/{member_id}")
def user_detail(request: Request, member_id: str, ctx: Context = Depends(permission(USERS_READ))) -> Response:
    return _member_page(request, ctx, service.get_member(ctx, parse_id(member_id, "user")))


def _member_action(request: Request, ctx: Context, member_id: str, action: Any) -> Response:
    """Run a change on a member; a 404 stays a 404, other problems re-render the page."""
    mid = parse_id(member_id, "user")
    try:
        action(mid)
    except ProblemError as exc:
        if exc.status == 404 and exc.field is None:
            raise
        return _member_page(request, ctx, service.get_member(ctx, mid), status_code=_status(exc), **_error(exc))
    return _redirect(f"/admin/users/{mid}")


@router.post("/admin/users/{member_id}/grants")
def add_grant(request: Request, member_id: str, role_id: str = Form(""), location_id: str = Form(""),
              ctx: Context = Depends(permission(USERS_MANAGE))) -> Response:
    def do(mid: uuid.UUID) -> None:
        role = _parse_form_id(role_id, "role_id", "Choose a role")
        loc = _parse_form_id(location_id, "location_id") if location_id else None
        service.add_grant(ctx, mid, role, loc)

    return _member_action(request, ctx, member_id, do)


@router.post("/admin/users/{member_id}/grants/{grant_id}/delete")
def remove_grant(request: Request, member_id: str, grant_id: str,
                 ctx: Context = Depends(permission(USERS_MANAGE))) -> Response:
    gid = parse_id(grant_id, "grant")
    return _member_action(request, ctx, member_id, lambda mid: service.remove_grant(ctx, mid, gid))


@router.post("/admin/users/{member_id}/active")
def set_active(request: Request, member_id: str, active: str = Form(""),
               ctx: Context = Depends(permission(USERS_MANAGE))) -> Response:
    value = active in ("1", "true", "on", "yes")
    return _member_action(request, ctx, member_id, lambda mid: service.set_member_active(ctx, mid, value))


@router.post("/admin/users/{member_id}/unlock")
def unlock(request: Request, member_id: str, ctx: Context = Depends(permission(USERS_MANAGE))) -> Response:
    return _member_action(request, ctx, member_id, lambda mid: service.unlock_member(ctx, mid))


# --- roles ------------------------------------------------------------------------------------


@router.get("/admin/roles")
def roles(request: Request, ctx: Context = Depends(permission(USERS_READ))) -> Response:
    rows = [(r, len(role_permissions(r))) for r in service.list_roles(ctx)]
    return render(request, "identity/roles.html", {"rows": rows})


def _role_page(request: Request, ctx: Context, role_id: uuid.UUID, status_code: int = 200,
               **extra: Any) -> Response:
    role, perms = service.get_role(ctx, role_id)
    checked = set(extra.pop("checked", perms))
    return render(request, "identity/role_detail.html", {
        "role": role,
        "groups": _group_by_domain(list(CATALOGUE)),
        "checked": checked,
        "editable": not role.builtin and ctx.has(ROLES_MANAGE),
        "can_copy": ctx.has(ROLES_MANAGE),
        "held": {p for p in CATALOGUE if ctx.standing().can(p)},
        **extra,
    }, status_code=status_code)


@router.get("/admin/roles/{role_id}")
def role_detail(request: Request, role_id: str, ctx: Context = Depends(permission(USERS_READ))) -> Response:
    return _role_page(request, ctx, parse_id(role_id, "role"))


@router.post("/admin/roles/{role_id}/copy")
def copy_role(request: Request, role_id: str, name: str = Form(""),
              ctx: Context = Depends(permission(ROLES_MANAGE))) -> Response:
    rid = parse_id(role_id, "role")
    try:
        role = service.copy_role(ctx, rid, name[:100])
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _role_page(request, ctx, rid, status_code=_status(exc), copy_name=name, **_error(exc))
    return _redirect(f"/admin/roles/{role.id}")


@router.post("/admin/roles/{role_id}")
def update_role(request: Request, role_id: str, name: str = Form(""), permissions: list[str] = Form(default=[]),
                ctx: Context = Depends(permission(ROLES_MANAGE))) -> Response:
    rid = parse_id(role_id, "role")
    try:
        service.update_role(ctx, rid, name=name[:100] if name.strip() else None, permissions=permissions[:500])
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _role_page(request, ctx, rid, status_code=_status(exc), checked=permissions, **_error(exc))
    return _role_page(request, ctx, rid, flash="Role saved.")


# --- API clients ------------------------------------------------------------------------------


def _clients_page(request: Request, ctx: Context, status_code: int = 200, **extra: Any) -> Response:
    grantable = sorted(p for p in CATALOGUE if ctx.standing().can(p))  # break-glass grants nothing
    return render(request, "identity/api_clients.html", {
        "clients": service.list_api_clients(ctx),
        "default_rate_limit": service.default_rate_limit(),
        "groups": _group_by_domain(grantable),
        "locations": list_locations(ctx),
        "now": now(),
        "form": extra.pop("form", {}),
        **extra,
    }, status_code=status_code)


@router.get("/admin/api-clients")
def api_clients(request: Request, ctx: Context = Depends(permission(APICLIENTS_MANAGE))) -> Response:
    return _clients_page(request, ctx)


@router.post("/admin/api-clients")
def create_api_client(request: Request, name: str = Form(""), scopes: list[str] = Form(default=[]),
                      location_ids: list[str] = Form(default=[]), expires_in_days: str = Form(""),
                      rate_limit_per_minute: str = Form(""),
                      ctx: Context = Depends(permission(APICLIENTS_MANAGE))) -> Response:
    form = {"name": name, "scopes": scopes, "location_ids": location_ids, "expires_in_days": expires_in_days,
            "rate_limit_per_minute": rate_limit_per_minute}
    try:
        if not name.strip():
            raise ValidationProblem("Name is required", field="name")
        locs = [_parse_form_id(x, "location_ids") for x in location_ids if x] or None
        expires = None
        if expires_in_days.strip():
            try:
                days = int(expires_in_days)
            except ValueError:
                raise ValidationProblem("Days must be a whole number", field="expires_in_days") from None
            if not 1 <= days <= 3650:
                raise ValidationProblem("Between 1 and 3650 days", field="expires_in_days")
            expires = now() + timedelta(days=days)
        client, token = service.create_api_client(ctx, name[:120], scopes[:200], location_ids=locs,
                                                  expires_at=expires,
                                                  rate_limit_per_minute=_form_rate_limit(rate_limit_per_minute))
    except ProblemError as exc:
        return _clients_page(request, ctx, status_code=_status(exc), form=form, **_error(exc))
    return _clients_page(request, ctx, created=client, token=token)


def _form_rate_limit(text: str) -> int | None:
    """Requests a minute from a form field: empty is the default (None), anything else a whole number."""
    if not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationProblem("Requests a minute must be a whole number (or empty for the default)",
                                field="rate_limit_per_minute") from None


@router.post("/admin/api-clients/{client_id}/rate-limit")
def set_api_client_rate_limit(request: Request, client_id: str, rate_limit_per_minute: str = Form(""),
                              ctx: Context = Depends(permission(APICLIENTS_MANAGE))) -> Response:
    cid = parse_id(client_id, "API client")
    try:
        client = service.set_api_client_rate_limit(ctx, cid, _form_rate_limit(rate_limit_per_minute[:20]))
    except ProblemError as exc:
        return _clients_page(request, ctx, status_code=_status(exc), limit_error=exc.detail, limit_client=cid)
    limit = client.rate_limit_per_minute
    return _clients_page(request, ctx, flash=f"{client.name}: " + (
        f"{limit:,} requests a minute." if limit else "the default limit."))


@router.post("/admin/api-clients/{client_id}/revoke")
def revoke_api_client(request: Request, client_id: str,
                      ctx: Context = Depends(permission(APICLIENTS_MANAGE))) -> Response:
    service.revoke_api_client(ctx, parse_id(client_id, "API client"))
    return _redirect("/admin/api-clients")


# --- audit ------------------------------------------------------------------------------------


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationProblem("Use a date like 2025-01-31", field=field) from None


def _audit_patient(ctx: Context, patient: str, patient_id: str) -> tuple[str, list[Any]]:
    """The patient the audit search is about: a name / MRN typed in the box, else the id chosen
    before -> (patient id or "", the matches to choose from when more than one fits)."""
    q = patient.strip()[:100]
    if not q:  # nothing typed: the patient chosen before (a choice link, the next page)
        return patient_id.strip(), []
    if _ID_SEGMENT.match(q):
        return q, []
    matches = lookups.find_patients(ctx, q)
    if not matches:
        raise ValidationProblem(f"No patient found for “{q}”: try the MRN, “last, first” or a date of birth",
                                field="patient")
    if len(matches) == 1:
        return str(matches[0].id), []
    return "", matches


@router.get("/admin/audit")
def audit_log(request: Request, patient: str = "", patient_id: str = "", user_id: str = "", since: str = "",
              until: str = "", break_glass: str = "", page: int = 1,
              ctx: Context = Depends(permission(AUDIT_READ))) -> Response:
    filters = {"patient": patient, "patient_id": patient_id, "user_id": user_id, "since": since, "until": until,
               "break_glass": break_glass}
    page = max(1, min(page, 10_000))
    size = 100
    rows: list[Any] = []
    choices: list[Any] = []
    try:
        patient_id, choices = _audit_patient(ctx, patient, patient_id)
        filters["patient_id"] = patient_id
        pid = _parse_form_id(patient_id.strip(), "patient_id") if patient_id.strip() else None
        uid = _parse_form_id(user_id.strip(), "user_id") if user_id.strip() else None
        d_since, d_until = _day(since, "since"), _day(until, "until")
        if not choices:
            rows = service.list_audit(
                ctx, patient_id=pid, actor_id=uid,
                since=datetime.combine(d_since, time.min, UTC) if d_since else None,
                until=datetime.combine(d_until, time.min, UTC) + timedelta(days=1) if d_until else None,
                break_glass=True if break_glass else None, limit=size + 1, offset=(page - 1) * size)
        extra: dict[str, Any] = {}
    except ProblemError as exc:
        extra = _error(exc)
    has_more = len(rows) > size
    rows = rows[:size]
    # Names, not ids: the patients the rows are about (and the patient searched for), named for an
    # actor who may read them (the adapter audits each name it discloses).
    ids = {r.patient_id for r in rows if r.patient_id}
    for r in rows:
        if r.resource_type == "patient" and r.resource_id and _ID_SEGMENT.match(r.resource_id):
            ids.add(uuid.UUID(r.resource_id))
    if filters["patient_id"] and _ID_SEGMENT.match(filters["patient_id"]):
        ids.add(uuid.UUID(filters["patient_id"]))
    names = lookups.patient_names(ctx, sorted(ids, key=str))
    shown = names.get(uuid.UUID(filters["patient_id"])) if filters["patient_id"] and _ID_SEGMENT.match(
        filters["patient_id"]) else None
    return render(request, "identity/audit.html", {
        "rows": rows, "filters": filters, "page": page, "has_more": has_more,
        "locations": service.location_names(ctx), "patient_names": names, "choices": choices,
        "patient_label": shown, **extra,
    }, status_code=422 if extra else 200)


# --- break-glass review -----------------------------------------------------------------------


@router.get("/admin/break-glass")
def break_glass_review(request: Request, ctx: Context = Depends(permission(BREAKGLASS_REVIEW))) -> Response:
    return render(request, "identity/break_glass.html", {
        "events": service.list_break_glass_views(ctx), "locations": service.location_names(ctx), "now": now(),
    })


@router.post("/admin/break-glass/{event_id}/review")
def review_break_glass(request: Request, event_id: str,
                       ctx: Context = Depends(permission(BREAKGLASS_REVIEW))) -> Response:
    service.review_break_glass(ctx, parse_id(event_id, "break-glass event"))
    return _redirect("/admin/break-glass")

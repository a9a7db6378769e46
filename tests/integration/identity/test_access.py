"""Tenancy and location scope through the identity and practice API: other organisations' and
out-of-scope objects answer 404 (never 403), and nobody grants more than they hold."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from praxis.identity import service
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.platform.errors import Forbidden, TenantScopeError, ValidationProblem
from praxis.platform.permissions import register
from praxis.practice.models import Location
from tests.integration.identity.helpers import fix_session_cookie, member_ctx

# A location-bound permission no built-in role but org_admin ("*") holds: makes the escalation
# test independent of which domains are installed.
SECRET_PERM = register("identitytest:secret", "Test-only permission held by org admins alone")


@pytest.fixture
def login(login):
    return lambda u: fix_session_cookie(login(u))


def _role_id(org, key):
    ctx = system_context(org.id, "test")
    return next(r.id for r in service.list_roles(ctx) if r.key == key)


@pytest.fixture
def b_objects(other_org, make_user):
    """Objects of organisation B for A's users to try to reach."""
    ctx = system_context(other_org.id, "test")
    b_user = make_user(other_org, "front_desk", other_org.loc_a)
    b_prov = make_user(other_org, "provider", other_org.loc_a)
    member = service.get_member(ctx, b_user.membership_id)
    client, _ = service.create_api_client(ctx, "b bot", ["locations:read"])
    bg = service.open_break_glass(member_ctx(b_prov), "B emergency for the test", location_id=other_org.loc_b.id)
    return {"user": b_user, "grant_id": member.grants[0]["id"], "role_id": _role_id(other_org, "front_desk"),
            "client_id": client.id, "bg_id": bg.id, "loc_id": other_org.loc_a.id}


def _assert_404(r):
    assert r.status_code == 404, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_user_of_a_cannot_reach_anything_of_b(org, other_org, make_user, login, b_objects):
    c = login(make_user(org, "org_admin"))
    b = b_objects
    mid, gid = b["user"].membership_id, b["grant_id"]
    _assert_404(c.get(f"/api/v1/users/{mid}"))
    _assert_404(c.post(f"/api/v1/users/{mid}/grants", json={"role_id": str(_role_id(org, "front_desk"))}))
    _assert_404(c.delete(f"/api/v1/users/{mid}/grants/{gid}"))
    _assert_404(c.put(f"/api/v1/users/{mid}/active", json={"active": False}))
    _assert_404(c.post(f"/api/v1/users/{mid}/unlock"))
    _assert_404(c.get(f"/api/v1/roles/{b['role_id']}"))
    _assert_404(c.post(f"/api/v1/roles/{b['role_id']}/copy", json={"name": "stolen"}))
    _assert_404(c.patch(f"/api/v1/roles/{b['role_id']}", json={"name": "renamed"}))
    _assert_404(c.post(f"/api/v1/api-clients/{b['client_id']}/revoke"))
    _assert_404(c.post(f"/api/v1/break-glass/{b['bg_id']}/review"))
    _assert_404(c.get(f"/api/v1/locations/{b['loc_id']}"))
    _assert_404(c.patch(f"/api/v1/locations/{b['loc_id']}", json={"name": "mine now"}))
    # A's member given B's role or B's location: also simply not found.
    a_member = make_user(org, "front_desk", org.loc_a).membership_id
    _assert_404(c.post(f"/api/v1/users/{a_member}/grants", json={"role_id": str(b["role_id"])}))
    _assert_404(c.post(f"/api/v1/users/{a_member}/grants",
                       json={"role_id": str(_role_id(org, "front_desk")), "location_id": str(b["loc_id"])}))
    _assert_404(c.post("/api/v1/break-glass", json={"reason": "reach into another org", "location_id":
                                                    str(b["loc_id"])}))
    # Lists show only A's rows.
    assert str(mid) not in c.get("/api/v1/users").text
    assert str(b["role_id"]) not in c.get("/api/v1/roles").text
    assert str(b["client_id"]) not in c.get("/api/v1/api-clients").text
    assert str(b["bg_id"]) not in c.get("/api/v1/break-glass").text
    assert {x["id"] for x in c.get("/api/v1/locations").json()} == {str(org.loc_a.id), str(org.loc_b.id)}
    assert c.get(f"/api/v1/audit?actor_id={b['user'].user_id}").json() == []
    assert c.get("/api/v1/organisation").json()["id"] == str(org.id)
    # And nothing of B changed.
    after = service.get_member(system_context(other_org.id, "test"), mid)
    assert after.active and len(after.grants) == 1


def test_bearer_of_a_cannot_reach_b(org, other_org, bearer, b_objects):
    c = bearer(org, ["users:read", "locations:read", "locations:manage"])
    _assert_404(c.get(f"/api/v1/users/{b_objects['user'].membership_id}"))
    _assert_404(c.get(f"/api/v1/locations/{b_objects['loc_id']}"))
    _assert_404(c.patch(f"/api/v1/locations/{b_objects['loc_id']}", json={"name": "x"}))


def test_location_manager_is_confined_to_their_location(org, make_user, login):
    lm = make_user(org, "location_manager", org.loc_a)
    at_a1 = make_user(org, "front_desk", org.loc_a)
    at_a2 = make_user(org, "front_desk", org.loc_b)
    org_wide = make_user(org, "biller")
    c = login(lm)
    listed = {x["id"] for x in c.get("/api/v1/users").json()}
    assert str(at_a1.membership_id) in listed
    assert str(at_a2.membership_id) not in listed and str(org_wide.membership_id) not in listed
    desk = str(_role_id(org, "front_desk"))
    for m in (at_a2.membership_id, org_wide.membership_id):
        _assert_404(c.get(f"/api/v1/users/{m}"))
        _assert_404(c.post(f"/api/v1/users/{m}/grants", json={"role_id": desk, "location_id": str(org.loc_a.id)}))
        _assert_404(c.put(f"/api/v1/users/{m}/active", json={"active": False}))
        _assert_404(c.post(f"/api/v1/users/{m}/unlock"))
    # An A1 member cannot be given a role at A2 through them.
    _assert_404(c.post(f"/api/v1/users/{at_a1.membership_id}/grants",
                       json={"role_id": desk, "location_id": str(org.loc_b.id)}))
    # A2's settings are out of reach; A1's are theirs to change.
    _assert_404(c.get(f"/api/v1/locations/{org.loc_b.id}"))
    _assert_404(c.patch(f"/api/v1/locations/{org.loc_b.id}", json={"phone": "555-0100"}))
    assert c.patch(f"/api/v1/locations/{org.loc_a.id}", json={"phone": "555-0100"}).status_code == 200
    assert [x["id"] for x in c.get("/api/v1/locations").json()] == [str(org.loc_a.id)]
    # Inviting someone at A2 fails the same way.
    r = c.post("/api/v1/users", json={"email": f"x{uuid.uuid4().hex[:6]}@example.org", "name": "X",
                                      "password": "a long enough pass",
                                      "grants": [{"role_id": desk, "location_id": str(org.loc_b.id)}]})
    _assert_404(r)


def test_location_manager_cannot_escalate(org, make_user, login):
    lm = make_user(org, "location_manager", org.loc_a)
    member = make_user(org, "front_desk", org.loc_a)
    c = login(lm)
    url = f"/api/v1/users/{member.membership_id}/grants"
    # A role holding a permission the manager lacks, at their own location.
    r = c.post(url, json={"role_id": str(_role_id(org, "org_admin")), "location_id": str(org.loc_a.id)})
    assert r.status_code == 403 and SECRET_PERM in r.json()["detail"] and r.json()["field"] == "role_id"
    # Any role organisation-wide.
    r = c.post(url, json={"role_id": str(_role_id(org, "front_desk"))})
    assert r.status_code == 403
    # Their own rights stay theirs: no role editing, no API clients, no audit.
    lm_role = _role_id(org, "location_manager")
    assert c.patch(f"/api/v1/roles/{lm_role}", json={"permissions": ["audit:read"]}).status_code == 403
    assert c.post("/api/v1/api-clients", json={"name": "x", "scopes": ["users:manage"]}).status_code == 403
    assert c.get("/api/v1/audit").status_code == 403
    # What they hold at A1 they may grant at A1.
    ok = c.post(url, json={"role_id": str(_role_id(org, "provider")), "location_id": str(org.loc_a.id)})
    assert ok.status_code == 201


def test_role_editor_cannot_add_permissions_they_do_not_hold(org, make_user):
    admin_ctx = system_context(org.id, "test")
    editor_role = service.copy_role(admin_ctx, _role_id(org, "analyst"), "Role editor")
    service.update_role(admin_ctx, editor_role.id, name=None,
                        permissions=["roles:manage", "users:read", "locations:read"])
    editor = make_user(org, "analyst")
    service.add_grant(admin_ctx, editor.membership_id, editor_role.id, None)
    ctx = member_ctx(editor)
    with pytest.raises(Forbidden):
        service.update_role(ctx, editor_role.id, name=None,
                            permissions=["roles:manage", "users:read", "locations:read", "audit:read"])
    # Removing is fine.
    service.update_role(ctx, editor_role.id, name=None, permissions=["roles:manage", "users:read"])


def test_role_copy_keys_never_collide(org):
    """Copying as "Nurse 2" and then "Nurse" used to give nurse_2 twice (a 500); `_` is exact, not a
    LIKE wildcard, and an empty name is refused."""
    ctx = system_context(org.id, "test")
    desk = _role_id(org, "front_desk")
    keys = [service.copy_role(ctx, desk, name).key for name in ("Nurse 2", "Nurse", "Nurse", "Nurse 3", "Nurse")]
    assert keys == ["nurse_2", "nurse", "nurse_3", "nurse_3_2", "nurse_4"]
    assert service.copy_role(ctx, desk, "Front desk").key == "front_desk_2"  # the built-in keeps its key
    assert service.copy_role(ctx, desk, "nurseX").key == "nursex"  # a longer key is no conflict
    with pytest.raises(ValidationProblem):
        service.copy_role(ctx, desk, "   ")


def test_session_query_is_scoped_to_its_organisation(org, other_org):
    with session_scope(org.id) as s:
        ids = {loc.id for loc in s.scalars(select(Location))}
    assert ids == {org.loc_a.id, org.loc_b.id}
    with session_scope(other_org.id) as s:
        assert s.scalars(select(Location).where(Location.id == org.loc_a.id)).first() is None


def test_session_without_organisation_fails_closed(org):
    with pytest.raises(TenantScopeError), session_scope(None) as s:
        s.scalars(select(Location)).all()

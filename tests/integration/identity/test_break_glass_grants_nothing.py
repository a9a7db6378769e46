"""Issue 17, finding 1: break-glass widens patient care for its window, never what one may grant.

Administration (users, grants, roles, API clients, settings) is judged on standing grants only, so
an emergency window cannot be turned into a standing grant that outlives it."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from praxis.identity import service
from praxis.platform import clock
from praxis.platform.context import system_context
from tests.integration.identity.helpers import fix_session_cookie
from tests.integration.identity.helpers import member_ctx as service_ctx

REASON = "Covering Phoenix: the manager there is out sick"


@pytest.fixture
def login(login):
    return lambda u: fix_session_cookie(login(u))


def _role_id(org, key):
    return next(r.id for r in service.list_roles(system_context(org.id, "test")) if r.key == key)


def _grants(org, membership_id):
    member = service.get_member(system_context(org.id, "test"), membership_id)
    return sorted((g["role_key"], g["location_id"]) for g in member.grants)


def _refused(r, status=403):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")


def _try_to_grant(c, org, lm, colleague, *, where):
    """Every way a location manager could turn the window into standing access at `where`."""
    lm_role, desk = str(_role_id(org, "location_manager")), str(_role_id(org, "front_desk"))
    grant = {"role_id": lm_role} if where is None else {"role_id": lm_role, "location_id": str(where)}
    # Themselves, and a colleague (a location manager at L2, or for the whole organisation).
    _refused(c.post(f"/api/v1/users/{lm.membership_id}/grants", json=grant))
    _refused(c.post(f"/api/v1/users/{colleague.membership_id}/grants", json=grant))
    _refused(c.post(f"/api/v1/users/{colleague.membership_id}/grants",
                    json={**grant, "role_id": desk}))
    # An invited user.
    email = f"accomplice-{uuid.uuid4().hex[:6]}@example.org"
    _refused(c.post("/api/v1/users", json={"email": email, "name": "Accomplice",
                                           "password": "a long enough pass", "grants": [grant]}))
    # An API client (an org-level permission no location manager holds, widened or not).
    _refused(c.post("/api/v1/api-clients", json={"name": "side door", "scopes": ["patients:read"]}))
    # Settings: the organisation's (403) and L2's (out of the manager's scope: 404 like any such object).
    _refused(c.patch("/api/v1/organisation", json={"name": "Taken over"}))
    _refused(c.patch(f"/api/v1/locations/{org.loc_b.id}", json={"phone": "555-0199"}), 404)


def test_break_glass_grants_nothing_and_leaves_nothing_behind(org, make_user, login):
    lm = make_user(org, "location_manager", org.loc_a)
    colleague = make_user(org, "front_desk", org.loc_a)
    c = login(lm)
    l2 = f"/api/v1/locations/{org.loc_b.id}"
    day = f"/api/v1/scheduling/appointments?location_id={org.loc_b.id}&day={date.today().isoformat()}"
    assert c.get(l2).status_code == 404

    # Break-glass for L2: patient care at L2 opens (the location, its appointments) ...
    assert c.post("/api/v1/break-glass", json={"reason": REASON, "location_id": str(org.loc_b.id),
                                               "minutes": 10}).status_code == 201
    assert c.get(l2).status_code == 200
    assert c.get(day).status_code == 200
    # ... administration does not.
    _try_to_grant(c, org, lm, colleague, where=org.loc_b.id)
    _try_to_grant(c, org, lm, colleague, where=None)
    me = c.get("/api/v1/me").json()["permissions"]
    assert me["users:manage"] == [str(org.loc_a.id)] and me["patients:read"] == sorted(
        [str(org.loc_a.id), str(org.loc_b.id)])

    # Organisation-wide break-glass: still nothing to grant, anywhere.
    service.end_break_glass(service_ctx(lm))
    assert c.post("/api/v1/break-glass", json={"reason": REASON, "minutes": 10}).status_code == 201
    assert c.get("/api/v1/me").json()["permissions"]["patients:read"] == "org"
    _try_to_grant(c, org, lm, colleague, where=org.loc_b.id)
    _try_to_grant(c, org, lm, colleague, where=None)

    # Nothing was granted, created or changed.
    assert _grants(org, lm.membership_id) == [("location_manager", org.loc_a.id)]
    assert _grants(org, colleague.membership_id) == [("front_desk", org.loc_a.id)]
    admin = system_context(org.id, "test")
    assert len(service.list_members(admin)) == 2
    assert service.list_api_clients(admin) == []

    # After the window, and a new sign-in, L2 is out of reach again.
    clock.advance(timedelta(minutes=11))
    again = login(lm)
    assert again.get(l2).status_code == 404
    assert again.get(day).status_code == 404
    assert "users:manage" in again.get("/api/v1/me").json()["permissions"]
    assert again.get("/api/v1/me").json()["break_glass_until"] is None


def test_standing_grants_judge_what_an_org_wide_administrator_may_hand_out(org, make_user, login):
    """A user who administers users and API clients organisation-wide but sees patients only at L1
    may not, under organisation-wide break-glass, hand out patient access beyond L1."""
    admin = system_context(org.id, "test")
    people = service.copy_role(admin, _role_id(org, "analyst"), "People admin")
    service.update_role(admin, people.id, name=None,
                        permissions=["users:read", "users:manage", "apiclients:manage", "breakglass:use"])
    member = make_user(org, "front_desk", org.loc_a)
    service.add_grant(admin, member.membership_id, people.id, None)
    colleague = make_user(org, "front_desk", org.loc_a)
    c = login(member)
    assert c.post("/api/v1/break-glass", json={"reason": REASON, "minutes": 10}).status_code == 201
    assert c.get(f"/api/v1/locations/{org.loc_b.id}").status_code == 200  # patient care widened

    desk = str(_role_id(org, "front_desk"))
    r = c.post(f"/api/v1/users/{colleague.membership_id}/grants", json={"role_id": desk})
    _refused(r)
    assert r.json()["field"] == "role_id"
    _refused(c.post(f"/api/v1/users/{colleague.membership_id}/grants",
                    json={"role_id": desk, "location_id": str(org.loc_b.id)}))
    r = c.post("/api/v1/api-clients", json={"name": "side door", "scopes": ["patients:read"]})
    _refused(r)
    assert r.json()["field"] == "scopes"
    # What the standing grants allow still works during the window (and is flagged as break-glass).
    ok = c.post(f"/api/v1/users/{colleague.membership_id}/grants",
                json={"role_id": desk, "location_id": str(org.loc_a.id)})
    assert ok.status_code == 201, ok.text
    assert _grants(org, colleague.membership_id) == [("front_desk", org.loc_a.id)]
    assert service.list_api_clients(admin) == []

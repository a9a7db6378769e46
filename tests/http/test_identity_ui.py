"""The identity screens through HTTP: sign-in (password, MFA, enrolment), account, admin pages."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient

from praxis.identity import service
from praxis.identity.models import User
from praxis.platform import clock
from praxis.platform.db import session_scope
from praxis.platform.settings import get_settings
from praxis.web.middleware import SESSION_COOKIE
from tests.integration.identity.helpers import csrf_of, enable_mfa, fix_session_cookie, member_ctx


def form_login(c: TestClient, email: str, password: str, next: str = "/") -> object:
    page = c.get(f"/login?next={next}")
    assert page.status_code == 200
    return c.post("/login", data={"email": email, "password": password, "next": next,
                                  "csrf_token": csrf_of(page.text)}, follow_redirects=False)


@pytest.fixture
def login(login):
    """conftest's signed-in client, with its session cookie filed where the jar sends it."""
    return lambda u: fix_session_cookie(login(u))


@pytest.fixture
def browser_client(new_client):
    def make() -> TestClient:
        c = new_client()
        c.headers["Accept"] = "text/html"
        return c
    return make


def test_login_page_is_accessible_and_csp_clean(browser_client):
    c = browser_client()
    r = c.get("/login")
    assert r.status_code == 200
    assert "Content-Security-Policy" in r.headers
    assert "<script>" not in r.text and "style=" not in r.text
    assert 'for="email"' in r.text and "autofocus" in r.text


def test_login_sets_hardened_cookie_and_redirects_to_next(browser_client, org, make_user):
    u = make_user(org, "org_admin")
    c = browser_client()
    r = form_login(c, u.email, u.password, next="/admin/users")
    assert r.status_code == 303 and r.headers["location"] == "/admin/users"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    low = cookie.lower()
    assert "httponly" in low and "samesite=lax" in low and "path=/" in low
    # Secure follows the setting (the browser tests' live server turns it off for plain http).
    assert ("; secure" in low) == get_settings().cookie_secure
    assert c.get("/admin/users").status_code == 200


@pytest.mark.parametrize("bad", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x",
                                 "/login", "http:/x"])
def test_next_must_be_a_local_path(browser_client, org, make_user, bad):
    u = make_user(org, "front_desk", org.loc_a)
    c = browser_client()
    r = form_login(c, u.email, u.password, next=bad)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_wrong_password_rerenders_form_with_message(browser_client, org, make_user):
    u = make_user(org, "front_desk", org.loc_a)
    c = browser_client()
    r = form_login(c, u.email, "wrong password here")
    assert r.status_code == 401
    assert "Email or password is wrong" in r.text and 'aria-invalid="true"' in r.text
    assert SESSION_COOKIE not in c.cookies


def test_protected_page_redirects_to_login_with_next(browser_client):
    r = browser_client().get("/admin/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin/users"


def test_login_with_mfa_then_totp(browser_client, org, make_user):
    u = make_user(org, "org_admin")
    secret = enable_mfa(u.user_id)
    c = browser_client()
    r = form_login(c, u.email, u.password, next="/account")
    assert r.status_code == 303 and r.headers["location"] == "/login/mfa?next=/account"
    # Not signed in yet: protected pages still redirect, the API answers 401.
    assert c.get("/account", follow_redirects=False).status_code == 303
    page = c.get("/login/mfa?next=/account")
    assert page.status_code == 200 and 'name="code"' in page.text
    bad = c.post("/login/mfa", data={"code": "000000", "next": "/account", "csrf_token": csrf_of(page.text)},
                 follow_redirects=False)
    assert bad.status_code == 401 and "not valid" in bad.text
    ok = c.post("/login/mfa", data={"code": pyotp.TOTP(secret).now(), "next": "/account",
                                    "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/account"
    acct = c.get("/account")
    assert acct.status_code == 200 and u.email in acct.text


def test_mfa_required_org_forces_enrolment_in_the_browser(browser_client, make_org, make_user):
    org = make_org("Strict Care", mfa_required=True)
    u = make_user(org, "front_desk", org.loc_a)
    c = browser_client()
    r = form_login(c, u.email, u.password)
    assert r.headers["location"] == "/account/mfa/enrol"
    page = c.get("/account/mfa/enrol")
    assert page.status_code == 200 and "otpauth://" in page.text
    secret = re.search(r'id="secret">([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")
    assert c.get("/api/v1/me").status_code == 401
    wrong = c.post("/account/mfa/enrol", data={"code": "123456", "csrf_token": csrf_of(page.text)})
    assert wrong.status_code == 422 and "not valid" in wrong.text
    done = c.post("/account/mfa/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(page.text)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.text)
    assert len(codes) == 10
    assert c.get("/api/v1/me").json()["actor_id"] == str(u.user_id)


def test_password_only_session_cannot_replace_an_existing_authenticator(browser_client, org, make_user):
    u = make_user(org, "org_admin")
    enable_mfa(u.user_id)
    c = browser_client()
    form_login(c, u.email, u.password)
    page = c.get("/account/mfa/enrol", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    token = csrf_of(c.get("/login").text)
    r = c.post("/account/mfa/enrol", data={"action": "restart", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        assert s.get(User, u.user_id).mfa_enabled


def test_enrol_page_get_never_disables_working_mfa(login, org, make_user):
    u = make_user(org, "org_admin")
    enable_mfa(u.user_id)
    c = login(u)
    c.headers["Accept"] = "text/html"
    page = c.get("/account/mfa/enrol")
    assert page.status_code == 200 and "Set up a new authenticator" in page.text
    assert service.get_user(u.user_id).mfa_enabled


def test_logout_ends_session(browser_client, org, make_user):
    u = make_user(org, "front_desk", org.loc_a)
    c = browser_client()
    form_login(c, u.email, u.password)
    home = c.get("/")  # the front desk lands on its work screen, the day sheet
    assert home.status_code == 200 and str(home.url).endswith("/desk/day-sheet") and "Day sheet" in home.text
    r = c.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_navigation_shows_only_allowed_links(login, org, make_user):
    admin = login(make_user(org, "org_admin"))
    desk = login(make_user(org, "front_desk", org.loc_a))
    for c in (admin, desk):
        c.headers["Accept"] = "text/html"
    a, d = admin.get("/").text, desk.get("/").text
    for path in ("/admin/users", "/admin/roles", "/admin/api-clients", "/admin/audit", "/admin/break-glass"):
        assert f'href="{path}"' in a
        assert f'href="{path}"' not in d
    assert desk.get("/admin/users").status_code == 403


def test_admin_pages_render(login, org, make_user):
    c = login(make_user(org, "org_admin"))
    c.headers["Accept"] = "text/html"
    for path in ("/", "/account", "/admin/users", "/admin/users/new", "/admin/roles", "/admin/api-clients",
                 "/admin/audit", "/admin/break-glass"):
        r = c.get(path)
        assert r.status_code == 200, path
        assert 'action="/login"' not in r.text, path  # really signed in, not bounced to the login form
        assert 'name="csrf_token"' in r.text or "<form" not in r.text, path


def _statements(c: TestClient, url: str) -> int:
    """How many SQL statements one request runs (a warm-up request first, so one-off work is out)."""
    from tests.sqlcount import statements

    assert c.get(url).status_code == 200
    with statements() as seen:
        assert c.get(url).status_code == 200
    return len(seen)


def test_staff_list_statements_do_not_grow_with_the_members(login, org, make_user):
    """The staff list loads every member's user and grants in one query each, not one per member,
    for an org-wide admin (HTML page) and for a location-scoped manager (JSON, visibility filter)."""
    admin = make_user(org, "org_admin")
    manager = make_user(org, "location_manager", org.loc_a)
    page, api = login(admin), login(manager)
    page.headers["Accept"] = "text/html"
    ctx = _ctx(admin)
    roles = {r.key: r.id for r in service.list_roles(ctx)}

    def add_members(n: int) -> None:
        for _ in range(n):
            make_user(org, "front_desk", org.loc_a)
            u = make_user(org, "biller")  # org-wide: hidden from the location manager
            service.add_grant(ctx, u.membership_id, roles["provider"], org.loc_b.id)
            service.invite_member(ctx, f"invited-{secrets.token_hex(4)}@example.org", "Invited Person",
                                  "a long enough pass", [(roles["front_desk"], org.loc_a.id)])

    add_members(1)  # 2 + 3 = 5 members
    small = (_statements(page, "/admin/users"), _statements(api, "/api/v1/users"))
    add_members(4)  # 2 + 15 = 17 members
    large = (_statements(page, "/admin/users"), _statements(api, "/api/v1/users"))
    assert large == small
    listed = api.get("/api/v1/users").json()
    assert len(listed) == 1 + 2 * 5  # the manager, the desk staff and the invitations at loc_a
    assert page.get("/admin/users").text.count("Invited Person") == 5


def test_invite_user_and_manage_grants(login, org, make_user):
    admin = make_user(org, "org_admin")
    c = login(admin)
    c.headers["Accept"] = "text/html"
    roles = {r.key: r for r in service.list_roles(_ctx(admin))}
    page = c.get("/admin/users/new")
    token = csrf_of(page.text)
    bad = c.post("/admin/users/new", data={"csrf_token": token, "email": "not-an-email", "name": "Dana",
                                           "password": "a long enough pass", "role_id": str(roles["front_desk"].id),
                                           "location_id": str(org.loc_a.id)})
    assert bad.status_code == 422 and "Invalid email" in bad.text and 'value="Dana"' in bad.text
    r = c.post("/admin/users/new", data={"csrf_token": token, "email": "dana@example.org", "name": "Dana Desk",
                                         "password": "a long enough pass", "role_id": str(roles["front_desk"].id),
                                         "location_id": str(org.loc_a.id)}, follow_redirects=False)
    assert r.status_code == 303
    detail_url = r.headers["location"]
    detail = c.get(detail_url)
    assert "Dana Desk" in detail.text and org.loc_a.name in detail.text
    r = c.post(detail_url + "/grants", data={"csrf_token": token, "role_id": str(roles["biller"].id),
                                             "location_id": ""}, follow_redirects=False)
    assert r.status_code == 303
    member = service.get_member(_ctx(admin), _uuid(detail_url))
    assert {g["role_key"] for g in member.grants} == {"front_desk", "biller"}
    gid = next(g["id"] for g in member.grants if g["role_key"] == "biller")
    c.post(f"{detail_url}/grants/{gid}/delete", data={"csrf_token": token})
    r = c.post(detail_url + "/active", data={"csrf_token": token, "active": "0"}, follow_redirects=False)
    assert r.status_code == 303
    member = service.get_member(_ctx(admin), _uuid(detail_url))
    assert [g["role_key"] for g in member.grants] == ["front_desk"] and not member.active


def test_role_copy_and_edit(login, org, make_user):
    admin = make_user(org, "org_admin")
    c = login(admin)
    c.headers["Accept"] = "text/html"
    desk = next(r for r in service.list_roles(_ctx(admin)) if r.key == "front_desk")
    page = c.get(f"/admin/roles/{desk.id}")
    assert "disabled" in page.text and "patients" in page.text
    token = csrf_of(page.text)
    refused = c.post(f"/admin/roles/{desk.id}", data={"csrf_token": token, "name": "x", "permissions": []})
    assert refused.status_code == 409
    r = c.post(f"/admin/roles/{desk.id}/copy", data={"csrf_token": token, "name": "Desk lite"},
               follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    saved = c.post(url, data={"csrf_token": token, "name": "Desk lite",
                              "permissions": ["locations:read", "patients:read"]})
    assert saved.status_code == 200 and "Role saved" in saved.text
    _, perms = service.get_role(_ctx(admin), _uuid(url))
    assert perms == {"locations:read", "patients:read"}


def test_api_client_token_shown_once_and_revoked(login, org, make_user):
    c = login(make_user(org, "org_admin"))
    c.headers["Accept"] = "text/html"
    token = csrf_of(c.get("/admin/api-clients").text)
    none = c.post("/admin/api-clients", data={"csrf_token": token, "name": "bot"})
    assert none.status_code == 422 and "at least one scope" in none.text
    r = c.post("/admin/api-clients", data={"csrf_token": token, "name": "EHR bot",
                                           "scopes": ["locations:read"], "expires_in_days": "30"})
    assert r.status_code == 200
    api_token = re.search(r'id="new-token">(prx_[^<]+)<', r.text).group(1)
    assert api_token not in c.get("/admin/api-clients").text
    bot = TestClient(c.app, base_url="https://testserver", headers={"Authorization": f"Bearer {api_token}"})
    assert bot.get("/api/v1/locations").status_code == 200
    cid = re.search(r'/admin/api-clients/([0-9a-f-]{36})/revoke', c.get("/admin/api-clients").text).group(1)
    c.post(f"/admin/api-clients/{cid}/revoke", data={"csrf_token": token})
    assert bot.get("/api/v1/locations").status_code == 401


def test_audit_page_filters_and_validates(login, org, make_user):
    admin = make_user(org, "org_admin")
    c = login(admin)
    c.headers["Accept"] = "text/html"
    r = c.get(f"/admin/audit?user_id={admin.user_id}&since=2020-01-01")
    assert r.status_code == 200
    bad = c.get("/admin/audit?patient_id=nope&since=yesterday")
    assert bad.status_code == 422 and "Not a valid choice" in bad.text


def test_break_glass_from_account_and_review(login, org, make_user):
    prov = make_user(org, "provider", org.loc_a)
    admin = make_user(org, "org_admin")
    pc = login(prov)
    pc.headers["Accept"] = "text/html"
    page = pc.get("/account")
    assert "Open break-glass access" in page.text
    token = csrf_of(page.text)
    short = pc.post("/account/break-glass", data={"csrf_token": token, "reason": "short"})
    assert short.status_code == 422 and "at least 10" in short.text
    r = pc.post("/account/break-glass", data={"csrf_token": token, "reason": "Patient collapsed in Phoenix",
                                               "location_id": str(org.loc_b.id), "minutes": "30"},
                follow_redirects=False)
    assert r.status_code == 303
    assert "Break-glass active" in pc.get("/account").text
    ac = login(admin)
    ac.headers["Accept"] = "text/html"
    review = ac.get("/admin/break-glass")
    assert "Patient collapsed in Phoenix" in review.text
    eid = re.search(r"/admin/break-glass/([0-9a-f-]{36})/review", review.text).group(1)
    ac.post(f"/admin/break-glass/{eid}/review", data={"csrf_token": csrf_of(review.text)})
    assert "Reviewed" in ac.get("/admin/break-glass").text
    clock.advance(timedelta(minutes=31))
    assert "Break-glass active" not in pc.get("/account").text


def test_switch_location(login, org, make_user):
    u = make_user(org, "org_admin")
    c = login(u)
    c.headers["Accept"] = "text/html"
    token = csrf_of(c.get("/").text)
    r = c.post("/switch", data={"csrf_token": token, "org_id": str(org.id), "location_id": str(org.loc_b.id)},
               follow_redirects=False)
    assert r.status_code == 303
    assert f'value="{org.loc_b.id}" selected' in c.get("/").text


def _ctx(u):
    return member_ctx(u)


def _uuid(url: str):
    import uuid

    return uuid.UUID(url.rstrip("/").split("/")[-1])

"""The API's edges: idempotent POSTs, API client scopes and tokens, problem documents, CSRF."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from praxis.identity import service
from praxis.platform import clock
from praxis.platform.context import system_context
from praxis.web.middleware import SESSION_COOKIE
from tests.integration.identity.helpers import csrf_of, fix_session_cookie

PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.fixture
def login(login):
    return lambda u: fix_session_cookie(login(u))


def _is_problem(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    assert body["type"].startswith("/problems/")
    return body


# --- idempotency --------------------------------------------------------------------------------


def test_replayed_post_creates_one_object(org, bearer):
    c = bearer(org, ["locations:create", "locations:read"])
    body = {"code": "TUC", "name": "Tucson", "timezone": "America/Phoenix"}
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = c.post("/api/v1/locations", json=body, headers=key)
    second = c.post("/api/v1/locations", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [x["code"] for x in c.get("/api/v1/locations").json()].count("TUC") == 1
    other = c.post("/api/v1/locations", json={**body, "code": "TU2"}, headers=key)
    assert _is_problem(other, 422)["type"] == "/problems/idempotency-key-reused"


def test_idempotency_keys_are_per_credential(org, bearer):
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    a = bearer(org, ["locations:create"]).post("/api/v1/locations", json={"code": "K1", "name": "K1"}, headers=key)
    b = bearer(org, ["locations:create"]).post("/api/v1/locations", json={"code": "K1", "name": "K1"}, headers=key)
    assert a.status_code == 201
    assert b.status_code == 409 and "Idempotent-Replayed" not in b.headers  # a real second attempt


def test_replayed_cookie_post(org, make_user, login):
    c = login(make_user(org, "org_admin"))
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = c.post("/api/v1/locations", json={"code": "CK", "name": "Cookie"}, headers=key)
    second = c.post("/api/v1/locations", json={"code": "CK", "name": "Cookie"}, headers=key)
    assert first.status_code == 201 and second.headers.get("Idempotent-Replayed") == "true"


# --- API clients ----------------------------------------------------------------------------------


def test_scopes_limit_access(org, bearer):
    c = bearer(org, ["locations:read"])
    assert c.get("/api/v1/locations").status_code == 200
    assert "users:read" in _is_problem(c.get("/api/v1/users"), 403)["detail"]
    _is_problem(c.post("/api/v1/locations", json={"code": "NO", "name": "No"}), 403)
    me = c.get("/api/v1/me").json()
    assert me["actor_type"] == "api_client" and set(me["permissions"]) == {"locations:read"}


def test_location_bound_client(org, bearer):
    c = bearer(org, ["locations:read"], location_ids=[org.loc_a.id])
    assert [x["id"] for x in c.get("/api/v1/locations").json()] == [str(org.loc_a.id)]
    _is_problem(c.get(f"/api/v1/locations/{org.loc_b.id}"), 404)


def test_revoked_expired_and_unknown_tokens_are_refused(org, new_client):
    ctx = system_context(org.id, "test")
    client, token = service.create_api_client(ctx, "short-lived", ["locations:read"],
                                              expires_at=clock.now() + timedelta(hours=1))
    c = new_client()
    c.headers["Authorization"] = f"Bearer {token}"
    assert c.get("/api/v1/locations").status_code == 200
    clock.advance(timedelta(hours=2))
    _is_problem(c.get("/api/v1/locations"), 401)
    clock.reset()
    assert c.get("/api/v1/locations").status_code == 200
    service.revoke_api_client(ctx, client.id)
    _is_problem(c.get("/api/v1/locations"), 401)
    c.headers["Authorization"] = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    c.headers["Authorization"] = "Bearer " + c.headers["Authorization"]
    _is_problem(c.get("/api/v1/locations"), 401)
    c.headers["Authorization"] = "Basic abc"
    _is_problem(c.get("/api/v1/locations"), 401)


def test_last_used_is_recorded(org, new_client):
    ctx = system_context(org.id, "test")
    client, token = service.create_api_client(ctx, "bot", ["locations:read"])
    assert client.last_used_at is None
    c = new_client()
    c.headers["Authorization"] = f"Bearer {token}"
    c.get("/api/v1/locations")
    used = next(x for x in service.list_api_clients(ctx) if x.id == client.id)
    assert used.last_used_at is not None and used.last_used_ip is not None


def test_client_scopes_cannot_exceed_the_creator(org, make_user, login):
    c = login(make_user(org, "location_manager", org.loc_a))
    _is_problem(c.post("/api/v1/api-clients", json={"name": "x", "scopes": ["locations:read"]}), 403)
    admin = login(make_user(org, "org_admin"))
    body = _is_problem(admin.post("/api/v1/api-clients", json={"name": "x", "scopes": ["nope:nope"]}), 422)
    assert body["field"] == "scopes"
    made = admin.post("/api/v1/api-clients", json={"name": "x", "scopes": ["locations:read"]})
    assert made.status_code == 201 and made.json()["token"].startswith("prx_")
    assert "token" not in admin.get("/api/v1/api-clients").json()[0]


# --- problem documents ---------------------------------------------------------------------------


def test_every_error_is_a_problem_document(org, make_user, login, new_client):
    anon = new_client()
    _is_problem(anon.get("/api/v1/users"), 401)
    _is_problem(anon.get("/api/v1/does-not-exist"), 404)
    c = login(make_user(org, "front_desk", org.loc_a))
    _is_problem(c.get("/api/v1/users"), 403)
    _is_problem(c.get(f"/api/v1/locations/{uuid.uuid4()}"), 404)
    _is_problem(c.get("/api/v1/locations/not-a-uuid"), 404)
    _is_problem(c.delete("/api/v1/locations"), 405)
    admin = login(make_user(org, "org_admin"))
    bad = _is_problem(admin.post("/api/v1/locations", json={"code": "OK", "name": "x", "timezone": "Mars/Base"}),
                      422)
    assert bad["field"] == "timezone" and bad["errors"]
    extra = _is_problem(admin.post("/api/v1/locations", json={"code": "OK", "name": "x", "colour": "red"}), 422)
    assert extra["field"] == "colour"
    dup = {"code": "DUP", "name": "x"}
    assert admin.post("/api/v1/locations", json=dup).status_code == 201
    assert _is_problem(admin.post("/api/v1/locations", json=dup), 409)["field"] == "code"
    weak = _is_problem(admin.post("/api/v1/users", json={
        "email": "weak@example.org", "name": "W", "password": "aaaaaaaaaaaa",
        "grants": [{"role_id": str(uuid.uuid4())}]}), 404)
    assert weak["detail"]
    broken = admin.post("/api/v1/locations", content=b"{not json", headers={"Content-Type": "application/json"})
    _is_problem(broken, 422)


# --- CSRF ------------------------------------------------------------------------------------------


def test_cookie_post_without_csrf_token_is_refused(org, make_user, login):
    c = login(make_user(org, "org_admin"))
    token_header = c.headers.pop("X-CSRF-Token")
    body = _is_problem(c.post("/api/v1/locations", json={"code": "CS", "name": "x"}), 403)
    assert body["type"] == "/problems/csrf-failed"
    _is_problem(c.post("/api/v1/locations", json={"code": "CS", "name": "x"},
                       headers={"X-CSRF-Token": "0" * 64}), 403)
    assert c.post("/api/v1/locations", json={"code": "CS", "name": "x"},
                  headers={"X-CSRF-Token": token_header}).status_code == 201


def test_html_form_without_csrf_token_is_refused(org, make_user, login):
    c = login(make_user(org, "org_admin"))
    c.headers.pop("X-CSRF-Token")
    c.headers["Accept"] = "text/html"
    _is_problem(c.post("/logout"), 403)
    assert c.get("/api/v1/me").status_code == 200  # still signed in
    token = csrf_of(c.get("/").text)
    assert c.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert SESSION_COOKIE not in c.cookies or c.get("/api/v1/me").status_code == 401


def test_login_form_needs_csrf_token_too(org, make_user, new_client):
    u = make_user(org, "front_desk", org.loc_a)
    c = new_client()
    _is_problem(c.post("/login", data={"email": u.email, "password": u.password}), 403)


def test_bearer_post_needs_no_csrf_token(org, bearer):
    c = bearer(org, ["locations:create"])
    c.cookies.clear()
    made = c.post("/api/v1/locations", json={"code": "BR", "name": "x"})
    assert made.status_code == 201
    assert "set-cookie" not in made.headers  # a bot is not handed a browser's CSRF cookie


# --- timestamps need a UTC offset ------------------------------------------------------------------


def test_api_client_expiry_without_offset_is_refused(org, make_user, login):
    admin = login(make_user(org, "org_admin"))
    body = {"name": "x", "scopes": ["locations:read"], "expires_at": "2030-01-01T00:00:00"}
    bad = _is_problem(admin.post("/api/v1/api-clients", json=body), 422)
    assert bad["field"] == "expires_at"
    made = admin.post("/api/v1/api-clients", json={**body, "expires_at": "2030-01-01T00:00:00Z"})
    assert made.status_code == 201, made.text
    assert made.json()["expires_at"].startswith("2030-01-01T00:00:00")


@pytest.mark.parametrize("path", ["/api/v1/audit?since={}", "/api/v1/audit?until={}",
                                  "/api/v1/break-glass?since={}"])
def test_period_query_without_offset_is_refused(org, make_user, login, path):
    admin = login(make_user(org, "org_admin"))
    field = path.split("?")[1].split("=")[0]
    bad = _is_problem(admin.get(path.format("2030-01-01T00:00:00")), 422)
    assert bad["field"] == f"query.{field}"
    ok = admin.get(path.format("2020-01-01T00:00:00%2B00:00"))
    assert ok.status_code == 200, ok.text

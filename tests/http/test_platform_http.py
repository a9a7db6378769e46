"""Platform behaviour at the HTTP edge: problems, request ids, health, static assets."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends

from praxis.web.deps import public


def test_unhandled_error_is_a_problem_without_stack_trace(db, caplog):
    from praxis.main import create_app

    app = create_app(seal_audit=False)  # its own app: the session's app stays as the code builds it
    router = APIRouter()

    @router.get("/__boom", dependencies=[Depends(public)], include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("secret internal detail SSN 123-45-6789")

    app.include_router(router)
    from fastapi.testclient import TestClient

    with caplog.at_level(logging.ERROR), TestClient(app, base_url="https://testserver",
                                                    raise_server_exceptions=False) as c:
        r = c.get("/__boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/problems/internal-error"
    assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
    assert body["request_id"] == r.headers["x-request-id"]
    assert body["instance"] == "/__boom" and r.headers["x-content-type-options"] == "nosniff"


def test_request_id_is_echoed_when_sane_and_replaced_when_not(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abcDEF12345-trace"})
    assert r.headers["x-request-id"] == "abcDEF12345-trace"
    r = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert r.headers["x-request-id"] != "<script>" and len(r.headers["x-request-id"]) == 32


def test_readyz_reports_database_and_migrations(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready"}


def test_unknown_api_path_is_a_problem(client):
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_unauthenticated_api_call_is_401_problem(client):
    r = client.get("/api/v1/users")
    assert r.status_code == 401
    assert r.json()["type"] == "/problems/unauthenticated"


def test_malformed_bearer_token_is_401(client):
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer prx_nope"})
    assert r.status_code == 401
    r = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_docs_page_and_its_assets_are_served_locally(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "<script>" not in r.text  # no inline script: CSP stays strict
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "Praxis API"


def test_nul_characters_are_refused_before_any_handler(login, org, make_user):
    admin = login(make_user(org, "org_admin"))
    r = admin.patch("/api/v1/organisation", json={"name": "bad\u0000name"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "NUL" in r.json()["detail"]
    r = admin.patch("/api/v1/organisation", content=b'{"name": "fine \\\\u0000 text"}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["name"] == "fine \\u0000 text"
    assert admin.get("/api/v1/users?location_id=%00").status_code == 422


def test_problems_from_middleware_carry_instance_and_request_id(login, org, make_user, new_client):
    """CSRF (403), NUL guard (422) and idempotency (422) answer before any route, with the same
    problem shape as the routes: the path as `instance` and the request id."""
    rid = {"X-Request-ID": "trace-0123456789"}
    anon = new_client()
    csrf = anon.post("/login", data={"email": "x@example.org", "password": "y"}, headers=rid)
    nul = anon.get("/healthz?q=%00", headers=rid)
    admin = login(make_user(org, "org_admin"))
    long_key = admin.post("/api/v1/locations", json={"code": "IK", "name": "x"},
                          headers={**rid, "Idempotency-Key": "k" * 256})
    for r, status, path in ((csrf, 403, "/login"), (nul, 422, "/healthz"), (long_key, 422, "/api/v1/locations")):
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json", r.text
        body = r.json()
        assert body["instance"] == path and body["request_id"] == "trace-0123456789" == r.headers["x-request-id"]

"""Security headers on every HTML answer and CSRF refusal on every form post, over the UI routes
discovered from the app (so a new screen is covered the day it is added)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from praxis.web.routes import iter_routes
from tests.tenancy import objects
from tests.tenancy.support import signed_in

SAFE = {"GET", "HEAD", "OPTIONS"}


def _ui_routes(app: Any, method: str) -> list[Any]:
    return [r for r in iter_routes(app) if not r.include_in_schema and method in (r.methods or ())]


def _fill(path: str, env: objects.SeedEnv, cache: dict[str, Any]) -> str:
    def one(m: re.Match[str]) -> str:
        kind = objects.kind_for(m.group(1), path)
        if kind not in cache:
            factory = objects.FACTORIES.get(kind)
            try:
                cache[kind] = factory(env).id if factory else uuid.uuid4()
            except objects.Unseeded:
                cache[kind] = uuid.uuid4()
        return str(cache[kind])

    return re.sub(r"\{([^}]+)\}", one, path)


def _check_headers(resp: Any, where: str, *, https: bool) -> list[str]:
    h = resp.headers
    problems = []
    csp = h.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    script = directives.get("script-src") or directives.get("default-src", "")
    if not csp:
        problems.append(f"{where}: no Content-Security-Policy")
    if "'unsafe-inline'" in script or "'unsafe-eval'" in script or not script:
        problems.append(f"{where}: script-src allows inline/eval or is missing: {script!r}")
    if directives.get("frame-ancestors") != "frame-ancestors 'none'":
        problems.append(f"{where}: frame-ancestors is not 'none'")
    if h.get("x-content-type-options", "").lower() != "nosniff":
        problems.append(f"{where}: X-Content-Type-Options is not nosniff")
    if not h.get("referrer-policy"):
        problems.append(f"{where}: no Referrer-Policy")
    if https and "max-age=" not in h.get("strict-transport-security", ""):
        problems.append(f"{where}: no HSTS on an https request")
    return problems


@pytest.fixture
def admin_client(org: Any, make_user: Callable[..., Any], login: Callable[[Any], Any]) -> Any:
    client = signed_in(login(make_user(org, "org_admin")))
    client.follow_redirects = False
    return client


def test_every_html_screen_sends_the_security_headers(app: Any, org: Any, admin_client: Any,
                                                       new_client: Callable[[], Any]) -> None:
    env = objects.SeedEnv(org.id, org.loc_a.id, "zzHDR")
    cache: dict[str, Any] = {}
    problems: list[str] = []
    html_seen = 0
    anonymous = new_client()
    anonymous.follow_redirects = False
    for route in _ui_routes(app, "GET"):
        path = _fill(route.path, env, cache)
        for who, client in (("admin", admin_client), ("anonymous", anonymous)):
            resp = client.get(path, headers={"Accept": "text/html"})
            assert resp.status_code < 500, f"{who} GET {path}: {resp.status_code}"
            if resp.headers.get("content-type", "").startswith("text/html"):
                html_seen += 1
                problems += _check_headers(resp, f"{who} GET {route.path}", https=True)
    # Behind a TLS-terminating proxy: plain http inside, X-Forwarded-Proto says https.
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as plain:
        resp = plain.get("/login", headers={"Accept": "text/html", "X-Forwarded-Proto": "https"})
        problems += _check_headers(resp, "GET /login via proxy", https=True)
    assert html_seen >= 3, "expected several HTML screens"
    assert not problems, "\n".join(problems)


def test_every_form_post_without_its_csrf_token_is_refused(app: Any, org: Any, admin_client: Any,
                                                          new_client: Callable[[], Any]) -> None:
    from praxis.web.middleware import SESSION_COOKIE

    env = objects.SeedEnv(org.id, org.loc_a.id, "zzCSRF")
    cache: dict[str, Any] = {}
    admin_client.headers.pop("X-CSRF-Token", None)
    anonymous = new_client()
    problems, posts = [], 0
    for route in iter_routes(app):
        for method in sorted((route.methods or set()) - SAFE):
            path = _fill(route.path, env, cache)
            clients = [("session", admin_client)]
            if not route.path.startswith("/api/"):
                clients.append(("anonymous", anonymous))
            for who, client in clients:
                posts += 1
                resp = client.request(method, path, data={"name": "x", "csrf_token": "forged"})
                if resp.status_code != 403 or "csrf" not in resp.text.lower():
                    problems.append(f"{who} {method} {route.path}: {resp.status_code} {resp.text[:120]}")
    # The session must still be alive: nothing above was executed.
    assert admin_client.cookies.get(SESSION_COOKIE)
    assert admin_client.get("/api/v1/me").status_code == 200
    assert posts > 5
    assert not problems, "\n".join(problems)

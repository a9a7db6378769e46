"""Per-API-client request limits (decision 41): a fixed one-minute window counted in the database,
429 with Retry-After and RateLimit headers past the limit, the limit set per client through the API
and the admin screen, and last use recorded at most once a minute."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from praxis.identity.models import ApiClient, ApiClientWindow
from praxis.platform import clock
from praxis.platform.db import session_scope


def _create(admin: TestClient, limit: int | None, scopes: list[str] | None = None) -> tuple[str, str]:
    body: dict[str, Any] = {"name": "limited bot", "scopes": scopes or ["locations:read"]}
    if limit is not None:
        body["rate_limit_per_minute"] = limit
    r = admin.post("/api/v1/api-clients", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["rate_limit_per_minute"] == limit
    return r.json()["id"], r.json()["token"]


def _bot(admin: TestClient, token: str) -> TestClient:
    return TestClient(admin.app, base_url="https://testserver", headers={"Authorization": f"Bearer {token}"})


def _windows(org: Any, cid: str) -> Any:
    return select(ApiClientWindow).where(ApiClientWindow.org_id == org.id,
                                         ApiClientWindow.client_id == uuid.UUID(cid))


def _start_of_minute() -> None:
    # The window is the clock's minute: start the test at second 1 so it cannot straddle two.
    t = clock.now()
    clock.advance(timedelta(seconds=61 - t.second, microseconds=-t.microsecond))


def test_over_the_limit_is_429_with_retry_after_until_the_window_ends(org, make_user, login):
    _start_of_minute()
    admin = login(make_user(org, "org_admin"))
    cid, token = _create(admin, 3)
    bot = _bot(admin, token)
    remaining = []
    for _ in range(3):
        r = bot.get("/api/v1/locations")
        assert r.status_code == 200
        assert r.headers["RateLimit-Limit"] == "3"
        remaining.append(r.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    over = bot.get("/api/v1/locations")
    assert over.status_code == 429
    assert over.headers["content-type"] == "application/problem+json"
    assert over.json()["type"] == "/problems/rate-limited"
    retry = int(over.headers["Retry-After"])
    assert 1 <= retry <= 60 and over.headers["RateLimit-Remaining"] == "0"
    # Another client of the organisation has its own budget; the admin's session is not limited.
    _, other = _create(admin, 3)
    assert _bot(admin, other).get("/api/v1/locations").status_code == 200
    assert admin.get("/api/v1/locations").status_code == 200
    # The count lives in the database (every server process shares it): one row for this minute.
    with session_scope(org.id) as s:
        rows = s.scalars(_windows(org, cid)).all()
        assert [w.count for w in rows] == [4]
    clock.advance(timedelta(seconds=retry))
    assert bot.get("/api/v1/locations").status_code == 200
    with session_scope(org.id) as s:  # the old window was dropped when the new one began
        assert len(s.scalars(_windows(org, cid)).all()) == 1


def test_the_default_limit_applies_and_a_client_limit_overrides_it(org, make_user, login, monkeypatch):
    from praxis.platform.settings import get_settings

    _start_of_minute()
    monkeypatch.setattr(get_settings(), "api_rate_limit_per_minute", 2)
    admin = login(make_user(org, "org_admin"))
    cid, token = _create(admin, None)
    bot = _bot(admin, token)
    assert [bot.get("/api/v1/locations").status_code for _ in range(3)] == [200, 200, 429]
    r = admin.put(f"/api/v1/api-clients/{cid}/rate-limit", json={"rate_limit_per_minute": 5})
    assert r.status_code == 200 and r.json()["rate_limit_per_minute"] == 5
    assert [bot.get("/api/v1/locations").status_code for _ in range(3)] == [200, 200, 429]  # 4, 5, 6 of 5
    bad = admin.put(f"/api/v1/api-clients/{cid}/rate-limit", json={"rate_limit_per_minute": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "rate_limit_per_minute"
    back = admin.put(f"/api/v1/api-clients/{cid}/rate-limit", json={"rate_limit_per_minute": None})
    assert back.status_code == 200 and back.json()["rate_limit_per_minute"] is None


def test_rate_limit_is_a_429_operation_outcome_under_fhir(org, make_user, login):
    _start_of_minute()
    admin = login(make_user(org, "org_admin"))
    _, token = _create(admin, 1, scopes=["system/Patient.read"])
    bot = _bot(admin, token)
    assert bot.get("/fhir/R4/Patient", params={"family": "x"}).status_code == 200
    r = bot.get("/fhir/R4/Patient", params={"family": "x"})
    assert r.status_code == 429 and r.json()["resourceType"] == "OperationOutcome"
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_last_use_is_written_at_most_once_a_minute(org, make_user, login):
    admin = login(make_user(org, "org_admin"))
    cid, token = _create(admin, None)
    bot = _bot(admin, token)

    def last_used() -> Any:
        with session_scope(org.id) as s:
            return s.scalars(select(ApiClient.last_used_at).where(ApiClient.id == uuid.UUID(cid))).one()

    assert last_used() is None
    bot.get("/api/v1/locations")
    first = last_used()
    assert first is not None
    clock.advance(timedelta(seconds=30))
    bot.get("/api/v1/locations")
    assert last_used() == first
    clock.advance(timedelta(seconds=31))
    bot.get("/api/v1/locations")
    assert last_used() > first


def test_the_admin_screen_shows_scopes_limit_and_last_use_and_sets_the_limit(org, make_user, login):
    admin = login(make_user(org, "org_admin"))
    admin.headers["Accept"] = "text/html"
    page = admin.get("/admin/api-clients").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = admin.post("/admin/api-clients", data={"csrf_token": csrf, "name": "Portal bot",
                                               "scopes": ["locations:read", "patients:read"],
                                               "rate_limit_per_minute": "120"})
    assert r.status_code == 200, r.text
    token = re.search(r'id="new-token">(prx_[^<]+)<', r.text).group(1)
    _bot(admin, token).get("/api/v1/locations")
    page = admin.get("/admin/api-clients").text
    row = page[page.index("Portal bot"):page.index("</tr>", page.index("Portal bot"))]
    assert "<code>locations:read</code>" in row and "<code>patients:read</code>" in row
    assert "120" in row and "<time datetime=" in row  # the limit, and last use (not the empty dash)
    cid = re.search(r'/admin/api-clients/([0-9a-f-]{36})/rate-limit', row).group(1)
    bad = admin.post(f"/admin/api-clients/{cid}/rate-limit", data={"csrf_token": csrf,
                                                                   "rate_limit_per_minute": "lots"})
    assert bad.status_code == 422 and "whole number" in bad.text
    ok = admin.post(f"/admin/api-clients/{cid}/rate-limit", data={"csrf_token": csrf, "rate_limit_per_minute": "7"})
    assert ok.status_code == 200 and "Portal bot: 7 requests a minute." in ok.text
    with session_scope(org.id) as s:
        assert s.scalars(select(ApiClient.rate_limit_per_minute).where(ApiClient.id == uuid.UUID(cid))).one() == 7
    cleared = admin.post(f"/admin/api-clients/{cid}/rate-limit", data={"csrf_token": csrf,
                                                                       "rate_limit_per_minute": ""})
    assert "Portal bot: the default limit." in cleared.text and "(default)" in cleared.text
    # Without the permission: no screen, no setting.
    desk = login(make_user(org, "front_desk"))
    assert desk.post(f"/admin/api-clients/{cid}/rate-limit", data={"rate_limit_per_minute": "1"}).status_code == 403

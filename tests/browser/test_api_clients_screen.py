"""The API-client screen in a real browser: create a client with its own request limit, see its
scopes, limit and last use, change the limit in place (and be told when the value is wrong)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import browser_login

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_admin_sets_and_sees_a_clients_limit(page, org, make_user, app):
    admin = make_user(org, "org_admin")
    browser_login(page, admin)
    page.goto("/admin/api-clients")
    page.get_by_label("Name").fill("Portal sync")
    page.get_by_label("Requests a minute (empty = default").fill("90")
    page.locator("input[name=scopes][value='locations:read']").check()
    page.get_by_role("button", name="Create client").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("prx_")
    with TestClient(app, base_url="https://testserver", headers={"Authorization": f"Bearer {token}"}) as bot:
        r = bot.get("/api/v1/locations")
        assert r.status_code == 200 and r.headers["RateLimit-Limit"] == "90"
    page.goto("/admin/api-clients")
    row = page.locator("tr", has_text="Portal sync")
    assert "locations:read" in row.inner_text()
    assert row.locator("time").count() == 1  # last use, recorded by the request above
    limit = row.get_by_label(re.compile("Requests a minute for Portal sync"))
    assert limit.input_value() == "90"
    limit.fill("45")
    row.get_by_role("button", name=re.compile("Set limit")).click()
    assert page.get_by_role("status").inner_text().strip() == "Portal sync: 45 requests a minute."
    row = page.locator("tr", has_text="Portal sync")
    assert row.get_by_label(re.compile("Requests a minute for Portal sync")).input_value() == "45"
    assert not page.page_errors

"""`praxis demo` and `praxis seed --scale small` give care management something to show (issue 16
item 10): as a care coordinator, through the API and the screens, the worklist lists enrolled
patients of every programme and the billing preview has billable codes and near misses."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from praxis.care import months, rules
from praxis.demo import DEMO_CARE_EMAIL, DEMO_SLUG, load_demo
from praxis.identity.service import seed_builtin_roles
from praxis.platform.clock import now
from praxis.practice.service import find_organisation_by_slug
from praxis.seed import generate
from tests.conftest import OrgFixture
from tests.integration.identity.helpers import csrf_of


def _months() -> tuple[str, str]:
    this = months.month_of(now().date())
    return months.month_of(months.first_day(this) - timedelta(days=1)), this


def _every(c: TestClient, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every row of a paged list, following its Link rel="next" as an integrator would."""
    rows: list[dict[str, Any]] = []
    answer = c.get(url, params=params)
    while True:
        assert answer.status_code == 200, answer.text
        rows += answer.json()
        following = answer.links.get("next")
        if not following:
            return rows
        answer = c.get(following["url"])


def _check(c: TestClient) -> None:
    last, this = _months()
    for month in (last, this):
        rows = _every(c, "/api/v1/care/worklist", {"month": month})
        assert len(rows) >= 100 and {r["program"] for r in rows} == {"ccm", "pcm", "rpm"}
    preview = _every(c, "/api/v1/care/billing-preview", {"month": last})
    assert len(preview) == len({r["enrolment_id"] for r in preview})  # each enrolment once across pages
    codes = Counter(code for r in preview for code in r["codes"])
    # Every programme bills something, and some enrolments are a few minutes short.
    for code in ("99490", "99439", "99487", "99426", "99457", "99454"):
        assert codes[code] > 0, (code, codes)
    near = [r for r in preview if not r["codes"] and rules.BELOW_THRESHOLD in r["reasons"]
            and r["minutes_to_next"] is not None and r["minutes_to_next"] <= 10]
    assert near, "no near misses"
    review = c.get("/api/v1/care/month-review", params={"month": last}).json()
    assert any(g["close"] for g in review["coordinators"]) and any(g["reached"] for g in review["practitioners"])
    page = c.get("/care", params={"month": this})
    assert page.status_code == 200 and "Start timer" in page.text and page.text.count("data-enrolment=") >= 100


def test_seed_small_gives_the_coordinator_a_worklist_and_a_preview(db, make_user, login):
    info = generate(db, "small", 3, slug=f"seed-care-{secrets.token_hex(3)}", name="Seed Care")
    seed_builtin_roles(info["org_id"])
    assert info["care"]["enrolments"] == 150 and info["care"]["time_entries"] > 300
    org = OrgFixture(info["org_id"], "seed-care", "Seed Care")
    _check(login(make_user(org, "care_coordinator")))


@pytest.fixture(scope="module")
def demo(db):
    _email, password, _created = load_demo("demo-test-password-1")
    org = find_organisation_by_slug(DEMO_SLUG)
    assert org is not None
    return password


def test_demo_care_coordinator_signs_in_and_sees_the_care_screens(app, demo):
    with TestClient(app, base_url="https://testserver") as c:
        page = c.get("/login")
        r = c.post("/login", data={"email": DEMO_CARE_EMAIL, "password": demo, "next": "/",
                                   "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        _check(c)
        assert c.get("/care/month").status_code == 403  # the coordinator logs; a practitioner approves

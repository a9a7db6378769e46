"""Registration works on the database `praxis demo` creates (issue 13): the demo loader runs into
the test database, then its admin (signed in through the login form) and a front-desk user register
patients through the API and the staff screen."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from praxis.demo import DEMO_SLUG, load_demo
from praxis.practice.service import find_organisation_by_slug
from tests.conftest import OrgFixture
from tests.integration.identity.helpers import csrf_of
from tests.integration.patients.helpers import ensure_routes, staff


@pytest.fixture(scope="module")
def demo(db):
    email, password, _created = load_demo("demo-test-password-1")
    org = find_organisation_by_slug(DEMO_SLUG)
    assert org is not None
    return OrgFixture(org.id, org.slug, org.name), email, password


def _form_login(c: TestClient, email: str, password: str) -> None:
    page = c.get("/login")
    r = c.post("/login", data={"email": email, "password": password, "next": "/",
                               "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_front_desk_registers_through_the_api_on_the_demo_database(app, demo, make_user, login):
    ensure_routes(app)
    from praxis.platform.context import system_context
    from praxis.practice.service import list_locations

    org, _email, _password = demo
    flagship = next(loc for loc in list_locations(system_context(org.id)) if loc.code == "L01")
    c = staff(login, make_user(org, "front_desk", flagship))
    first = c.post("/api/v1/patients", json={"first_name": "Demo", "last_name": "Registrant",
                                              "dob": "1990-05-06"})
    assert first.status_code == 201, first.text
    second = c.post("/api/v1/patients", json={"first_name": "Another", "last_name": "Registrant",
                                               "dob": "1991-07-08", "confirm_duplicate": True})
    assert second.status_code == 201, second.text
    # The demo holds MRNs 00000001-00002000; new ones follow them, one after the other.
    assert int(first.json()["mrn"]) > 2000 and int(second.json()["mrn"]) == int(first.json()["mrn"]) + 1


def test_demo_admin_registers_through_the_staff_screen(app, demo):
    ensure_routes(app)
    _org, email, password = demo
    with TestClient(app, base_url="https://testserver") as c:
        _form_login(c, email, password)
        page = c.get("/patients/new")
        assert page.status_code == 200
        r = c.post("/patients/new", data={"csrf_token": csrf_of(page.text), "first_name": "Screen",
                                          "last_name": "Registered", "dob": "1985-03-04", "sex": "F"},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        shown = c.get(r.headers["location"])
        assert shown.status_code == 200 and "Registered" in shown.text
        mrn = re.search(r"\b0000(\d{4})\b", shown.text)
        assert mrn is not None and int(mrn.group(1)) > 2000

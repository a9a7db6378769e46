"""Issue 13, item 8: navigation grouped by work area, each role's landing screen, switching keeps
the screen, the audit screen finds patients by name or MRN and shows names, the import screen
picks the location from a list and names fields in words, flash colours by severity, the
favicon, and the MFA enrolment's QR code."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from starlette.requests import Request

from praxis.identity import auth
from praxis.identity.mfa import qr_svg
from praxis.identity.ui import screen_after_switch
from praxis.platform.audit import AuditRecord
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.web.templating import render
from tests.integration.identity.helpers import csrf_of, fix_session_cookie
from tests.integration.patients.helpers import register

HTML = {"Accept": "text/html"}


@pytest.fixture
def login(login):
    return lambda u: fix_session_cookie(login(u))


def _nav_groups(html: str) -> list[str]:
    return re.findall(r'class="nav-group-label" id="nav-group-\d+">([^<]+)<', html)


def test_navigation_is_grouped_by_work_area_and_each_role_lands_on_its_screen(login, org, make_user):
    desk = login(make_user(org, "front_desk", org.loc_a))
    r = desk.get("/", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk/day-sheet"
    page = desk.get("/desk/day-sheet", headers=HTML).text
    assert _nav_groups(page) == ["Front desk", "Patients", "Schedule"]
    assert 'href="/desk/day-sheet" aria-current="page"' in page
    assert 'href="/admin/users"' not in page

    provider = login(make_user(org, "provider"))
    assert provider.get("/", headers=HTML, follow_redirects=False).headers["location"] == "/scheduling"

    admin = login(make_user(org, "org_admin"))
    home = admin.get("/", headers=HTML, follow_redirects=False)
    assert home.status_code == 200 and "Hello" in home.text
    assert _nav_groups(home.text) == ["Front desk", "Patients", "Schedule", "Admin"]
    admin_group = home.text.split('id="nav-group-4">Admin</span>')[1].split("</ul>")[0]
    for path in ("/admin/users", "/admin/audit", "/patients/import", "/payers"):
        assert f'href="{path}"' in admin_group
    # The longest matching entry is the current one: /patients/new is "Register", not "Patients".
    reg = admin.get("/patients/new", headers=HTML).text
    assert 'href="/patients/new" aria-current="page"' in reg and 'href="/patients" aria-current' not in reg


def test_switching_location_keeps_the_current_screen(login, org, make_user):
    admin = login(make_user(org, "org_admin"))
    page = admin.get("/desk/day-sheet", headers=HTML)
    assert 'name="next" value="/desk/day-sheet"' in page.text
    r = admin.post("/switch", headers=HTML, follow_redirects=False, data={
        "csrf_token": csrf_of(page.text), "org_id": str(org.id), "location_id": str(org.loc_b.id),
        "next": "/desk/day-sheet"})
    assert r.status_code == 303 and r.headers["location"] == "/desk/day-sheet"
    evil = admin.post("/switch", headers=HTML, follow_redirects=False, data={
        "csrf_token": csrf_of(page.text), "org_id": str(org.id), "next": "//evil.example/x"})
    assert evil.headers["location"] == "/"


def test_screen_after_switch_drops_the_query_and_the_old_orgs_object():
    pid = "01a24f5c-6ebb-7687-a0ea-3185aa8bb70c"
    assert screen_after_switch("/desk/day-sheet?location_id=x&day=2026-01-01", False) == "/desk/day-sheet"
    assert screen_after_switch(f"/patients/{pid}", False) == f"/patients/{pid}"
    assert screen_after_switch(f"/patients/{pid}", True) == "/patients"
    assert screen_after_switch(f"/desk/patients/{pid}/visits", True) == "/desk/patients"
    assert screen_after_switch("https://evil.example/", True) == "/"


def _request(path: str = "/x") -> Request:
    return Request({"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b"",
                    "server": ("testserver", 443), "scheme": "https", "root_path": "", "state": {}})


def test_flash_is_coloured_by_severity_and_an_error_is_never_green(db):
    ok = render(_request(), "web/error.html", {"flash": "Saved.", "flash_level": "ok", "title": "t",
                                               "detail": "d", "status": 200})
    assert 'class="flash flash-ok" role="status"' in ok.body.decode()
    refused = render(_request(), "web/error.html", {"flash": "That time was taken", "title": "t", "detail": "d",
                                                    "status": 409}, status_code=409)
    assert 'class="flash flash-error" role="alert"' in refused.body.decode()
    plain = render(_request(), "web/error.html", {"flash": "No slot found", "title": "t", "detail": "d",
                                                  "status": 200})
    assert 'class="flash flash-info"' in plain.body.decode()


def test_favicon_and_readable_link_buttons(client):
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.text.startswith("<svg") and "image/svg" in icon.headers["content-type"]
    login_page = client.get("/login", headers=HTML).text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login_page
    css = client.get("/static/app.css").text
    rule = re.search(r"button\.link \{([^}]*)\}", css)
    assert rule and "color:var(--accent)" in rule.group(1)  # not the white of other buttons


def test_mfa_enrolment_shows_a_qr_code_of_the_otpauth_uri(login, org, make_user):
    u = make_user(org, "front_desk", org.loc_a)
    c = login(u)
    page = c.get("/account/mfa/enrol", headers=HTML)
    assert page.status_code == 200 and 'id="mfa-qr"' in page.text
    pending = auth.pending_enrolment(u.user_id)
    assert pending is not None
    assert qr_svg(pending[1]) in page.text and "<svg" in qr_svg(pending[1])


def test_audit_screen_finds_a_patient_by_name_or_mrn_and_shows_names(login, org, make_user):
    ctx = system_context(org.id)
    p = register(ctx, "Odette", "Quill", date(1961, 2, 3), location_id=org.loc_a.id)
    register(ctx, "Olga", "Quillan", date(1977, 4, 5), location_id=org.loc_a.id)
    desk = login(make_user(org, "front_desk", org.loc_a))
    assert desk.get(f"/patients/{p.id}", headers=HTML).status_code == 200
    admin = make_user(org, "org_admin")
    c = login(admin)
    by_mrn = c.get(f"/admin/audit?patient={p.mrn}", headers=HTML)
    assert by_mrn.status_code == 200
    assert f"Records about <strong>Quill, Odette · DOB 02/03/1961 · MRN {p.mrn}</strong>" in by_mrn.text
    table = by_mrn.text.split("<tbody>")[1]
    assert "Quill, Odette" in table and str(p.id) not in table.replace(f'href="/patients/{p.id}"', "")
    by_name = c.get("/admin/audit?patient=quill, odette", headers=HTML)
    assert "Records about <strong>Quill, Odette" in by_name.text
    several = c.get("/admin/audit?patient=quill", headers=HTML)
    assert 'id="patient-choices"' in several.text and "Quillan, Olga" in several.text
    none = c.get("/admin/audit?patient=Nobody Atall", headers=HTML)
    assert none.status_code == 422 and "No patient found" in none.text
    with session_scope(org.id) as s:  # naming patients on the audit screen is itself audited
        named = s.scalars(select(AuditRecord).where(AuditRecord.actor_id == admin.user_id,
                                                    AuditRecord.action == "patient.name")).all()
    assert p.id in {r.patient_id for r in named}


def test_import_screen_picks_the_location_from_a_list_and_names_fields_in_words(login, org, make_user):
    c = login(make_user(org, "org_admin"))
    page = c.get("/patients/import", headers=HTML).text
    assert f"{org.loc_a.name} (NYC)" in page and f"{org.loc_b.name} (PHX)" in page
    assert 'name="location_code" required' in page and 'input id="i-loc"' not in page
    data: Any = {"location_code": "NYC", "kind": "patients", "source": "words", "date_format": "DD/MM/YYYY"}
    files = {"file": ("p.csv", b"Last Name,First Name,DOB\nAbbott,Ann,04/05/1969\n", "text/csv")}
    r = c.post("/patients/import", headers=HTML, data={**data, "csrf_token": csrf_of(page)}, files=files)
    assert r.status_code == 200
    assert ">date of birth</option>" in r.text and ">dob</option>" not in r.text
    assert "DOB → date of birth" in r.text and "read as DD/MM/YYYY" in r.text
    assert "1 valid · 0 errors" in r.text

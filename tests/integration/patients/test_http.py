"""The HTTP edge: problem documents, unknown fields refused, uploads, the public intake link."""

from __future__ import annotations

import pytest

from praxis.intake import ratelimit
from praxis.intake.definition import default_definition
from tests.integration.patients.helpers import ensure_routes, staff


@pytest.fixture
def web(app):
    return ensure_routes(app)


def _payload(**kw):
    base = {"first_name": "Hana", "last_name": "Kato", "dob": "1991-04-05"}
    return {**base, **kw}


def test_register_and_search_through_api(web, org, make_user, login):
    c = staff(login, make_user(org, "front_desk", org.loc_a))
    r = c.post("/api/v1/patients", json=_payload(phone_mobile="212 555 0166"))
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = c.post("/api/v1/patients", json=_payload(first_name="HANA"))
    assert r.status_code == 409 and r.json()["type"] == "/problems/possible-duplicate"
    assert r.json()["errors"][0]["id"] == pid
    r = c.get("/api/v1/patients", params={"q": "kato, ha"})
    assert [p["id"] for p in r.json()] == [pid]
    r = c.get("/api/v1/patients", params={"q": "kato", "sort": "ssn"})
    assert r.status_code == 422


@pytest.mark.parametrize("body,field", [
    (_payload(dob="1991-02-30"), "dob"),
    (_payload(phone_mobile="123"), "phone_mobile"),
    (_payload(org_id="00000000-0000-0000-0000-000000000000"), "org_id"),
    (_payload(mrn="X1"), "mrn"),
])
def test_bad_registration_is_a_problem_with_field(web, org, make_user, login, body, field):
    c = staff(login, make_user(org, "front_desk", org.loc_a))
    r = c.post("/api/v1/patients", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


def test_upload_wrong_type_and_too_large(web, org, make_user, login):
    c = staff(login, make_user(org, "front_desk", org.loc_a))
    pid = c.post("/api/v1/patients", json=_payload(last_name="Upload")).json()["id"]
    r = c.post(f"/api/v1/patients/{pid}/documents", data={"kind": "card_front"},
               files={"file": ("x.png", b"GIF89a not really", "image/png")})
    assert r.status_code == 415 and r.json()["field"] == "file"
    r = c.post(f"/api/v1/patients/{pid}/documents", data={"kind": "card_front"},
               files={"file": ("x.jpg", b"\xff\xd8\xff" + b"0" * (11 * 1024 * 1024), "image/jpeg")})
    assert r.status_code == 413
    r = c.post(f"/api/v1/patients/{pid}/documents", data={"kind": "card_front"},
               files={"file": ("x.png", b"\x89PNG\r\n\x1a\n....", "text/html")})
    assert r.status_code == 201
    doc = r.json()
    r = c.get(f"/api/v1/patients/{pid}/documents/{doc['id']}/content")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")


def test_intake_link_over_http(web, org, make_user, login, new_client):
    ratelimit.reset()
    admin = staff(login, make_user(org, "org_admin"))
    r = admin.post("/api/v1/intake/workflows", json={"name": "Default", "definition": default_definition()})
    assert r.status_code == 201, r.text
    pid = admin.post("/api/v1/patients", json=_payload(last_name="Linkwell")).json()["id"]
    sub = admin.post("/api/v1/intake/submissions", json={"patient_id": pid,
                                                         "location_id": str(org.loc_a.id)}).json()
    link = admin.post(f"/api/v1/intake/submissions/{sub['id']}/links", json={"hours": 1}).json()
    anon = new_client()
    page = anon.get(link["path"], headers={"accept": "text/html"})
    assert page.status_code == 200 and "New patient intake" in page.text
    assert "Linkwell" not in page.text
    # The token opens nothing but its own intake.
    assert anon.get(f"/api/v1/patients/{pid}").status_code == 401
    r = anon.get(f"/api/v1/intake/link/{link['token']}")
    assert r.status_code == 200 and r.json()["answers"] == {}
    bad = anon.put(f"/api/v1/intake/link/{link['token']}/steps/0", json={"answers": {"dob": "yesterday"}})
    assert bad.status_code == 422


def test_pages_render(web, org, make_user, login):
    c = staff(login, make_user(org, "org_admin"))
    c.headers["accept"] = "text/html"
    assert c.get("/patients").status_code == 200
    assert c.get("/patients/new").status_code == 200
    assert c.get("/patients/import").status_code == 200
    assert c.get("/intake/workflows").status_code == 200
    r = c.post("/patients/new", data={"first_name": "Web", "last_name": "Form", "dob": "1980-01-01"},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and "Form, Web" in page.text
    r = c.post("/patients/new", data={"first_name": "Web", "last_name": "Form", "dob": "1980-01-01"})
    assert r.status_code == 409 and "Possible duplicate" in r.text


def test_location_scoped_user_gets_404_not_403(web, org, make_user, login):
    from praxis.platform.context import system_context
    from tests.integration.patients.helpers import register
    from tests.integration.patients.test_registry import _restrict

    p = register(system_context(org.id), "Out", "Ofscope", location_id=org.loc_b.id)
    _restrict(org.id)
    c = staff(login, make_user(org, "front_desk", org.loc_a))
    assert c.get(f"/api/v1/patients/{p.id}").status_code == 404

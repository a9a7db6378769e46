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


def test_patch_null_clears_a_nullable_field_and_is_refused_elsewhere(web, org, make_user, login):
    c = staff(login, make_user(org, "front_desk", org.loc_a))
    r = c.post("/api/v1/patients", json=_payload(last_name="Nullable", middle_name="Q", email="n@example.org",
                                                 phone_home="212 555 0177", consent_sms=True))
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    for field in ("middle_name", "consent_sms", "dob", "first_name", "country", "ssn"):
        r = c.patch(f"/api/v1/patients/{pid}", json={field: None})
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field
    r = c.patch(f"/api/v1/patients/{pid}", json={"email": None, "phone_home": None})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["email"] is None and out["phone_home"] is None
    assert out["middle_name"] == "Q" and out["consent_sms"] is True  # untouched


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


def _csrf_field(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no csrf_token field"
    return match.group(1)


def test_merge_and_undo_through_the_screens(web, org, make_user, login):
    import re
    from datetime import date

    from praxis.patients import service
    from praxis.platform.context import system_context
    from tests.integration.patients.helpers import register

    ctx = system_context(org.id)
    keep = register(ctx, "Maria", "Lopez", date(1970, 1, 2), location_id=org.loc_a.id)
    dupe = register(ctx, "María", "López", date(1970, 1, 2), location_id=org.loc_b.id)
    # Front desk may not merge: no merge section, and the screens answer 403/404.
    desk = staff(login, make_user(org, "front_desk", org.loc_a))
    desk.headers["accept"] = "text/html"
    assert 'id="merge"' not in desk.get(f"/patients/{keep.id}").text
    assert desk.get(f"/patients/{keep.id}/merge", params={"q": dupe.mrn}).status_code in (403, 404)

    c = staff(login, make_user(org, "org_admin"))
    c.headers["accept"] = "text/html"
    page = c.get(f"/patients/{keep.id}")
    assert page.status_code == 200 and 'id="merge-find"' in page.text
    # Every POST form on the page carries its csrf token; no inline scripts.
    for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", page.text, flags=re.S):
        assert 'name="csrf_token"' in form
    assert "<script>" not in page.text
    # Find by MRN: both records side by side.
    confirm = c.get(f"/patients/{keep.id}/merge", params={"q": dupe.mrn})
    assert confirm.status_code == 200, confirm.text
    assert keep.mrn in confirm.text and dupe.mrn in confirm.text and "López" in confirm.text
    assert f'name="merged_id" value="{dupe.id}"' in confirm.text
    # Search by name offers the duplicate (not this patient) to review.
    by_name = c.get(f"/patients/{keep.id}/merge", params={"q": "lopez"})
    assert f"q={dupe.mrn}" in by_name.text and f"q={keep.mrn}\"" not in by_name.text
    assert c.get(f"/patients/{keep.id}/merge", params={"q": keep.mrn}).status_code == 422
    # A merge needs a reason, and the csrf token.
    token = _csrf_field(confirm.text)
    r = c.post(f"/patients/{keep.id}/merge", data={"merged_id": str(dupe.id), "reason": "", "csrf_token": token})
    assert r.status_code == 422 and "reason" in r.text
    r = c.post(f"/patients/{keep.id}/merge", data={"merged_id": str(dupe.id), "reason": "same person",
                                                   "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert service.get_patient(ctx, dupe.id).status == "merged"
    page = c.get(f"/patients/{keep.id}")
    assert "merged into this patient" in page.text and dupe.mrn in page.text
    undo = re.search(r'action="(/patients/[^"]+/merges/[^"]+/undo)"', page.text)
    assert undo, "no Undo button"
    # Merging the same record again is refused with a message on the page.
    r = c.post(f"/patients/{keep.id}/merge", data={"merged_id": str(dupe.id), "reason": "again",
                                                   "csrf_token": token})
    assert r.status_code == 422 and "already merged" in r.text
    # The undo of this merge through another patient's page is not found, and changes nothing.
    other = register(ctx, "Otto", "Elsewhere", date(1960, 6, 6), location_id=org.loc_a.id)
    foreign = undo.group(1).replace(f"/patients/{keep.id}/", f"/patients/{other.id}/")
    r = c.post(foreign, data={"reason": "wrong page", "csrf_token": _csrf_field(page.text)})
    assert r.status_code == 404
    assert service.get_patient(ctx, dupe.id).status == "merged"
    r = c.post(undo.group(1), data={"reason": "different people", "csrf_token": _csrf_field(page.text)},
               follow_redirects=False)
    assert r.status_code == 303
    assert service.get_patient(ctx, dupe.id).status == "active"
    page = c.get(f"/patients/{keep.id}")
    assert "unmerged" in page.text and "/undo" not in page.text
    # Undoing it twice: the page again, with the reason as a form message, and nothing changes.
    r = c.post(undo.group(1), data={"csrf_token": _csrf_field(page.text)})
    assert r.status_code == 422 and "This merge was already undone" in r.text
    assert service.get_patient(ctx, dupe.id).status == "active"


def test_import_screen_maps_columns_with_selects(web, org, make_user, login):
    import re

    from praxis.patients import importer
    from praxis.platform.context import system_context

    csv = (b"Acct,Surname,Given,Birth,Gender,Notes\n"
           b"X1,Ortiz,Ana,1980-02-03,F,vip\n"
           b"X2,Quinn,Bo,1975-04-05,M,\n")
    c = staff(login, make_user(org, "org_admin"))
    c.headers["accept"] = "text/html"
    page = c.get("/patients/import")
    assert 'name="mapping"' not in page.text
    base = {"kind": "patients", "location_code": "NYC", "source": "legacy", "csrf_token": _csrf_field(page.text)}
    # Upload: one <select> per column, guessed, and a dry run of that guess.
    r = c.post("/patients/import", data=base, files={"file": ("p.csv", csv, "text/csv")})
    assert r.status_code in (200, 422), r.text
    selects = re.findall(r'<select id="map-(\d+)" name="map_\d+">(.*?)</select>', r.text, flags=re.S)
    assert len(selects) == 6
    options = re.findall(r'<option value="([^"]+)"', selects[0][1])
    assert options[0] == "ignore" and "external_id" in options and "last_name" in options
    upload = re.search(r'name="upload" value="([0-9a-f]+)"', r.text).group(1)
    # Map the columns by hand; the dry run writes nothing.
    chosen = {"map_0": "external_id", "map_1": "last_name", "map_2": "first_name", "map_3": "dob",
              "map_4": "sex", "map_5": "ignore"}
    r = c.post("/patients/import", data={**base, "upload": upload, **chosen, "dry_run": "1"})
    assert r.status_code == 200, r.text
    assert "Dry run" in r.text and "2 valid" in r.text and "2 would be created" in r.text
    assert 'value="external_id" selected' in r.text and "Ignored columns: Notes" in r.text
    ctx = system_context(org.id)
    assert importer.get_saved_mapping(ctx, "legacy", "patients") is None
    # A mapping missing a required field is refused, the selects stay as chosen.
    r = c.post("/patients/import", data={**base, "upload": upload, **chosen, "map_1": "ignore", "dry_run": "1"})
    assert r.status_code == 422 and "last_name" in r.text and 'id="map-1"' in r.text
    # Apply: all rows created and the mapping remembered for the source.
    r = c.post("/patients/import", data={**base, "upload": upload, **chosen, "apply": "1"})
    assert r.status_code == 200 and "Imported" in r.text and "2 created" in r.text
    assert importer.get_saved_mapping(ctx, "legacy", "patients")["Acct"] == "external_id"
    # The next file from that source comes pre-filled from the saved mapping.
    csv2 = b"Acct,Surname,Given,Birth,Gender,Notes\nX3,Rossi,Cy,1999-09-09,F,\nX4,Bad,Row,31/31/1990,F,\n"
    r = c.post("/patients/import", data=base, files={"file": ("p2.csv", csv2, "text/csv")})
    assert 'value="external_id" selected' in r.text and 'value="dob" selected' in r.text
    assert "1 errors" in r.text or "1 error" in r.text
    upload2 = re.search(r'name="upload" value="([0-9a-f]+)"', r.text).group(1)
    # All or nothing: one bad row and nothing is written.
    r = c.post("/patients/import", data={**base, "upload": upload2, **chosen, "apply": "1"})
    assert "Not applied" in r.text
    from praxis.patients import service
    assert not service.find_patients(ctx, q="Rossi")
    # An unknown (or expired) upload token asks for the file again.
    assert "Choose a CSV" in c.post("/patients/import", data={**base, "upload": "0" * 32, "dry_run": "1"}).text


def test_oversize_import_is_refused_not_truncated(web, org, make_user, login, monkeypatch):
    from praxis.patients import service
    from praxis.platform.context import system_context
    from praxis.platform.settings import get_settings

    monkeypatch.setattr(get_settings(), "max_upload_bytes", 100)  # the one upload cap (a setting)
    csv = b"external_id,last_name,first_name,dob\n" + b"".join(
        b"T%d,Trunc,Ated%d,1980-01-0%d\n" % (i, i, i) for i in range(1, 6))
    assert len(csv) > 100 and b"\n" in csv[:100]  # a truncated copy would still parse as a smaller file
    c = staff(login, make_user(org, "org_admin"))
    c.headers["accept"] = "text/html"
    page = c.get("/patients/import")
    base = {"kind": "patients", "location_code": "NYC", "source": "big", "csrf_token": _csrf_field(page.text)}
    r = c.post("/patients/import", data={**base, "apply": "1"}, files={"file": ("big.csv", csv, "text/csv")})
    assert r.status_code == 422
    assert "big.csv" in r.text and "100 bytes import limit" in r.text
    assert 'name="upload"' not in r.text and 'id="report"' not in r.text  # not kept, not parsed
    api = c.post("/api/v1/patient-imports", data={"location_code": "NYC", "dry_run": "false"},
                 files={"file": ("big.csv", csv, "text/csv")}, headers={"accept": "application/json"})
    assert api.status_code == 422 and api.json()["field"] == "file" and "big.csv" in api.json()["detail"]
    assert not service.find_patients(system_context(org.id), q="Trunc")

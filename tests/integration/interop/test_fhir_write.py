"""FHIR create and update: Patient registration, Appointment booking through scheduling, conditional
create, If-Match, and the official R4 examples through the create path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.integration.interop.support import fhir, outcome
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world

CORPUS = Path("/work/shared/corpus/fhir/r4")
WRITE = ["system/Patient.read", "system/Patient.write", "system/Appointment.read", "system/Appointment.write"]
HEADERS = {"Content-Type": "application/fhir+json"}


def _us_patient(family: str = "Chalmers") -> dict[str, Any]:
    """The official Patient example with an address and phones of the US (we register US patients)."""
    p = json.loads((CORPUS / "patient-example.json").read_text())
    p = copy.deepcopy(p)
    p.pop("id")
    p["name"][0]["family"] = family
    p["address"] = [{"use": "home", "line": ["534 Erewhon St"], "city": "Springfield", "state": "IL",
                     "postalCode": "62701"}]
    p["telecom"] = [{"system": "phone", "value": "(217) 555-0134", "use": "mobile"}]
    return p


def test_official_patient_example_is_refused_naming_its_australian_phone(org: Any, bearer: Any) -> None:
    c = bearer(org, WRITE)
    official = json.loads((CORPUS / "patient-example.json").read_text())
    issue = outcome(c.post("/fhir/R4/Patient", json=official, headers=HEADERS), 422)
    assert issue["expression"] == ["Patient.telecom[2].value"]  # (03) 3410 5613 is no US number
    assert "entry" not in fhir(c.get("/fhir/R4/Patient", params={"family": "Chalmers", "birthdate": "1974-12-25"}))


def test_create_patient_then_read_it_back(org: Any, bearer: Any) -> None:
    c = bearer(org, WRITE)
    r = c.post("/fhir/R4/Patient", json=_us_patient("Chalmersby"), headers=HEADERS)
    created = fhir(r, 201)
    assert r.headers["Location"].endswith(f"/fhir/R4/Patient/{created['id']}")
    assert created["name"][0] == {"use": "official", "family": "Chalmersby", "given": ["Peter", "James"]}
    assert created["gender"] == "male" and created["birthDate"] == "1974-12-25"
    assert {"use": "usual", "given": ["Jim"]} in created["name"]
    again = fhir(c.get(f"/fhir/R4/Patient/{created['id']}"))
    assert again["address"][0]["city"] == "Springfield"


def test_conditional_create_returns_the_existing_patient(org: Any, bearer: Any) -> None:
    c = bearer(org, WRITE)
    first = fhir(c.post("/fhir/R4/Patient", json=_us_patient("Condly"), headers=HEADERS), 201)
    mrn = first["identifier"][0]["value"]
    cond = {**HEADERS, "If-None-Exist": f"identifier=urn:praxis:mrn|{mrn}"}
    second = fhir(c.post("/fhir/R4/Patient", json=_us_patient("Condly"), headers=cond), 200)
    assert second["id"] == first["id"]
    bad = outcome(c.post("/fhir/R4/Patient", json=_us_patient("X"), headers={**HEADERS, "If-None-Exist": "foo=1"}),
                  400)
    assert bad["expression"] == ["If-None-Exist"]


def test_duplicate_registration_is_a_409_outcome(org: Any, bearer: Any) -> None:
    c = bearer(org, WRITE)
    fhir(c.post("/fhir/R4/Patient", json=_us_patient("Dupley"), headers=HEADERS), 201)
    assert outcome(c.post("/fhir/R4/Patient", json=_us_patient("Dupley"), headers=HEADERS), 409)["code"] == "conflict"


def test_update_patient_replaces_demographics_and_refuses_if_match(org: Any, bearer: Any) -> None:
    c = bearer(org, WRITE)
    created = fhir(c.post("/fhir/R4/Patient", json=_us_patient("Updley"), headers=HEADERS), 201)
    body = {**created, "address": [{"line": ["1 Main St"], "city": "Chicago", "state": "IL", "postalCode": "60601"}]}
    body.pop("telecom")
    updated = fhir(c.put(f"/fhir/R4/Patient/{created['id']}", json=body, headers=HEADERS))
    assert updated["address"][0]["city"] == "Chicago" and "telecom" not in updated
    issue = outcome(c.put(f"/fhir/R4/Patient/{created['id']}", json=body, headers={**HEADERS, "If-Match": 'W/"1"'}),
                    400)
    assert issue["expression"] == ["If-Match"]
    bad = {**body, "address": [{"state": "Illinois"}]}
    assert outcome(c.put(f"/fhir/R4/Patient/{created['id']}", json=bad, headers=HEADERS),
                   422)["expression"] == ["Patient.address[0].state"]


def test_write_needs_the_write_scope(org: Any, bearer: Any) -> None:
    c = bearer(org, ["system/Patient.read"])
    issue = outcome(c.post("/fhir/R4/Patient", json=_us_patient(), headers=HEADERS), 403)
    assert "system/Patient.write" in issue["diagnostics"]


def _appointment(w: Any, org: Any, pid: Any, start: str) -> dict[str, Any]:
    """The official Appointment example pointed at our patient, provider, location and visit type."""
    a = json.loads((CORPUS / "appointment-example.json").read_text())
    a.pop("id")
    a.pop("end")
    a["start"] = start
    a["appointmentType"] = {"coding": [{"system": "urn:praxis:visit-type", "code": str(w.visit_id)}]}
    for p in a["participant"]:
        kind = p["actor"]["reference"].split("/")[0]
        p["actor"]["reference"] = {"Patient": f"Patient/{pid}", "Practitioner": f"Practitioner/{w.provider_id}",
                                   "Location": f"Location/{org.loc_a.id}"}[kind]
    return a


def test_book_through_fhir_then_double_booking_is_409(org: Any, bearer: Any) -> None:
    w = make_world(org)
    pid, other = make_patient(org), make_patient(org)
    c = bearer(org, WRITE)
    start = w.local(future_weekday(), 10).isoformat()
    r = c.post("/fhir/R4/Appointment", json=_appointment(w, org, pid, start), headers=HEADERS)
    made = fhir(r, 201)
    assert made["status"] == "booked" and r.headers["ETag"] == 'W/"1"'
    assert made["description"] == "Discussion on the results of your recent MRI"
    clash = c.post("/fhir/R4/Appointment", json=_appointment(w, org, other, start), headers=HEADERS)
    assert outcome(clash, 409)["code"] == "conflict"
    cond = {**HEADERS, "If-None-Exist": f"patient=Patient/{pid}&date={start}"}
    again = c.post("/fhir/R4/Appointment", json=_appointment(w, org, pid, start), headers=cond)
    assert fhir(again, 200)["id"] == made["id"]


def test_appointment_bad_reference_names_the_element(org: Any, bearer: Any) -> None:
    w = make_world(org)
    pid = make_patient(org)
    c = bearer(org, WRITE)
    body = _appointment(w, org, pid, w.local(future_weekday(), 10).isoformat())
    body["participant"][1]["actor"]["reference"] = "Practitioner/example"
    assert outcome(c.post("/fhir/R4/Appointment", json=body, headers=HEADERS),
                   422)["expression"] == ["Appointment.participant[1].actor"]
    body = _appointment(w, org, pid, "2026-12-10T09:00:00")
    assert outcome(c.post("/fhir/R4/Appointment", json=body, headers=HEADERS),
                   400)["expression"] == ["Appointment.start"]


def test_reschedule_and_cancel_with_if_match(org: Any, bearer: Any) -> None:
    w = make_world(org)
    pid = make_patient(org)
    c = bearer(org, WRITE)
    day = future_weekday()
    made = fhir(c.post("/fhir/R4/Appointment", json=_appointment(w, org, pid, w.local(day, 10).isoformat()),
                       headers=HEADERS), 201)
    moved_body = {**made, "start": w.local(day, 11).isoformat()}
    r = c.put(f"/fhir/R4/Appointment/{made['id']}", json=moved_body, headers={**HEADERS, "If-Match": 'W/"1"'})
    moved = fhir(r)
    assert moved["meta"]["versionId"] == "2" and r.headers["ETag"] == 'W/"2"'
    stale = c.put(f"/fhir/R4/Appointment/{made['id']}", json={**moved, "status": "cancelled",
                                                              "cancelationReason": {"text": "Patient asked"}},
                  headers={**HEADERS, "If-Match": 'W/"1"'})
    assert outcome(stale, 412)["expression"] == ["If-Match"]
    assert fhir(c.get(f"/fhir/R4/Appointment/{made['id']}"))["status"] == "booked"
    done = fhir(c.put(f"/fhir/R4/Appointment/{made['id']}", json={**moved, "status": "cancelled",
                                                                  "cancelationReason": {"text": "Patient asked"}},
                      headers={**HEADERS, "If-Match": 'W/"2"'}))
    assert done["status"] == "cancelled" and done["cancelationReason"]["text"] == "Patient asked"


def test_metadata_lists_the_write_interactions(client: Any) -> None:
    cs = fhir(client.get("/fhir/R4/metadata"))
    by_type = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert {i["code"] for i in by_type["Patient"]["interaction"]} == {"read", "search-type", "create", "update"}
    assert by_type["Appointment"]["versioning"] == "versioned-update"
    assert by_type["Patient"]["versioning"] == "no-version" and by_type["Patient"]["conditionalCreate"] is True


def test_another_organisations_object_is_404_on_update_whatever_the_body(org: Any, other_org: Any,
                                                                         bearer: Any) -> None:
    w = make_world(org)
    pid = make_patient(org)
    from praxis.scheduling import service as scheduling

    appt = scheduling.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider_id,
                           location_id=org.loc_a.id, start_at=w.local(future_weekday(), 10))
    theirs = bearer(other_org, WRITE)
    assert outcome(theirs.put(f"/fhir/R4/Patient/{pid}", json={}, headers=HEADERS), 404)["code"] == "not-found"
    body = {**_us_patient(), "id": str(pid)}
    assert outcome(theirs.put(f"/fhir/R4/Patient/{pid}", json=body, headers=HEADERS), 404)["code"] == "not-found"
    assert outcome(theirs.put(f"/fhir/R4/Appointment/{appt.id}", json={}, headers=HEADERS), 404)["code"] == "not-found"
    assert fhir(bearer(org, WRITE).get(f"/fhir/R4/Patient/{pid}"))["name"][0]["family"] != "Chalmers"

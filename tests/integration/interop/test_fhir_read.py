"""FHIR R4 facade: metadata, read and search, paging, errors, scopes and tenancy."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.integration.interop.support import ALL_READ, fhir, outcome
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world


def _count_audit(org_id: Any, action: str) -> int:
    from sqlalchemy import func, select

    from praxis.platform.audit import AuditRecord as AuditEvent
    from praxis.platform.db import session_scope

    with session_scope(None, system=True, reason="test: reads what the code under test wrote") as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.org_id == org_id, AuditEvent.action == action)) or 0


def test_metadata_claims_exactly_the_routes(client: Any) -> None:
    cs = fhir(client.get("/fhir/R4/metadata"))
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    by_type = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert set(by_type) == {"Patient", "Practitioner", "PractitionerRole", "Organization", "Location", "Schedule",
                            "Slot", "Appointment", "Coverage", "QuestionnaireResponse", "Encounter", "Claim"}
    assert "ExplanationOfBenefit" not in by_type  # billing keeps no remittance yet (decision 39)
    assert [o["name"] for o in cs["rest"][0]["operation"]] == ["export"]
    assert [o["name"] for o in by_type["Patient"]["operation"]] == ["export"]
    assert {i["code"] for i in by_type["Coverage"]["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in by_type["Patient"]["searchParam"]} >= {"name", "birthdate", "identifier"}
    assert "system/Patient.read" in cs["rest"][0]["security"]["description"]


def test_patient_read_search_and_paging(org: Any, bearer: Any) -> None:
    c = bearer(org, ALL_READ)
    ids = [make_patient(org, first=f"Ann{i}", last="Quokkafield") for i in range(5)]
    p = fhir(c.get(f"/fhir/R4/Patient/{ids[0]}"))
    assert p["name"][0]["family"] == "Quokkafield" and p["birthDate"] == "1980-05-17"
    first = fhir(c.get("/fhir/R4/Patient", params={"family": "Quokkafield", "_count": 2}))
    assert len(first["entry"]) == 2
    seen = [e["resource"]["id"] for e in first["entry"]]
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    while nxt:
        page = fhir(c.get(nxt))
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
        nxt = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert sorted(seen) == sorted(str(i) for i in ids)
    by_mrn = fhir(c.get("/fhir/R4/Patient", params={"identifier": f"urn:praxis:mrn|{p['identifier'][0]['value']}"}))
    assert [e["resource"]["id"] for e in by_mrn["entry"]] == [str(ids[0])]
    by_dob = fhir(c.get("/fhir/R4/Patient", params={"family": "Quokkafield", "birthdate": "1999-01-01"}))
    assert "entry" not in by_dob
    assert _count_audit(org.id, "patient.read") >= 1


def test_fhir_search_matches_our_api(org: Any, bearer: Any) -> None:
    for i in range(3):
        make_patient(org, first=f"Bo{i}", last="Wombatley")
    c = bearer(org, ALL_READ)  # system/Patient.read stands for patients:read on our own API too
    ours = c.get("/api/v1/patients", params={"last": "Wombatley"})
    assert ours.status_code == 200, ours.text
    theirs = fhir(c.get("/fhir/R4/Patient", params={"family": "Wombatley"}))
    assert sorted(p["id"] for p in ours.json()) == sorted(e["resource"]["id"] for e in theirs["entry"])


def test_errors_are_operation_outcomes_naming_the_parameter(org: Any, bearer: Any, client: Any) -> None:
    c = bearer(org, ALL_READ)
    issue = outcome(c.get("/fhir/R4/Patient", params={"birthdate": "17/05/1980"}), 400)
    assert issue["expression"] == ["birthdate"]
    issue = outcome(c.get("/fhir/R4/Patient", params={"colour": "blue"}), 400)
    assert issue["expression"] == ["colour"]
    issue = outcome(c.get("/fhir/R4/Patient", params={"family": "X", "_count": "0"}), 400)
    assert issue["expression"] == ["_count"]
    issue = outcome(c.get("/fhir/R4/Appointment", params={"status": "pending"}), 400)
    assert issue["expression"] == ["status"]
    assert outcome(c.get("/fhir/R4/Patient/not-an-id"), 404)["code"] == "not-found"
    assert outcome(client.get("/fhir/R4/Patient/x"), 401)["code"] == "login"


def test_scope_is_enforced(org: Any, bearer: Any) -> None:
    pid = make_patient(org)
    c = bearer(org, ["system/Appointment.read"])
    issue = outcome(c.get(f"/fhir/R4/Patient/{pid}"), 403)
    assert "system/Patient.read" in issue["diagnostics"]


def test_another_organisations_objects_are_not_found(org: Any, other_org: Any, bearer: Any) -> None:
    w = make_world(org)
    pid = make_patient(org)
    from praxis.scheduling import service as scheduling

    day = future_weekday()
    appt = scheduling.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider_id,
                           location_id=org.loc_a.id, start_at=w.local(day, 10))
    theirs = bearer(other_org, ALL_READ)
    for path in (f"Patient/{pid}", f"Appointment/{appt.id}", f"Location/{org.loc_a.id}",
                 f"Practitioner/{w.provider_id}", f"Organization/{org.id}"):
        assert outcome(theirs.get(f"/fhir/R4/{path}"), 404)["code"] == "not-found", path
    assert "entry" not in fhir(theirs.get("/fhir/R4/Appointment", params={"patient": str(pid)}))
    assert [e["resource"]["id"] for e in fhir(theirs.get("/fhir/R4/Organization"))["entry"]] == [str(other_org.id)]


def test_location_scoped_token_sees_its_locations_only(org: Any, bearer: Any) -> None:
    w = make_world(org)
    pid = make_patient(org)
    from praxis.scheduling import service as scheduling

    day = future_weekday()
    a = scheduling.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider_id,
                        location_id=org.loc_a.id, start_at=w.local(day, 10))
    b = scheduling.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider2_id,
                        location_id=org.loc_b.id, start_at=w.local(day, 10, tz="America/Phoenix"))
    c = bearer(org, ALL_READ, location_ids=[org.loc_b.id])
    got = fhir(c.get("/fhir/R4/Appointment", params={"patient": f"Patient/{pid}"}))
    assert [e["resource"]["id"] for e in got["entry"]] == [str(b.id)]
    assert outcome(c.get(f"/fhir/R4/Appointment/{a.id}"), 404)["code"] == "not-found"
    locs = fhir(c.get("/fhir/R4/Location"))
    assert [e["resource"]["id"] for e in locs["entry"]] == [str(org.loc_b.id)]


def test_every_resource_kind_reads_and_searches_valid(org: Any, bearer: Any) -> None:
    from praxis.patients import coverage
    from praxis.patients.schemas import CoverageIn, PayerIn

    w = make_world(org)
    pid = make_patient(org)
    payer = coverage.create_payer(w.ctx, PayerIn(name="Acme Health", payer_code="ACME1"))
    cov = coverage.add_coverage(w.ctx, pid, CoverageIn(payer_id=payer.id, member_id="M123", group_number="G9"))
    from praxis.scheduling import service as scheduling

    day = future_weekday()
    appt = scheduling.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider_id,
                           location_id=org.loc_a.id, start_at=w.local(day, 11))
    c = bearer(org, ["system/*.read"])
    got = fhir(c.get(f"/fhir/R4/Appointment/{appt.id}"))
    assert got["meta"]["versionId"] == "1" and got["status"] == "booked"
    assert c.get(f"/fhir/R4/Appointment/{appt.id}").headers["ETag"] == 'W/"1"'
    fhir(c.get(f"/fhir/R4/Coverage/{cov.id}"))
    assert len(fhir(c.get("/fhir/R4/Coverage", params={"patient": str(pid)}))["entry"]) == 1
    fhir(c.get(f"/fhir/R4/Practitioner/{w.provider_id}"))
    assert len(fhir(c.get("/fhir/R4/Practitioner", params={"location": str(org.loc_b.id)}))["entry"]) == 2
    fhir(c.get(f"/fhir/R4/Location/{org.loc_a.id}"))
    fhir(c.get(f"/fhir/R4/Organization/{org.id}"))
    lo = day.isoformat()
    hi = (day + timedelta(days=1)).isoformat()
    by_date = fhir(c.get("/fhir/R4/Appointment", params=[("date", f"ge{lo}"), ("location", str(org.loc_a.id))]))
    assert str(appt.id) in [e["resource"]["id"] for e in by_date["entry"]]
    none = fhir(c.get("/fhir/R4/Appointment", params={"date": f"ge{hi}", "patient": str(pid)}))
    assert "entry" not in none
    cancelled = fhir(c.get("/fhir/R4/Appointment", params={"patient": str(pid), "status": "cancelled"}))
    assert "entry" not in cancelled
    assert date.fromisoformat(lo)


def test_appointment_search_includes_patient_and_practitioner(org: Any, bearer: Any) -> None:
    w = make_world(org)
    pid = make_patient(org, last="Includewell")
    from praxis.scheduling import service as scheduling

    day = future_weekday()
    for hour in (9, 10, 11):
        scheduling.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider_id,
                        location_id=org.loc_a.id, start_at=w.local(day, hour))
    c = bearer(org, ALL_READ)
    params = [("patient", str(pid)), ("_include", "Appointment:patient"), ("_include", "Appointment:practitioner"),
              ("_count", "2")]
    got = fhir(c.get("/fhir/R4/Appointment", params=params))
    modes = [(e["search"]["mode"], e["resource"]["resourceType"]) for e in got["entry"]]
    assert modes == [("match", "Appointment"), ("match", "Appointment"), ("include", "Patient"),
                     ("include", "Practitioner")]
    nxt = next(link["url"] for link in got["link"] if link["relation"] == "next")
    assert nxt.count("_include=") == 2
    page2 = fhir(c.get(nxt))
    assert [e["resource"]["resourceType"] for e in page2["entry"]] == ["Appointment", "Patient", "Practitioner"]
    bad = outcome(c.get("/fhir/R4/Appointment", params={"patient": str(pid), "_include": "Appointment:location"}), 400)
    assert bad["expression"] == ["_include"]
    cs = fhir(c.get("/fhir/R4/metadata"))
    appt = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Appointment")
    assert appt["searchInclude"] == ["Appointment:patient", "Appointment:practitioner"]

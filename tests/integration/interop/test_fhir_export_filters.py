"""FHIR bulk export: `_typeFilter` means what the facade's search with the same query means; its
errors; `_since` on the types added with it; tenancy of those types; batches stay bounded."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update

from praxis.intake import service as intake
from praxis.interop.fhir_search import schedule_id
from praxis.interop.models import FhirExportJob
from praxis.patients.models import Patient
from praxis.platform.clock import now
from praxis.platform.db import session_scope
from praxis.scheduling import service as scheduling
from praxis.scheduling import setup as scheduling_setup
from tests.integration.interop.support import outcome
from tests.integration.interop.test_fhir_export import ASYNC, EVERYTHING, _drain, _kickoff, _ndjson, _world
from tests.integration.scheduling.helpers import future_weekday, make_patient


def _export(c: Any, org: Any, path: str = "/fhir/R4/$export", **params: str) -> dict[str, list[dict[str, Any]]]:
    """Run an export to the end; its resources by type (every line validated against R4B)."""
    status = _kickoff(c, path, **params)
    _drain(org)
    done = c.get(status)
    assert done.status_code == 200, done.text
    out: dict[str, list[dict[str, Any]]] = {}
    for o in done.json()["output"]:
        out.setdefault(o["type"], []).extend(_ndjson(c, o["url"]))
    return out


def _ids(resources: dict[str, list[dict[str, Any]]], kind: str) -> set[str]:
    return {r["id"] for r in resources.get(kind, [])}


def _search(c: Any, kind: str, **params: str) -> set[str]:
    """Every id the facade's search answers, page after page."""
    found: set[str] = set()
    url: str | None = f"/fhir/R4/{kind}"
    query: dict[str, str] | None = {**params, "_count": "100"}
    while url:
        r = c.get(url, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        found |= {e["resource"]["id"] for e in body.get("entry", []) if e["search"]["mode"] == "match"}
        nxt = [link["url"] for link in body.get("link", []) if link["relation"] == "next"]
        if nxt:
            parts = urlsplit(nxt[0])
            url, query = f"{parts.path}?{parts.query}", None
        else:
            url = None
    return found


def _set_dob(pid: uuid.UUID, dob: date) -> None:
    with session_scope(None, system=True, reason="test: sets a date of birth") as s:
        s.execute(update(Patient).where(Patient.id == pid).values(dob=dob))


def test_each_filter_exports_exactly_what_the_same_search_returns(org: Any, bearer: Any) -> None:
    made = _world(org)
    w = made["world"]
    young = make_patient(org, first="Yael", last="Young")
    _set_dob(young, date(2003, 2, 1))
    porterfield = make_patient(org, first="Olga", last="Porterfield")  # a `family=Porter` prefix match
    gone = scheduling.book(w.ctx, patient_id=young, visit_type_id=w.visit_id, provider_id=w.provider2_id,
                           location_id=org.loc_b.id, start_at=w.local(future_weekday(), 11))
    scheduling.cancel(w.ctx, gone.id, reason="test")
    since_enc = (now() - timedelta(days=10)).date().isoformat()
    c = bearer(org, EVERYTHING)
    filters = ["Patient?birthdate=ge2000-01-01", "Patient?family=Porter", "Appointment?status=booked",
               f"Encounter?date=ge{since_enc}", "Claim?status=draft", "Coverage?status=active",
               "QuestionnaireResponse?status=in-progress", "Practitioner?name=Grace",
               f"PractitionerRole?location=Location/{org.loc_a.id}",
               f"Schedule?actor=Practitioner/{w.provider_id}", "Location?name=" + org.loc_b.name[:3]]
    got = _export(c, org, _typeFilter=",".join(filters))
    patients = [made["patient"], made["billing_patient"], young, porterfield]
    expected = {
        "Patient": _search(c, "Patient", birthdate="ge2000-01-01") | _search(c, "Patient", family="Porter"),
        "Appointment": _search(c, "Appointment", status="booked", date="ge2000-01-01"),
        "Encounter": _search(c, "Encounter", date=f"ge{since_enc}"),
        "Claim": _search(c, "Claim", status="draft"),
        "Coverage": set().union(*(_search(c, "Coverage", patient=str(p), status="active") for p in patients)),
        "QuestionnaireResponse": set().union(*(_search(c, "QuestionnaireResponse", patient=str(p),
                                                       status="in-progress") for p in patients)),
        "Practitioner": _search(c, "Practitioner", name="Grace"),
        "PractitionerRole": _search(c, "PractitionerRole", location=f"Location/{org.loc_a.id}"),
        "Schedule": _search(c, "Schedule", actor=f"Practitioner/{w.provider_id}"),
        "Location": _search(c, "Location", name=org.loc_b.name[:3]),
    }
    for kind, ids in expected.items():
        assert ids, kind  # each filter matches something, so equality below means something
        assert _ids(got, kind) == ids, kind
    # The filters did narrow: who and what they leave out is in the unfiltered export.
    assert _ids(got, "Patient") == {str(young), str(made["patient"]), str(porterfield)}
    assert str(gone.id) not in _ids(got, "Appointment") and made["appointment"] in _ids(got, "Appointment")
    assert _ids(got, "Practitioner") == {str(w.provider2_id)}
    assert _ids(got, "Schedule") == {schedule_id(w.provider_id, org.loc_a.id), schedule_id(w.provider_id, org.loc_b.id)}
    assert _ids(got, "Organization") == {str(org.id)}  # a type without a filter is whole


def test_filters_of_one_type_are_ored_and_a_type_outside_type_is_left_out(org: Any, bearer: Any) -> None:
    made = _world(org)
    c = bearer(org, EVERYTHING)
    got = _export(c, org, _type="Patient,Encounter",
                  _typeFilter="Patient?family=Porter,Patient?identifier=urn:praxis:mrn|NOPE")
    assert set(got) == {"Patient", "Encounter"}
    assert _ids(got, "Patient") == {str(made["patient"])} and _ids(got, "Encounter") == {made["encounter"]}
    # The same, with one filter per `_typeFilter` parameter (repeated).
    status = c.get("/fhir/R4/$export", params=[("_type", "Patient"), ("_typeFilter", "Patient?family=Porter"),
                                               ("_typeFilter", f"Patient?family={made['world'].org.id}")],
                   headers=ASYNC)
    assert status.status_code == 202, status.text
    _drain(org)
    [out] = c.get(status.headers["Content-Location"]).json()["output"]
    assert {r["id"] for r in _ndjson(c, out["url"])} == {str(made["patient"])}


def test_type_filter_errors_name_the_filter_and_parameter(org: Any, bearer: Any) -> None:
    c = bearer(org, EVERYTHING)
    cases = {
        "Patient?colour=blue": "'colour'",
        "Patient": "Type?search-parameters",
        "Patient?": "names no search parameter",
        "Patient?_count=5": "'_count'",
        "Appointment?status=sideways": "status 'sideways'",
        "Patient?birthdate=yesterday": "birthdate must be a day",
        "Encounter?patient=Patient/nope": "patient must be a Patient id",
        "Slot?status=free": "Slot is not exported",
        "Basic?x=1": "cannot be exported here",
    }
    for value, text in cases.items():
        issue = outcome(c.get("/fhir/R4/$export", params={"_typeFilter": value}, headers=ASYNC), 400)
        assert issue["expression"] == ["_typeFilter"] and text in issue["diagnostics"], (value, issue)
    left_out = outcome(c.get("/fhir/R4/$export", headers=ASYNC,
                             params={"_type": "Patient", "_typeFilter": "Appointment?status=booked"}), 400)
    assert "_type leaves out" in left_out["diagnostics"] and left_out["expression"] == ["_typeFilter"]
    compartment = outcome(c.get("/fhir/R4/Patient/$export", params={"_typeFilter": "Practitioner?name=Ada"},
                                headers=ASYNC), 400)
    assert "outside the Patient compartment" in compartment["diagnostics"]
    no_scope = outcome(bearer(org, ["system/Patient.read"]).get(
        "/fhir/R4/$export", params={"_typeFilter": "Claim?status=draft"}, headers=ASYNC), 403)
    assert "system/Claim.read" in no_scope["diagnostics"]
    with session_scope(org.id) as s:
        assert s.scalar(select(func.count()).select_from(FhirExportJob)) == 0  # nothing was queued


def test_patient_level_export_with_filters_and_the_new_compartment_type(org: Any, bearer: Any) -> None:
    made = _world(org)
    c = bearer(org, EVERYTHING)
    got = _export(c, org, "/fhir/R4/Patient/$export", _typeFilter="QuestionnaireResponse?status=in-progress")
    assert set(got) == {"Patient", "Coverage", "QuestionnaireResponse", "Appointment", "Encounter", "Claim"}
    assert made["submission"] in _ids(got, "QuestionnaireResponse")
    assert all(r["status"] == "in-progress" for r in got["QuestionnaireResponse"])


def test_since_applies_to_roles_schedules_practitioners_locations_and_intake(org: Any, bearer: Any) -> None:
    made = _world(org)
    w = made["world"]
    c = bearer(org, EVERYTHING)
    _drain(org)  # the booking's own intake is opened now, before `since`
    since = now()
    kinds = "Practitioner,PractitionerRole,Schedule,QuestionnaireResponse,Location"
    assert _export(c, org, _type=kinds, _since=since.isoformat()) == {}
    # Where a provider works changes its role and schedules (and the provider's change time);
    # new answers change the intake.
    scheduling_setup.update_provider(w.ctx, w.provider2_id, changes={}, location_ids=[org.loc_a.id, org.loc_b.id])
    intake.save_answers(w.ctx, uuid.UUID(made["submission"]), {"first_name": "Exa", "last_name": "Porter",
                                                               "dob": "1980-05-17", "phone": "(212) 555-0199"},
                        step=0)
    got = _export(c, org, _type=kinds, _since=since.isoformat())
    assert set(got) == {"Practitioner", "PractitionerRole", "Schedule", "QuestionnaireResponse"}
    assert _ids(got, "Practitioner") == _ids(got, "PractitionerRole") == {str(w.provider2_id)}
    assert {x["reference"] for x in got["PractitionerRole"][0]["location"]} == {f"Location/{org.loc_a.id}",
                                                                                 f"Location/{org.loc_b.id}"}
    assert _ids(got, "Schedule") == {schedule_id(w.provider2_id, org.loc_a.id),
                                     schedule_id(w.provider2_id, org.loc_b.id)}
    assert _ids(got, "QuestionnaireResponse") == {made["submission"]}


def test_another_organisations_new_types_are_never_exported(org: Any, other_org: Any, bearer: Any) -> None:
    mine, theirs = _world(org), _world(other_org)
    got = _export(bearer(org, EVERYTHING), org)
    exported = set().union(*(_ids(got, k) for k in got))
    their_ids = ({theirs["submission"], *theirs["providers"], *theirs["schedules"], *theirs["patients"],
                  theirs["appointment"], theirs["encounter"], theirs["claim"], str(other_org.id)})
    assert exported.isdisjoint(their_ids)
    assert mine["submission"] in _ids(got, "QuestionnaireResponse")
    assert _ids(got, "PractitionerRole") == mine["providers"] and _ids(got, "Schedule") == mine["schedules"]
    with_filters = _export(bearer(org, EVERYTHING), org, _typeFilter=f"Schedule?actor=Practitioner/"
                           f"{theirs['world'].provider_id},QuestionnaireResponse?patient={theirs['patient']}")
    assert "Schedule" not in with_filters and "QuestionnaireResponse" not in with_filters


def test_small_batches_and_files_give_the_same_export(org: Any, bearer: Any, monkeypatch: Any) -> None:
    from praxis.interop import export

    _world(org)
    c = bearer(org, EVERYTHING)
    params = {"_type": "Patient,Coverage,QuestionnaireResponse,PractitionerRole,Schedule",
              "_typeFilter": "Coverage?status=active,QuestionnaireResponse?status=in-progress,Patient?family=Porter"}
    whole = _export(c, org, **params)
    monkeypatch.setattr(export, "BATCH", 1)  # a filter tested in Python may empty a batch: reading goes on
    monkeypatch.setattr(export, "FILE_RESOURCES", 2)
    status = _kickoff(c, **params)
    _drain(org)
    output = c.get(status).json()["output"]
    assert all(o["count"] <= 2 for o in output)
    assert len([o for o in output if o["type"] == "Schedule"]) == -(-len(whole["Schedule"]) // 2) > 1
    for kind in whole:
        assert {r["id"] for o in output if o["type"] == kind for r in _ndjson(c, o["url"])} == _ids(whole, kind), kind


def test_the_capability_statement_says_what_export_holds_and_why_not_slot(client: Any) -> None:
    from tests.integration.interop.support import fhir

    cs = fhir(client.get("/fhir/R4/metadata"))
    [op] = cs["rest"][0]["operation"]
    assert "QuestionnaireResponse" in op["documentation"] and "_typeFilter" in op["documentation"]
    by_type = {r["type"]: r for r in cs["rest"][0]["resource"]}
    [patient_op] = by_type["Patient"]["operation"]
    assert "Practitioner," not in patient_op["documentation"] and "QuestionnaireResponse" in patient_op["documentation"]
    assert "not exported" in by_type["Slot"]["documentation"] and "documentation" not in by_type["Schedule"]

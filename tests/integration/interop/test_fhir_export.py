"""FHIR bulk export ($export): kick-off rules, the worker run, the manifest, NDJSON files that
validate, who may download, cancel, expiry, `_type`/`_since`, audit and tenancy."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import func, select, update

from praxis.billing import claims
from praxis.intake import builtin
from praxis.intake import service as intake
from praxis.intake.schemas import WorkflowIn
from praxis.interop.fhir_search import schedule_id
from praxis.interop.models import FhirExportFile, FhirExportJob
from praxis.platform import outbox
from praxis.platform.audit import AuditRecord
from praxis.platform.clock import now
from praxis.platform.db import session_scope
from praxis.platform.outbox import OutboxMessage
from praxis.scheduling import setup as scheduling_setup
from tests.integration.billing.helpers import make_billing_world
from tests.integration.interop.support import outcome
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world

ASYNC = {"Accept": "application/fhir+json", "Prefer": "respond-async"}
EVERYTHING = ["system/*.read"]


def _drain(org: Any) -> None:
    """Run this organisation's queued messages (others' are parked so only this test's run)."""
    with session_scope(None, system=True, reason="test: parks other tests' messages") as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.org_id != org.id, OutboxMessage.status == "pending")
                  .values(status="done"))
    while outbox.run_once():
        pass


def _world(org: Any) -> dict[str, Any]:
    """Two patients, one with an appointment and intake answers, one with an encounter and its
    claim; the providers of both worlds (their roles and schedules)."""
    from praxis.scheduling import service as scheduling

    w = make_world(org)
    pid = make_patient(org, first="Exa", last="Porter")
    appt = scheduling.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider_id,
                           location_id=org.loc_a.id, start_at=w.local(future_weekday(), 10))
    intake.create_workflow(w.ctx, WorkflowIn(name="Intake", location_id=None,
                                             definition=builtin.default_definition()))
    sub = intake.start_intake(w.ctx, pid, org.loc_a.id)
    intake.save_answers(w.ctx, sub.id, {"first_name": "Exa", "last_name": "Porter", "dob": "1980-05-17",
                                        "phone": "(212) 555-0123"}, step=0)
    b = make_billing_world(org)
    bpid, _ = b.patient()
    enc = b.encounter(bpid)
    [claim] = claims.build_claims(b.ctx, enc.id)
    providers = [p for p, _ in scheduling_setup.list_providers(w.ctx, active_only=False)]
    schedules = {schedule_id(p.id, loc) for p, locs in scheduling_setup.list_providers(w.ctx, active_only=False)
                 for loc in locs}
    return {"patients": {str(pid), str(bpid)}, "appointment": str(appt.id), "encounter": str(enc.id),
            "claim": str(claim.id), "submission": str(sub.id), "providers": {str(p.id) for p in providers},
            "schedules": schedules, "patient": pid, "billing_patient": bpid, "world": w}


def _kickoff(c: Any, path: str = "/fhir/R4/$export", **params: str) -> str:
    r = c.get(path, params=params, headers=ASYNC)
    assert r.status_code == 202, r.text
    return r.headers["Content-Location"]


def _ndjson(c: Any, url: str) -> list[dict[str, Any]]:
    r = c.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    for res in lines:
        get_fhir_model_class(res["resourceType"]).model_validate(res)
    return lines


def test_export_runs_in_the_worker_and_every_line_validates(org: Any, bearer: Any) -> None:
    made = _world(org)
    c = bearer(org, EVERYTHING)
    status = _kickoff(c, _outputFormat="application/fhir+ndjson")
    pending = c.get(status)
    assert pending.status_code == 202 and pending.headers["Retry-After"] and "X-Progress" in pending.headers
    _drain(org)
    done = c.get(status)
    assert done.status_code == 200, done.text
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert manifest["request"].endswith("$export?_outputFormat=application%2Ffhir%2Bndjson")
    assert manifest["transactionTime"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for out in manifest["output"]:
        lines = _ndjson(c, out["url"])
        assert len(lines) == out["count"] and {r["resourceType"] for r in lines} == {out["type"]}
        by_type.setdefault(out["type"], []).extend(lines)
    assert set(by_type) == {"Organization", "Location", "Practitioner", "PractitionerRole", "Schedule", "Patient",
                            "Coverage", "QuestionnaireResponse", "Appointment", "Encounter", "Claim"}
    assert {r["id"] for r in by_type["Patient"]} == made["patients"]
    assert [r["id"] for r in by_type["Appointment"]] == [made["appointment"]]
    assert [r["id"] for r in by_type["Encounter"]] == [made["encounter"]]
    assert [r["id"] for r in by_type["Claim"]] == [made["claim"]]
    # Every intake of the organisation (the booking's own intake, opened by the worker, too).
    subs = {str(s.id) for p in (made["patient"], made["billing_patient"])
            for s in intake.list_submissions(made["world"].ctx, p)}
    assert made["submission"] in subs and {r["id"] for r in by_type["QuestionnaireResponse"]} == subs
    assert {r["id"] for r in by_type["PractitionerRole"]} == made["providers"]
    assert {r["id"] for r in by_type["Schedule"]} == made["schedules"]
    # The same resources the read routes answer (one builder for both).
    for kind in ("PractitionerRole", "Schedule", "QuestionnaireResponse"):
        for res in by_type[kind]:
            assert c.get(f"/fhir/R4/{kind}/{res['id']}").json() == res
    with session_scope(None, system=True, reason="test: reads what the code under test wrote") as s:
        audited = s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.org_id == org.id, AuditRecord.action == "fhir.export"))
        downloads = s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.org_id == org.id, AuditRecord.action == "fhir.export_download"))
    patient_bearing = sum(len(by_type[t]) for t in ("Patient", "Coverage", "QuestionnaireResponse", "Appointment",
                                                    "Encounter", "Claim"))
    assert audited == patient_bearing and downloads == len(manifest["output"])


def test_kickoff_rules(org: Any, bearer: Any) -> None:
    c = bearer(org, ["system/Patient.read"])
    assert outcome(c.get("/fhir/R4/$export", headers={"Accept": "application/fhir+json"}), 400)["expression"] == [
        "Prefer"]
    assert outcome(c.get("/fhir/R4/$export", headers={"Prefer": "respond-async"}), 400)["expression"] == ["Accept"]
    bad = {"_outputFormat": "text/csv", "_since": "yesterday", "_type": "Basic", "_typeFilter": "Patient?x=1"}
    for key, value in bad.items():
        issue = outcome(c.get("/fhir/R4/$export", params={key: value}, headers=ASYNC), 400)
        assert issue["expression"] == [key], key
    issue = outcome(c.get("/fhir/R4/$export", params={"_type": "Patient,Claim"}, headers=ASYNC), 403)
    assert "system/Claim.read" in issue["diagnostics"]
    assert outcome(bearer(org, ["system/Patient.write"]).get("/fhir/R4/$export", headers=ASYNC), 403)
    every = bearer(org, EVERYTHING)
    slot = outcome(every.get("/fhir/R4/$export", params={"_type": "Patient,Slot"}, headers=ASYNC), 400)
    assert slot["expression"] == ["_type"] and "Slot is not exported" in slot["diagnostics"]
    # Patient/$export holds the Patient compartment only; asking for more is an error, not a silent drop.
    for kind in ("Practitioner", "PractitionerRole", "Schedule", "Location"):
        issue = outcome(every.get("/fhir/R4/Patient/$export", params={"_type": f"Patient,{kind}"}, headers=ASYNC), 400)
        assert "outside the Patient compartment" in issue["diagnostics"], kind
    with session_scope(org.id) as s:
        assert s.scalar(select(func.count()).select_from(FhirExportJob)) == 0  # nothing was queued


def test_type_since_and_patient_level(org: Any, bearer: Any) -> None:
    made = _world(org)
    c = bearer(org, EVERYTHING)
    only = _kickoff(c, _type="Patient")
    future = _kickoff(c, _type="Patient,Claim", _since=(now() + timedelta(days=1)).isoformat())
    patients = _kickoff(c, "/fhir/R4/Patient/$export")
    _drain(org)
    assert [o["type"] for o in c.get(only).json()["output"]] == ["Patient"]
    assert c.get(future).json()["output"] == []
    kinds = {o["type"] for o in c.get(patients).json()["output"]}
    assert kinds == {"Patient", "Coverage", "QuestionnaireResponse", "Appointment", "Encounter", "Claim"}
    ids = {r["id"] for o in c.get(patients).json()["output"] if o["type"] == "Patient" for r in _ndjson(c, o["url"])}
    assert ids == made["patients"]


def test_scopes_limit_the_types(org: Any, bearer: Any) -> None:
    _world(org)
    c = bearer(org, ["system/Patient.read", "system/Appointment.read"])
    status = _kickoff(c)
    _drain(org)
    # Scopes are aliases of permissions: Appointment.read is scheduling:read, which reads
    # Practitioners, their roles and schedules too; patients:read covers Coverage. No billing, no
    # locations, no intake answers.
    assert {o["type"] for o in c.get(status).json()["output"]} == {"Patient", "Coverage", "Appointment",
                                                                    "Practitioner", "PractitionerRole", "Schedule"}


def test_only_the_requesting_client_sees_the_job_and_files(org: Any, other_org: Any, bearer: Any) -> None:
    _world(org)
    c = bearer(org, EVERYTHING)
    status = _kickoff(c, _type="Patient")
    _drain(org)
    url = c.get(status).json()["output"][0]["url"]
    for other in (bearer(org, EVERYTHING), bearer(other_org, EVERYTHING)):  # same org another client; org B
        assert outcome(other.get(status), 404)["code"] == "not-found"
        assert outcome(other.get(url), 404)["code"] == "not-found"
        assert outcome(other.delete(status), 404)["code"] == "not-found"
    assert c.get(url).status_code == 200


def test_cancel_and_expiry(org: Any, bearer: Any) -> None:
    _world(org)
    c = bearer(org, EVERYTHING)
    cancelled = _kickoff(c, _type="Patient")
    assert c.delete(cancelled).status_code == 202
    assert outcome(c.get(cancelled), 404)["code"] == "not-found"
    kept = _kickoff(c, _type="Patient")
    _drain(org)
    with session_scope(org.id) as s:
        job_id = uuid.UUID(cancelled.rsplit("/", 1)[1])
        assert s.scalar(select(FhirExportJob.status).where(FhirExportJob.id == job_id)) == "cancelled"
    url = c.get(kept).json()["output"][0]["url"]
    with session_scope(org.id) as s:
        s.execute(update(FhirExportJob).where(FhirExportJob.id == uuid.UUID(kept.rsplit("/", 1)[1]))
                  .values(expires_at=now() - timedelta(seconds=1)))
    assert outcome(c.get(kept), 404)["code"] == "not-found"
    assert outcome(c.get(url), 404)["code"] == "not-found"
    from praxis.interop import export

    export.purge_expired()
    with session_scope(org.id) as s:
        assert s.scalar(select(func.count()).select_from(FhirExportFile)) == 0


def test_files_are_encrypted_at_rest(org: Any, bearer: Any) -> None:
    _world(org)
    c = bearer(org, EVERYTHING)
    status = _kickoff(c, _type="Patient")
    _drain(org)
    assert c.get(status).status_code == 200
    with session_scope(org.id) as s:
        stored = s.scalars(select(FhirExportFile.content)).all()
    assert stored and all(x.startswith("v1:") and "Porter" not in x for x in stored)


def test_a_failed_export_answers_an_operation_outcome(org: Any, bearer: Any, monkeypatch: Any) -> None:
    from praxis.interop import export

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("disk on fire")
        yield  # pragma: no cover

    monkeypatch.setattr(export, "_source", broken)
    c = bearer(org, EVERYTHING)
    status = _kickoff(c, _type="Patient")
    _drain(org)
    r = c.get(status)
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/fhir+json")
    issue = r.json()["issue"][0]
    assert issue["severity"] == "fatal" and "RuntimeError" in issue["diagnostics"]
    assert "disk on fire" not in issue["diagnostics"]  # internals stay in the log


def test_a_location_bound_token_exports_its_locations_only(org: Any, bearer: Any) -> None:
    made = _world(org)  # the appointment and the encounter are at loc_a
    c = bearer(org, EVERYTHING, location_ids=[org.loc_b.id])
    status = _kickoff(c, _type="Appointment,Encounter,Claim,Location")
    _drain(org)
    out = c.get(status).json()["output"]
    assert {o["type"] for o in out} == {"Location"}
    assert [r["id"] for r in _ndjson(c, out[0]["url"])] == [str(org.loc_b.id)]
    assert made["appointment"]

"""FHIR QuestionnaireResponse over intake submissions."""

from __future__ import annotations

from typing import Any

from praxis.intake import builtin, service
from praxis.intake.schemas import WorkflowIn
from praxis.platform.context import system_context
from tests.integration.interop.support import fhir, outcome
from tests.integration.scheduling.helpers import make_patient


def test_intake_answers_read_and_search(org: Any, other_org: Any, bearer: Any) -> None:
    ctx = system_context(org.id, "test")
    service.create_workflow(ctx, WorkflowIn(name="Intake", location_id=None, definition=builtin.default_definition()))
    pid = make_patient(org)
    sub = service.start_intake(ctx, pid, org.loc_a.id)
    service.save_answers(ctx, sub.id, {"first_name": "Quinn", "last_name": "Answers", "dob": "1980-05-17",
                                       "phone": "(212) 555-0123"}, step=0)
    c = bearer(org, ["system/QuestionnaireResponse.read", "system/Patient.read"])
    qr = fhir(c.get(f"/fhir/R4/QuestionnaireResponse/{sub.id}"))
    assert qr["status"] == "in-progress" and qr["subject"] == {"reference": f"Patient/{pid}"}
    answered = {i["linkId"]: i["answer"] for i in qr["item"]}
    assert answered["first_name"] == [{"valueString": "Quinn"}]
    found = fhir(c.get("/fhir/R4/QuestionnaireResponse", params={"patient": f"Patient/{pid}"}))
    assert [e["resource"]["id"] for e in found["entry"]] == [str(sub.id)]
    assert "entry" not in fhir(c.get("/fhir/R4/QuestionnaireResponse", params={"patient": str(pid),
                                                                              "status": "completed"}))
    assert outcome(c.get("/fhir/R4/QuestionnaireResponse"), 400)["expression"] == ["patient"]
    theirs = bearer(other_org, ["system/QuestionnaireResponse.read", "system/Patient.read"])
    assert outcome(theirs.get(f"/fhir/R4/QuestionnaireResponse/{sub.id}"), 404)["code"] == "not-found"
    no_scope = bearer(org, ["system/Patient.read"])
    assert "system/QuestionnaireResponse.read" in outcome(
        no_scope.get(f"/fhir/R4/QuestionnaireResponse/{sub.id}"), 403)["diagnostics"]

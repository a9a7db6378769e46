"""Care plans: every save is a new immutable version; complex CCM needs the plan established or
substantially revised in the month (from the versions, not from a time entry); the audit packet."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from praxis.care import careplan, closing, months, rules, service, timing
from praxis.care.schemas import CarePlanIn, GoalIn, InterventionIn, TeamMemberIn
from praxis.platform import clock
from praxis.platform.errors import Conflict, ValidationProblem

from .helpers import enrol, make_world, new_patient, next_month_tenth


def _log(ctx, e, minutes: int, day: int = 2, note: str = "reviewed glucose log") -> None:
    n = clock.now()
    timing.add_entry(ctx, e.id, activity="coordination", started_at=datetime(n.year, n.month, day, 15, tzinfo=UTC),
                     minutes=minutes, note=note)


@pytest.fixture
def world(org, make_user, ctx_for):
    next_month_tenth()
    w = make_world(org)
    coord_user = make_user(org, "care_coordinator", org.loc_a)
    coord = ctx_for(coord_user)
    pid = new_patient(w.ctx, org.loc_a.id)
    e = enrol(w, pid, "ccm", start=date(2025, 1, 1), complex=True)
    return w, coord, coord_user, pid, e


def _plan(pid, ctx, **kw) -> CarePlanIn:
    problems = service.list_problems(ctx, pid)
    return CarePlanIn(problem_ids=[p.id for p in problems],
                      goals=[GoalIn(description="Keep glucose in range", measure="HbA1c", target="below 7%",
                                    target_date=date(2027, 6, 30))],
                      interventions=[InterventionIn(description="Weekly call", responsible="Cora Coordinator")],
                      team=[TeamMemberIn(name="Cora Coordinator", role="care coordinator")],
                      review_on=date(2027, 3, 1), **kw)


def test_complex_ccm_needs_the_plan_established_or_substantially_revised_in_the_month(world):
    _w, coord, _u, pid, e = world
    month = months.month_of(clock.now().date())
    _log(coord, e, 65)
    (row,) = closing.billing_preview(coord, month, patient_id=pid)
    # 65 staff minutes, complex, no plan this month: non-complex CCM, and the preview says why.
    assert row.result.codes == {"99490": 1, "99439": 2}
    assert rules.NO_CARE_PLAN_REVISION in row.result.reasons

    v1 = careplan.save_plan(coord, e.id, _plan(pid, coord))
    assert (v1.version, v1.substantial_revision, v1.revision_reason) == (1, True, careplan.ESTABLISHED)
    (row,) = closing.billing_preview(coord, month, patient_id=pid)
    assert row.result.codes == {"99487": 1} and rules.NO_CARE_PLAN_REVISION not in row.result.reasons

    # Next month: a routine update is not a substantial revision.
    next_month_tenth()
    month2 = months.month_of(clock.now().date())
    _log(coord, e, 61)
    v2 = careplan.save_plan(coord, e.id, _plan(pid, coord, summary="dose changed", based_on_version=1))
    assert (v2.version, v2.substantial_revision) == (2, False)
    (row,) = closing.billing_preview(coord, month2, patient_id=pid)
    assert row.result.codes == {"99490": 1, "99439": 2} and rules.NO_CARE_PLAN_REVISION in row.result.reasons
    with pytest.raises(ValidationProblem) as bad:
        careplan.save_plan(coord, e.id, _plan(pid, coord, substantial_revision=True))
    assert bad.value.field == "revision_reason"
    v3 = careplan.save_plan(coord, e.id, _plan(pid, coord, substantial_revision=True,
                                                revision_reason="new diagnosis of CKD stage 3"))
    (row,) = closing.billing_preview(coord, month2, patient_id=pid)
    assert row.result.codes == {"99487": 1}
    # The earlier month still reads v1's establishment.
    (row,) = closing.billing_preview(coord, month, patient_id=pid)
    assert row.result.codes == {"99487": 1}

    versions = careplan.list_versions(coord, e.id)
    assert [v.version for v in versions] == [3, 2, 1]
    assert careplan.get_version(coord, v1.id).content.get("summary") == ""  # v1 unchanged by later saves
    assert v3.author_name and v3.created_at is not None


def test_stale_save_and_foreign_problem_are_refused_changing_nothing(world, org):
    w, coord, _u, pid, e = world
    careplan.save_plan(coord, e.id, _plan(pid, coord))
    with pytest.raises(Conflict):
        careplan.save_plan(coord, e.id, _plan(pid, coord, based_on_version=0))
    other = new_patient(w.ctx, org.loc_a.id)
    foreign = service.list_problems(coord, other)[0].id
    with pytest.raises(ValidationProblem) as bad:
        careplan.save_plan(coord, e.id, CarePlanIn(problem_ids=[foreign]))
    assert bad.value.field == "problem_ids[0]"
    assert [v.version for v in careplan.list_versions(coord, e.id)] == [1]


def test_care_plan_api_permissions_and_versions(world, org, make_user, login):
    _w, _coord, coord_user, pid, e = world
    coord = login(coord_user)
    problems = coord.get(f"/api/v1/care/patients/{pid}/problems").json()
    body = {"problem_ids": [problems[0]["id"]], "goals": [{"description": "Walk daily", "target_date": "2027-01-31"}],
            "interventions": [{"description": "Diet review", "responsible": "Dee Dietitian"}],
            "team": [{"name": "Dee Dietitian", "role": "dietitian"}], "review_on": "2027-02-01"}
    r = coord.post(f"/api/v1/care/enrolments/{e.id}/care-plan", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["content"]["problems"][0]["icd10"] == problems[0]["icd10"]
    r2 = coord.post(f"/api/v1/care/enrolments/{e.id}/care-plan", json={**body, "based_on_version": 0})
    assert r2.status_code == 409 and "care-plan-stale" in r2.text
    bad = coord.post(f"/api/v1/care/enrolments/{e.id}/care-plan", json={**body, "goals": [{"description": ""}]})
    assert bad.status_code == 422 and "goals" in bad.text
    listed = coord.get(f"/api/v1/care/enrolments/{e.id}/care-plan/versions").json()
    assert [v["version"] for v in listed] == [1]
    one = coord.get(f"/api/v1/care/care-plan-versions/{listed[0]['id']}")
    assert one.status_code == 200 and one.json()["content"]["goals"][0]["description"] == "Walk daily"

    desk = login(make_user(org, "front_desk", org.loc_a))
    assert desk.post(f"/api/v1/care/enrolments/{e.id}/care-plan", json=body).status_code == 403
    doc = login(make_user(org, "provider", org.loc_a))  # practitioners write plans too
    assert doc.post(f"/api/v1/care/enrolments/{e.id}/care-plan", json=body).status_code == 201
    elsewhere = login(make_user(org, "care_coordinator", org.loc_b))
    assert elsewhere.get(f"/api/v1/care/care-plan-versions/{listed[0]['id']}").status_code == 404


def test_audit_packet_pdf_holds_consent_plan_entries_and_approval(world, org, make_user, login, ctx_for):
    _w, coord, coord_user, pid, e = world
    month = months.month_of(clock.now().date())
    careplan.save_plan(coord, e.id, _plan(pid, coord, summary="Diabetes and COPD plan"))
    _log(coord, e, 40, day=2, note="Called patient about insulin")
    _log(coord, e, 25, day=3, note="Spoke to pharmacy re inhaler")
    next_month_tenth()
    doc_user = make_user(org, "provider", org.loc_a)
    (approved,) = closing.approve_month(ctx_for(doc_user), month)
    assert approved.codes == {"99487": 1}

    client = login(coord_user)
    r = client.get(f"/api/v1/care/patients/{pid}/audit-packet", params={"month": month})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
    body = r.content
    assert body.startswith(b"%PDF")
    for text in ("Called patient about insulin", "Spoke to pharmacy re inhaler", "40 min", "25 min",
                 "coordination", "Verbal consent", "Version 1", "care plan established", "Keep glucose in range",
                 "99487 x1", "Test Provider", "Test Care Coordinator"):
        assert text.encode() in body, text
    # Another month without an enrolment's data still prints (no entries), an unknown month is 422.
    assert client.get(f"/api/v1/care/patients/{pid}/audit-packet", params={"month": "2025-13"}).status_code == 422
    elsewhere = login(make_user(org, "care_coordinator", org.loc_b))
    assert elsewhere.get(f"/api/v1/care/patients/{pid}/audit-packet",
                         params={"month": month}).status_code == 404

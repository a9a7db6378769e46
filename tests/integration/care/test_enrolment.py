"""Problem list, eligibility, consent and enrolment rules (care-management-rules.md, section 1)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from praxis.care import service
from praxis.care.schemas import EnrolmentIn
from praxis.platform.errors import Conflict, NotFound, ValidationProblem

from .helpers import consent, enrol, make_world, new_patient


def test_ccm_needs_two_chronic_conditions(org):
    w = make_world(org)
    one = new_patient(w.ctx, org.loc_a.id, chronic=1)
    with pytest.raises(ValidationProblem) as exc:
        enrol(w, one, "ccm")
    assert exc.value.field == "program" and "two or more chronic" in exc.value.detail
    assert service.list_enrolments(w.ctx, patient_id=one) == []
    two = new_patient(w.ctx, org.loc_a.id, chronic=2)
    e = enrol(w, two, "ccm")
    assert e.program == "ccm" and e.end_date is None


def test_pcm_needs_a_high_risk_condition(org):
    w = make_world(org)
    plain = new_patient(w.ctx, org.loc_a.id, chronic=1)
    with pytest.raises(ValidationProblem):
        enrol(w, plain, "pcm")
    risky = new_patient(w.ctx, org.loc_a.id, chronic=1, high_risk=True)
    assert enrol(w, risky, "pcm").program == "pcm"


def test_consent_is_captured_once_per_practitioner(org):
    w = make_world(org)
    pid = new_patient(w.ctx, org.loc_a.id, chronic=2, high_risk=True)
    with pytest.raises(ValidationProblem) as exc:
        enrol(w, pid, "ccm", with_consent=False)
    assert exc.value.field == "consent"
    first = enrol(w, pid, "ccm")
    # Same practitioner, another programme: the consent is reused, none asked for.
    rpm = enrol(w, pid, "rpm", with_consent=False)
    assert rpm.consent_id == first.consent_id
    # Another billing practitioner: a new consent is needed.
    with pytest.raises(ValidationProblem) as exc:
        enrol(w, pid, "pcm", provider_id=w.provider2_id, with_consent=False)
    assert exc.value.field == "consent"
    other = enrol(w, pid, "pcm", provider_id=w.provider2_id)
    assert other.consent_id != first.consent_id


def test_consent_must_cover_every_element(org):
    w = make_world(org)
    pid = new_patient(w.ctx, org.loc_a.id)
    bad = consent().model_copy(update={"told_one_practitioner": False})
    start = date(2025, 1, 1)
    with pytest.raises(ValidationProblem) as exc:
        service.enrol(w.ctx, EnrolmentIn(patient_id=pid, provider_id=w.provider_id, location_id=org.loc_a.id,
                                         program="ccm", start_date=start, initiating_visit_on=start,
                                         initiating_visit_kind="awv", consent=bad))
    assert exc.value.field == "consent.told_one_practitioner"
    assert service.get_consent(w.ctx, pid, w.provider_id) is None


def test_initiating_visit_within_twelve_months(org):
    w = make_world(org)
    pid = new_patient(w.ctx, org.loc_a.id)
    start = date(2025, 6, 1)
    data = dict(patient_id=pid, provider_id=w.provider_id, location_id=org.loc_a.id, program="ccm",
                start_date=start, initiating_visit_kind="em", consent=consent())
    with pytest.raises(ValidationProblem) as exc:
        service.enrol(w.ctx, EnrolmentIn(**data, initiating_visit_on=start - timedelta(days=366)))
    assert exc.value.field == "initiating_visit_on"
    with pytest.raises(ValidationProblem):
        service.enrol(w.ctx, EnrolmentIn(**data, initiating_visit_on=start + timedelta(days=1)))
    assert service.enrol(w.ctx, EnrolmentIn(**data, initiating_visit_on=start - timedelta(days=365)))


def test_one_ccm_practitioner_and_disenrolment_at_month_end(org):
    w = make_world(org)
    pid = new_patient(w.ctx, org.loc_a.id)
    e = enrol(w, pid, "ccm", start=date(2025, 1, 1))
    with pytest.raises(Conflict):
        enrol(w, pid, "ccm", provider_id=w.provider2_id, start=date(2025, 3, 1))
    ended = service.disenrol(w.ctx, e.id, reason="moving", requested_on=date(2025, 3, 10))
    assert ended.end_date == date(2025, 3, 31)
    with pytest.raises(Conflict):  # still CCM with the first practitioner in March
        enrol(w, pid, "ccm", provider_id=w.provider2_id, start=date(2025, 3, 15))
    assert enrol(w, pid, "ccm", provider_id=w.provider2_id, start=date(2025, 4, 1)).start_date == date(2025, 4, 1)


def test_provider_must_work_at_the_location_and_other_org_is_404(org, other_org):
    w = make_world(org)
    pid = new_patient(w.ctx, org.loc_a.id)
    w2 = make_world(other_org)
    with pytest.raises(NotFound):
        enrol(w, pid, "ccm", provider_id=w2.provider_id)
    with pytest.raises(NotFound):
        enrol(w2, pid, "ccm")
    e = enrol(w, pid, "ccm")
    with pytest.raises(NotFound):
        service.get_enrolment(w2.ctx, e.id)


def test_coordinator_outside_location_sees_nothing(org, make_user, ctx_for):
    w = make_world(org)
    pid = new_patient(w.ctx, org.loc_a.id)
    e = enrol(w, pid, "ccm")
    coord_b = ctx_for(make_user(org, "care_coordinator", org.loc_b))
    with pytest.raises(NotFound):
        service.get_enrolment(coord_b, e.id)
    assert service.list_enrolments(coord_b) == []
    coord_a = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    assert [x.id for x in service.list_enrolments(coord_a)] == [e.id]


def test_eligibility_worklist(org):
    w = make_world(org)
    eligible = new_patient(w.ctx, org.loc_a.id, chronic=2)
    enrolled = new_patient(w.ctx, org.loc_a.id, chronic=2)
    enrol(w, enrolled, "ccm")
    new_patient(w.ctx, org.loc_a.id, chronic=1)
    rows = {r.patient_id: r for r in service.eligibility_worklist(w.ctx)}
    assert eligible in rows and rows[eligible].programs == ["ccm", "rpm"]
    assert enrolled not in rows

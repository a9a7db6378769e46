"""Approving a care month creates its billing encounter exactly once (issue 16 item 7)."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select

from praxis.billing import charges, reference
from praxis.billing.codes import npi_with_check_digit
from praxis.billing.models import Encounter
from praxis.billing.schemas import BillingProfileIn, FeeItemIn, FeeScheduleIn
from praxis.care import closing, timing
from praxis.platform.uow import unit_of_work

from .helpers import at, enrol, make_world, new_patient

MONTH = "2025-05"


def _npi() -> str:
    return npi_with_check_digit("1" + "".join(str(secrets.randbelow(10)) for _ in range(8)))


def _billing(w, *, profile: bool = True) -> None:
    if profile:
        reference.set_billing_profile(w.ctx, w.org.loc_a.id, BillingProfileIn(
            name="Alpha Clinics Midtown", npi=_npi(), tax_id="12-3456789", taxonomy_code="261QP2300X",
            address_line1="100 Broadway", city="New York", state="NY", postal_code="100051234", phone="2125550100"))
    reference.create_fee_schedule(w.ctx, FeeScheduleIn(
        name="Care", effective_from=date(2020, 1, 1),
        items=[FeeItemIn(code="99490", charge_cents=6400), FeeItemIn(code="99439", charge_cents=4800)]))


def _ccm(w, coord, minutes=(20, 25)):
    pid = new_patient(w.ctx, w.org.loc_a.id, chronic=3)
    e = enrol(w, pid, "ccm", start=date(2025, 1, 1))
    for day, m in enumerate(minutes, start=3):
        timing.add_entry(coord, e.id, activity="coordination", started_at=at(2025, 5, day), minutes=m)
    return e


def _encounters(w, enrolment_id):
    with unit_of_work(w.ctx) as session:
        return list(session.scalars(select(Encounter).where(Encounter.external_source == "care",
                                                            Encounter.external_id == f"care:{enrolment_id}:{MONTH}")))


def test_approval_creates_one_encounter_once(org, make_user, ctx_for):
    w = make_world(org)
    _billing(w)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    doc = ctx_for(make_user(org, "provider", org.loc_a))
    e = _ccm(w, coord)

    (cm,) = closing.approve_month(doc, MONTH)
    assert cm.codes == {"99490": 1, "99439": 1}
    assert cm.charges_created and cm.charge_problem == "" and cm.charge_encounter_id is not None
    (enc,) = _encounters(w, e.id)
    assert enc.id == cm.charge_encounter_id
    out = charges.get_encounter(w.ctx, enc.id)
    assert out.patient_id == e.patient_id and out.location_id == org.loc_a.id
    assert out.rendering_provider_id == w.provider_id
    assert out.date_of_service == date(2025, 5, 31)  # the service period ends at month end
    assert out.diagnoses == ["E119", "I10", "J449"]  # billing keeps ICD-10 without the dot
    assert [(ln.code, ln.units, ln.charge_cents, ln.dx_pointers) for ln in out.lines] == [
        ("99439", 1, 4800, [1, 2, 3]), ("99490", 1, 6400, [1, 2, 3])]

    assert closing.approve_month(doc, MONTH) == []
    assert len(_encounters(w, e.id)) == 1
    (again,) = closing.list_approved(doc, MONTH)
    assert again.charges_created and again.charge_encounter_id == enc.id


def test_missing_billing_profile_approves_and_says_why(org, make_user, ctx_for):
    w = make_world(org)
    _billing(w, profile=False)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    doc = ctx_for(make_user(org, "provider", org.loc_a))
    e = _ccm(w, coord)

    (cm,) = closing.approve_month(doc, MONTH)
    assert not cm.charges_created and cm.charge_encounter_id is None
    assert "billing profile" in cm.charge_problem
    assert _encounters(w, e.id) == []

    # Once the profile exists, approving again charges the month already approved (once).
    _billing(w)
    assert closing.approve_month(doc, MONTH) == []
    (cm,) = closing.list_approved(doc, MONTH)
    assert cm.charges_created and cm.charge_problem == ""
    assert len(_encounters(w, e.id)) == 1


def test_missing_fee_is_reported_not_raised(org, make_user, ctx_for):
    w = make_world(org)
    _billing(w)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    doc = ctx_for(make_user(org, "provider", org.loc_a))
    pid = new_patient(w.ctx, org.loc_a.id, chronic=2, high_risk=True)
    e = enrol(w, pid, "pcm", start=date(2025, 1, 1))
    timing.add_entry(coord, e.id, activity="coordination", started_at=at(2025, 5, 3), minutes=31)

    (cm,) = closing.approve_month(doc, MONTH)
    assert cm.codes == {"99426": 1} and not cm.charges_created
    assert "99426" in cm.charge_problem and "fee" in cm.charge_problem.lower()
    assert _encounters(w, e.id) == []


def test_api_and_screen_report_the_charge(org, make_user, ctx_for, login):
    w = make_world(org)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    _ccm(w, coord)
    doc = login(make_user(org, "provider", org.loc_a))
    r = doc.post("/api/v1/care/months/approve", json={"month": MONTH})
    assert r.status_code == 200, r.text
    (m,) = r.json()
    assert m["charges_created"] is False and m["charge_encounter_id"] is None
    assert "billing profile" in m["charge_problem"]
    page = doc.get("/care/month", params={"month": MONTH})
    assert page.status_code == 200 and "No charge: No billing profile" in page.text

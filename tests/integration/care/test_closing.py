"""A month built through the services, previewed, approved once; edits after approval."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from praxis.care import closing, rpm, rules, timing
from praxis.care.rpm import ReadingIn
from praxis.platform.errors import ValidationProblem

from .helpers import at, enrol, make_world, new_patient

MONTH = "2025-05"


@pytest.fixture
def month(org, make_user, ctx_for):
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    w = make_world(org)
    enrolments = {}
    for hour, (name, program, minutes) in enumerate((("over", "ccm", [20, 25]), ("short", "ccm", [8, 9]),
                                                      ("pcm", "pcm", [31])), start=13):
        pid = new_patient(w.ctx, org.loc_a.id, chronic=2, high_risk=True)
        e = enrol(w, pid, program, start=date(2025, 1, 1))
        for day, m in enumerate(minutes, start=3):
            timing.add_entry(coord, e.id, activity="coordination", started_at=at(2025, 5, day, hour), minutes=m)
        enrolments[name] = e
    return w, coord, enrolments


def test_preview_codes_minutes_and_reasons(month):
    _w, coord, es = month
    rows = {r.enrolment.id: r for r in closing.billing_preview(coord, MONTH)}
    assert rows[es["over"].id].result.codes == {"99490": 1, "99439": 1}
    short = rows[es["short"].id].result
    assert short.codes == {} and short.minutes_to_next == 3 and rules.BELOW_THRESHOLD in short.reasons
    assert rows[es["pcm"].id].result.codes == {"99426": 1}
    worklist = closing.worklist(coord, MONTH)
    assert worklist[0].enrolment.id == es["short"].id  # still needs minutes: first
    assert worklist[0].days_left == 0  # May 2025 is over


def test_approving_twice_creates_once_and_late_edits_are_flagged(month, make_user, ctx_for):
    w, coord, es = month
    doc = ctx_for(make_user(w.org, "provider", w.org.loc_a))
    first = closing.approve_month(doc, MONTH)
    assert sorted(m.codes.get("99490", 0) for m in first) == [0, 1]
    assert {m.enrolment_id for m in first} == {es["over"].id, es["pcm"].id}  # "short" bills nothing
    assert closing.approve_month(doc, MONTH) == []
    assert len(closing.list_approved(coord, MONTH)) == 2

    (entry, _) = timing.list_entries(coord, es["over"].id, MONTH)
    with pytest.raises(ValidationProblem) as exc:
        timing.edit_entry(coord, entry.id, {"minutes": 5})
    assert exc.value.field == "reason"
    edited = timing.edit_entry(coord, entry.id, {"minutes": 5}, reason="double-logged call")
    assert edited.edited_after_billing and edited.edit_reason == "double-logged call"
    with pytest.raises(ValidationProblem):
        timing.add_entry(coord, es["over"].id, activity="coordination", started_at=at(2025, 5, 20), minutes=5)
    late = timing.add_entry(coord, es["over"].id, activity="coordination", started_at=at(2025, 5, 20), minutes=5,
                            reason="found on paper")
    assert late.edited_after_billing
    # The approved month keeps its codes; the preview shows what the minutes now say.
    (row,) = closing.billing_preview(coord, MONTH, patient_id=es["over"].patient_id)
    assert row.approved and row.result.codes == {"99490": 1}


def test_month_not_over_cannot_be_approved(org, make_user, ctx_for):
    w = make_world(org)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    e = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm")
    from praxis.platform.clock import now

    timing.add_entry(coord, e.id, activity="coordination", started_at=now() - timedelta(minutes=40), minutes=25)
    this_month = now().strftime("%Y-%m")
    if now().day == 1 and now().hour < 5:
        pytest.skip("the entry may fall in last month in New York")
    with pytest.raises(ValidationProblem) as exc:
        closing.approve_month(w.ctx, this_month)
    assert exc.value.field == "month"


def test_ccm_and_pcm_same_practitioner_blocks_both(org, make_user, ctx_for):
    w = make_world(org)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    pid = new_patient(w.ctx, org.loc_a.id, chronic=2, high_risk=True)
    ccm, pcm = enrol(w, pid, "ccm", start=date(2025, 1, 1)), enrol(w, pid, "pcm", start=date(2025, 1, 1))
    timing.add_entry(coord, ccm.id, activity="coordination", started_at=at(2025, 5, 2), minutes=25)
    timing.add_entry(coord, pcm.id, activity="coordination", started_at=at(2025, 5, 3), minutes=35)
    rows = closing.billing_preview(coord, MONTH, patient_id=pid)
    assert {r.result.error for r in rows} == {rules.CCM_PCM_SAME_PRACTITIONER}
    assert closing.approve_month(w.ctx, MONTH) == []


def test_rpm_month_with_device_days(org, make_user, ctx_for):
    w = make_world(org)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    e = enrol(w, new_patient(w.ctx, org.loc_a.id, chronic=1), "rpm", start=date(2025, 4, 10))
    # Period 2025-04-10..05-09 ends in May: 18 days of data.
    rpm.post_readings(w.ctx, [ReadingIn(reading_id=f"bp{i}", enrolment_id=e.id, measured_at=at(2025, 4, 12 + i))
                              for i in range(18)])
    timing.add_entry(coord, e.id, activity="device_review", started_at=at(2025, 5, 5), minutes=25, interactive=True)
    (row,) = closing.billing_preview(coord, MONTH, patient_id=e.patient_id)
    assert row.result.codes == {"99454": 1, "99453": 1, "99457": 1}
    closing.approve_month(w.ctx, MONTH)
    # June: the next period (05-10..06-08) has no data; set-up is not billed again.
    timing.add_entry(coord, e.id, activity="device_review", started_at=at(2025, 6, 5), minutes=21, interactive=True)
    (june,) = closing.billing_preview(coord, "2025-06", patient_id=e.patient_id)
    assert june.result.codes == {"99457": 1} and rules.TOO_FEW_DATA_DAYS in june.result.reasons


def test_other_location_and_org_see_nothing(month, other_org, make_user, ctx_for):
    w, _coord, _es = month
    coord_b = ctx_for(make_user(w.org, "care_coordinator", w.org.loc_b))
    assert closing.billing_preview(coord_b, MONTH) == []
    assert closing.billing_preview(ctx_for(make_user(other_org, "org_admin")), MONTH) == []


def test_settings_change_the_engine(month, make_user, ctx_for):
    w, coord, _es = month
    admin = ctx_for(make_user(w.org, "org_admin"))
    assert closing.get_settings(coord).pool_practitioner_minutes is True
    closing.update_settings(admin, short_window_minutes=3)
    with pytest.raises(ValidationProblem):
        closing.update_settings(admin, rpm_setup_min_days=1)
    assert closing.get_settings(coord).short_window_minutes == 3


def test_approval_naming_foreign_objects_is_404(month, other_org):
    from praxis.platform.errors import NotFound

    w, _coord, _es = month
    w2 = make_world(other_org)
    e2 = enrol(w2, new_patient(w2.ctx, other_org.loc_a.id), "ccm", start=date(2025, 1, 1))
    for kwargs in ({"location_id": other_org.loc_a.id}, {"provider_id": w2.provider_id},
                   {"enrolment_ids": [e2.id]}):
        with pytest.raises(NotFound):
            closing.approve_month(w.ctx, MONTH, **kwargs)
    assert closing.list_approved(w.ctx, MONTH) == []

"""The set-based path of the month (WHOLE_MONTH_FROM): reading the whole month's facts and
filtering here gives the same preview and review as the per-id queries, and never leaks another
location's or organisation's minutes into a scoped actor's rows."""

from __future__ import annotations

from datetime import date

from praxis.care import closing, review, timing

from .helpers import at, enrol, make_world, new_patient


def _snapshot(ctx, month):
    rows = closing.billing_preview(ctx, month)
    r = review.month_review(ctx, month)
    return (sorted((str(x.enrolment.id), x.result.codes, x.result.minutes_to_next, x.result.reasons) for x in rows),
            sorted((g.key, g.minutes, len(g.reached), len(g.close), len(g.miss)) for g in r.coordinators))


def test_whole_month_path_matches_the_per_id_path(org, other_org, make_user, ctx_for, monkeypatch):
    w, w2 = make_world(org), make_world(other_org)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    coord_b = ctx_for(make_user(org, "care_coordinator", org.loc_b))
    other = ctx_for(make_user(other_org, "care_coordinator", other_org.loc_a))
    for i, minutes in enumerate((25, 17, 45)):
        e = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm", start=date(2025, 1, 1))
        timing.add_entry(coord, e.id, activity="coordination", started_at=at(2025, 5, 5 + i), minutes=minutes)
    eb = enrol(w, new_patient(w.ctx, org.loc_b.id), "ccm", location_id=org.loc_b.id, start=date(2025, 1, 1))
    timing.add_entry(coord_b, eb.id, activity="coordination", started_at=at(2025, 5, 9), minutes=30)
    eo = enrol(w2, new_patient(w2.ctx, other_org.loc_a.id), "ccm", start=date(2025, 1, 1))
    timing.add_entry(other, eo.id, activity="coordination", started_at=at(2025, 5, 9), minutes=50)

    per_id = _snapshot(coord, "2025-05")
    monkeypatch.setattr(closing, "WHOLE_MONTH_FROM", 0)
    assert _snapshot(coord, "2025-05") == per_id
    assert len(per_id[0]) == 3 and str(eb.id) not in str(per_id) and str(eo.id) not in str(per_id)


def test_a_consent_obtained_after_the_month_bills_nothing_on_both_paths(org, make_user, ctx_for, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from praxis.care import rules, service
    from praxis.care.schemas import EnrolmentIn

    from .helpers import consent

    w = make_world(org)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    late = service.enrol(w.ctx, EnrolmentIn(
        patient_id=new_patient(w.ctx, org.loc_a.id), provider_id=w.provider_id, location_id=org.loc_a.id,
        program="ccm", start_date=date(2025, 1, 1), initiating_visit_on=date(2025, 1, 1) - timedelta(days=5),
        initiating_visit_kind="em", consent=consent(datetime(2025, 6, 1, 0, 30, tzinfo=UTC))))
    timing.add_entry(coord, late.id, activity="coordination", started_at=at(2025, 5, 5), minutes=25)
    timing.add_entry(coord, late.id, activity="coordination", started_at=at(2025, 6, 5), minutes=25)
    for threshold in (2000, 0):
        monkeypatch.setattr(closing, "WHOLE_MONTH_FROM", threshold)
        (may,) = closing.billing_preview(coord, "2025-05")
        (june,) = closing.billing_preview(coord, "2025-06")
        assert may.result.codes == {} and rules.NO_CONSENT in may.result.reasons
        assert june.result.codes == {"99490": 1}

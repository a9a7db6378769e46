"""Care rows follow a patient merge (wiring.MERGE_REFERENCES)."""

from __future__ import annotations

from datetime import date

from praxis.care import closing, service, timing
from praxis.patients import merge

from .helpers import at, enrol, make_world, new_patient


def test_enrolment_entries_and_problems_follow_the_survivor(org, make_user, ctx_for):
    w = make_world(org)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    keep = new_patient(w.ctx, org.loc_a.id, chronic=0)
    dupe = new_patient(w.ctx, org.loc_a.id, chronic=2)
    e = enrol(w, dupe, "ccm", start=date(2025, 1, 1))
    timing.add_entry(coord, e.id, activity="coordination", started_at=at(2025, 5, 2), minutes=21)
    merge.merge_patients(w.ctx, keep, dupe, "same person")
    assert [x.id for x in service.list_enrolments(w.ctx, patient_id=keep)] == [e.id]
    assert len(service.list_problems(w.ctx, keep)) == 2
    (row,) = closing.billing_preview(w.ctx, "2025-05", patient_id=keep)
    assert row.result.codes == {"99490": 1}
    (entry,) = timing.list_entries(coord, e.id, "2025-05")
    assert entry.patient_id == keep

"""The month-end review per coordinator and per practitioner (issue 16 item 7): who reached a
code, who is close and by how many minutes, who will miss - over the API and on /care/month."""

from __future__ import annotations

from datetime import date

from praxis.care import timing

from .helpers import at, enrol, make_world, new_patient

MONTH = "2025-05"


def test_review_per_coordinator_and_practitioner(org, make_user, login, ctx_for):
    w = make_world(org)
    ann_user, bob_user = make_user(org, "care_coordinator", org.loc_a), make_user(org, "care_coordinator", org.loc_a)
    ann, bob = ctx_for(ann_user), ctx_for(bob_user)
    over = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm", start=date(2025, 1, 1))
    short = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm", start=date(2025, 1, 1))
    miss = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm", provider_id=w.provider2_id, start=date(2025, 1, 1))
    timing.add_entry(ann, over.id, activity="coordination", started_at=at(2025, 5, 5, 13), minutes=21)
    timing.add_entry(bob, over.id, activity="coordination", started_at=at(2025, 5, 6, 13), minutes=4)
    timing.add_entry(bob, short.id, activity="patient_call", started_at=at(2025, 5, 7, 13), minutes=17)  # 3 short
    timing.add_entry(ann, miss.id, activity="coordination", started_at=at(2025, 5, 8, 13), minutes=2)  # 18 short

    r = login(ann_user).get("/api/v1/care/month-review", params={"month": MONTH})
    assert r.status_code == 200, r.text
    body = r.json()
    coords = {g["key"]: g for g in body["coordinators"]}
    a, b = coords[str(ann_user.user_id)], coords[str(bob_user.user_id)]
    # "over" belongs to Ann (21 of its 25 minutes); Bob's close call is 3 minutes short of 99490.
    assert [i["enrolment_id"] for i in a["reached"]] == [str(over.id)] and a["minutes"] == 23
    assert [(i["enrolment_id"], i["minutes_to_next"], i["next_code"]) for i in b["close"]] == [
        (str(short.id), 3, "99490")]
    assert b["reached"] == [] and b["minutes"] == 21
    assert [(i["enrolment_id"], i["minutes_to_next"]) for i in a["miss"]] == [(str(miss.id), 18)]
    pracs = {g["key"]: g for g in body["practitioners"]}
    p1, p2 = pracs[str(w.provider_id)], pracs[str(w.provider2_id)]
    assert (len(p1["reached"]), len(p1["close"]), len(p1["miss"])) == (1, 1, 0)
    assert (len(p2["reached"]), len(p2["close"]), len(p2["miss"])) == (0, 0, 1) and p2["minutes"] == 2

    doc = login(make_user(org, "provider", org.loc_a))
    page = doc.get("/care/month", params={"month": MONTH})
    assert page.status_code == 200
    assert 'id="review-practitioners"' in page.text and 'id="review-coordinators"' in page.text
    assert "3 min to 99490" in page.text and "18 min to 99490" in page.text


def test_review_refuses_a_bad_month_and_hides_other_locations(org, make_user, login):
    w = make_world(org)
    enrol(w, new_patient(w.ctx, org.loc_b.id), "ccm", location_id=org.loc_b.id, start=date(2025, 1, 1))
    c = login(make_user(org, "care_coordinator", org.loc_a))
    assert c.get("/api/v1/care/month-review", params={"month": "2025-13"}).status_code == 422
    body = c.get("/api/v1/care/month-review", params={"month": MONTH}).json()
    assert body["practitioners"] == [] and body["coordinators"] == []

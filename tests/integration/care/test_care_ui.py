"""The care screens over HTTP: worklist, htmx timer, month-end approval."""

from __future__ import annotations

from datetime import date, timedelta

from praxis.care import timing
from praxis.platform import clock

from .helpers import at, enrol, make_world, new_patient


def test_worklist_timer_and_month_close(org, make_user, login, ctx_for):
    w = make_world(org)
    coord_user = make_user(org, "care_coordinator", org.loc_a)
    coord = login(coord_user)
    e = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm", start=date(2025, 1, 1))
    page = coord.get("/care")
    assert page.status_code == 200 and "Start timer" in page.text and str(e.id) in page.text

    r = coord.post(f"/care/enrolments/{e.id}/timer", data={"activity": "patient_call"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "running" in r.text and 'id="care-timers"' in r.text
    again = coord.post(f"/care/enrolments/{e.id}/timer", data={"activity": "patient_call"},
                       headers={"HX-Request": "true"})
    assert "already have a running care timer" in again.text
    clock.advance(timedelta(minutes=4))
    reload = coord.get("/care")  # the timer is on the server: a reload shows it
    assert "Stop and log" in reload.text and "running" in reload.text
    (timer,) = timing.my_timers(ctx_for(coord_user))
    stop = coord.post(f"/care/timers/{timer.id}/stop", data={"note": "called"}, headers={"HX-Request": "true"})
    assert stop.status_code == 200 and "No timer running" in stop.text
    month = clock.now().strftime("%Y-%m")
    (entry,) = timing.list_entries(ctx_for(coord_user), e.id, month)
    assert entry.minutes == 4

    timing.add_entry(ctx_for(coord_user), e.id, activity="coordination", started_at=at(2025, 5, 6), minutes=22)
    doc = login(make_user(org, "provider", org.loc_a))
    review = doc.get("/care/month", params={"month": "2025-05"})
    assert review.status_code == 200 and "99490×1" in review.text
    done = doc.post("/care/month/approve", data={"month": "2025-05"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("approved=1")
    assert coord.get("/care/month").status_code == 403

"""The care API end to end: a month built without the screens, previewed and approved."""

from __future__ import annotations

from datetime import timedelta

from praxis.platform import clock

from .helpers import make_world, new_patient


def _enrol(c, w, pid, start="2025-01-01"):
    r = c.post("/api/v1/care/enrolments", json={
        "patient_id": str(pid), "provider_id": str(w.provider_id), "location_id": str(w.org.loc_a.id),
        "program": "ccm", "start_date": start, "initiating_visit_on": start, "initiating_visit_kind": "awv",
        "consent": {"method": "written", "obtained_at": f"{start}T00:00:00Z", "told_availability": True,
                    "told_cost_sharing": True, "told_stop_month_end": True, "told_one_practitioner": True}})
    assert r.status_code == 201, r.text
    return r.json()


def test_month_through_the_api(org, make_user, login, bearer):
    w = make_world(org)
    coord = login(make_user(org, "care_coordinator", org.loc_a))
    pid = new_patient(w.ctx, org.loc_a.id, chronic=0)
    for code in ("E11.9", "I50.22"):
        r = coord.post(f"/api/v1/care/patients/{pid}/problems", json={"icd10": code, "expected_months": 24})
        assert r.status_code == 201, r.text
    bad = coord.post(f"/api/v1/care/patients/{pid}/problems", json={"icd10": "hello"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert "icd10" in bad.text
    e = _enrol(coord, w, pid)

    for i, minutes in enumerate((12, 10)):
        r = coord.post(f"/api/v1/care/enrolments/{e['id']}/entries", json={
            "activity": "coordination", "started_at": f"2025-05-0{i + 2}T15:00:00Z", "minutes": minutes,
            "note": "called pharmacy"})
        assert r.status_code == 201, r.text
    (row,) = coord.get("/api/v1/care/billing-preview", params={"month": "2025-05"}).json()
    assert row["codes"] == {"99490": 1} and row["minutes"]["billed"] == 20 and row["minutes_to_next"] == 18
    bad = coord.get("/api/v1/care/billing-preview", params={"month": "2025-13"})
    assert bad.status_code == 422 and bad.json()["field"].endswith("month")

    doc = login(make_user(org, "provider", org.loc_a))
    approved = doc.post("/api/v1/care/months/approve", json={"month": "2025-05"})
    assert approved.status_code == 200 and [m["codes"] for m in approved.json()] == [{"99490": 1}]
    assert doc.post("/api/v1/care/months/approve", json={"month": "2025-05"}).json() == []
    assert coord.post("/api/v1/care/months/approve", json={"month": "2025-05"}).status_code == 403

    entry_id = coord.get(f"/api/v1/care/enrolments/{e['id']}/entries", params={"month": "2025-05"}).json()[0]["id"]
    r = coord.patch(f"/api/v1/care/time-entries/{entry_id}", json={"minutes": 3})
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = coord.patch(f"/api/v1/care/time-entries/{entry_id}", json={"minutes": 3, "reason": "typo"})
    assert r.status_code == 200 and r.json()["edited_after_billing"] is True


def test_timer_over_http(org, make_user, login):
    w = make_world(org)
    coord = login(make_user(org, "care_coordinator", org.loc_a))
    e = _enrol(coord, w, new_patient(w.ctx, org.loc_a.id), start=(clock.now() - timedelta(days=40)).date().isoformat())
    r = coord.post(f"/api/v1/care/enrolments/{e['id']}/timer", json={"activity": "patient_call", "interactive": True})
    assert r.status_code == 201, r.text
    timer = r.json()
    again = coord.post(f"/api/v1/care/enrolments/{e['id']}/timer", json={"activity": "patient_call"})
    assert again.status_code == 409 and again.json()["type"].endswith("care-timer-running")
    for _ in range(3):  # 21 minutes, with the session kept alive (idle timeout 15 minutes)
        clock.advance(timedelta(minutes=7))
        assert coord.get("/api/v1/care/timers").status_code == 200
    got = coord.get("/api/v1/care/timers")
    assert got.status_code == 200, got.text
    (listed,) = got.json()
    assert listed["running"] and listed["elapsed_seconds"] >= 21 * 60
    stopped = coord.post(f"/api/v1/care/timers/{timer['id']}/stop", json={"note": "med review"})
    assert stopped.status_code == 200 and stopped.json()["minutes"] == 21 and stopped.json()["interactive"]


def test_device_vendor_posts_readings_once(org, bearer, make_user, login):
    w = make_world(org)
    coord = login(make_user(org, "care_coordinator", org.loc_a))
    pid = new_patient(w.ctx, org.loc_a.id, chronic=1)
    r = coord.post("/api/v1/care/enrolments", json={
        "patient_id": str(pid), "provider_id": str(w.provider_id), "location_id": str(org.loc_a.id),
        "program": "rpm", "start_date": "2025-03-01", "initiating_visit_on": "2025-02-15",
        "initiating_visit_kind": "em",
        "consent": {"method": "verbal", "obtained_at": "2025-02-15T15:00:00Z", "told_availability": True,
                    "told_cost_sharing": True, "told_stop_month_end": True, "told_one_practitioner": True}})
    assert r.status_code == 201, r.text
    vendor = bearer(org, ["care:device"])
    body = {"readings": [{"reading_id": f"v-{i}", "enrolment_id": r.json()["id"],
                          "measured_at": f"2025-03-{i + 1:02d}T12:00:00Z", "kind": "bp",
                          "value": {"systolic": 130, "diastolic": 85}} for i in range(17)]}
    first = vendor.post("/api/v1/care/rpm/readings", json=body)
    assert first.status_code == 200 and first.json() == {"accepted": 17, "duplicates": 0}
    assert vendor.post("/api/v1/care/rpm/readings", json=body).json() == {"accepted": 0, "duplicates": 17}
    (row,) = coord.get("/api/v1/care/billing-preview", params={"month": "2025-03", "patient_id": str(pid)}).json()
    assert row["codes"] == {"99454": 1, "99453": 1}
    assert vendor.get("/api/v1/care/billing-preview", params={"month": "2025-03"}).status_code == 403

"""The patient's care page, the enrolment with consent, the care-plan editor and the packet link
over HTTP (the browser test covers the timer; axe covers the markup)."""

from __future__ import annotations

from datetime import date

from praxis.care import careplan, service, timing
from praxis.platform import clock

from .helpers import enrol, make_world, new_patient, next_month_tenth


def _enrol_form(w, **over):
    form = {"program": "ccm", "provider_id": str(w.provider_id), "location_id": str(w.org.loc_a.id),
            "start_date": clock.now().date().isoformat(), "initiating_visit_on": clock.now().date().isoformat(),
            "initiating_visit_kind": "em", "consent_method": "verbal", "consent_obtained_by": "Cora Coordinator",
            "consent_obtained_at": clock.now().strftime("%Y-%m-%dT00:00"), "told_availability": "on",
            "told_cost_sharing": "on", "told_stop_month_end": "on", "told_one_practitioner": "on"}
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_enrol_with_consent_through_the_screen(org, make_user, login, ctx_for):
    next_month_tenth()
    w = make_world(org)
    coord_user = make_user(org, "care_coordinator", org.loc_a)
    coord = login(coord_user)
    pid = new_patient(w.ctx, org.loc_a.id)
    page = coord.get(f"/care/patients/{pid}/enrol")
    assert page.status_code == 200 and "The patient was told" in page.text

    # One of the four statements left unticked: 422 naming it, nothing enrolled.
    bad = coord.post(f"/care/patients/{pid}/enrol", data=_enrol_form(w, told_cost_sharing=None))
    assert bad.status_code == 422 and "told_cost_sharing" in bad.text
    assert service.list_enrolments(ctx_for(coord_user), patient_id=pid) == []

    ok = coord.post(f"/care/patients/{pid}/enrol", data=_enrol_form(w), follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith(f"/care/patients/{pid}")
    (_e,) = service.list_enrolments(ctx_for(coord_user), patient_id=pid)
    consent = service.get_consent(ctx_for(coord_user), pid, w.provider_id)
    assert consent is not None and consent.method == "verbal" and consent.obtained_by_name == "Cora Coordinator"
    care = coord.get(f"/care/patients/{pid}")
    assert care.status_code == 200 and "Consent: verbal, obtained by Cora Coordinator" in care.text
    assert "No care plan yet" in care.text and "min to 99490" in care.text and "Audit packet" in care.text
    desk = login(make_user(org, "front_desk", org.loc_a))
    assert desk.get(f"/care/patients/{pid}/enrol").status_code == 403


def test_care_page_manual_entry_and_plan_editor(org, make_user, login, ctx_for):
    next_month_tenth()
    w = make_world(org)
    coord_user = make_user(org, "care_coordinator", org.loc_a)
    coord = login(coord_user)
    pid = new_patient(w.ctx, org.loc_a.id)
    e = enrol(w, pid, "ccm", start=date(2025, 1, 1), complex=True)
    month = clock.now().strftime("%Y-%m")

    started = clock.now().strftime("%Y-%m-%dT00:05")
    r = coord.post(f"/care/enrolments/{e.id}/entries", data={"started_at": started, "minutes": "17",
                                                             "activity": "patient_call", "interactive": "on",
                                                             "note": "Reviewed blood pressure log"},
                   follow_redirects=False)
    assert r.status_code == 303, r.text
    (entry,) = timing.list_entries(ctx_for(coord_user), e.id, month)
    assert (entry.minutes, entry.interactive, entry.activity) == (17, True, "patient_call")
    bad = coord.post(f"/care/enrolments/{e.id}/entries", data={"started_at": started, "minutes": "0",
                                                               "activity": "patient_call"})
    assert bad.status_code == 422 and "minutes" in bad.text
    page = coord.get(f"/care/patients/{pid}")
    assert "Reviewed blood pressure log" in page.text and "3 min to 99490" in page.text
    assert 'class="staff-minutes">17 min' in page.text

    problems = service.list_problems(ctx_for(coord_user), pid)
    editor = coord.get(f"/care/enrolments/{e.id}/care-plan")
    assert editor.status_code == 200 and "the first save establishes it" in editor.text
    form = {"problem_ids": [str(problems[0].id)], "goal-0-description": "Blood pressure under control",
            "goal-0-measure": "BP", "goal-0-target": "below 140/90", "goal-0-target_date": "2027-06-30",
            "intervention-0-description": "Weekly call", "intervention-0-responsible": "Cora",
            "team-0-name": "Cora Coordinator", "team-0-role": "care coordinator", "review_on": "2027-03-01",
            "based_on_version": "0"}
    saved = coord.post(f"/care/enrolments/{e.id}/care-plan", data=form, follow_redirects=False)
    assert saved.status_code == 303 and "version+1" in saved.headers["location"]
    # A second save from the stale form is refused, not silently overwriting version 1.
    stale = coord.post(f"/care/enrolments/{e.id}/care-plan", data=form)
    assert stale.status_code == 409 and "saved by someone else" in stale.text
    revised = coord.post(f"/care/enrolments/{e.id}/care-plan",
                         data={**form, "based_on_version": "1", "substantial_revision": "on"})
    assert revised.status_code == 422 and "needs a reason" in revised.text
    revised = coord.post(f"/care/enrolments/{e.id}/care-plan", follow_redirects=False,
                         data={**form, "based_on_version": "1", "substantial_revision": "on",
                               "revision_reason": "stroke last week", "goal-1-description": "Walk 20 minutes"})
    assert revised.status_code == 303
    v2, v1 = careplan.list_versions(ctx_for(coord_user), e.id)
    assert [g["description"] for g in v2.content["goals"]] == ["Blood pressure under control", "Walk 20 minutes"]
    assert [g["description"] for g in v1.content["goals"]] == ["Blood pressure under control"]
    old = coord.get(f"/care/care-plan-versions/{v1.id}")
    assert old.status_code == 200 and "You are reading version 1 of 2" in old.text
    page = coord.get(f"/care/patients/{pid}")
    assert "Care plan version 2" in page.text

    pdf = coord.get(f"/care/patients/{pid}/audit-packet.pdf", params={"month": month})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and b"Reviewed blood pressure log" in pdf.content
    assert b"stroke last week" in pdf.content
    # Linked from the worklist and the patient page.
    assert f"/care/patients/{pid}" in coord.get("/care").text
    assert f"/care/patients/{pid}" in coord.get(f"/patients/{pid}").text

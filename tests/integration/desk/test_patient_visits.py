"""The patient page's visits and waitlist panel (issue 13, items 2 and 7): book link, cancel with a
reason, reschedule, no-show, waitlist add/remove and offers. Each action: permission, audit,
404 for another patient's or organisation's object, bad input as a message in the panel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from praxis.platform import clock
from praxis.platform.audit import AuditRecord
from praxis.platform.clock import now
from praxis.platform.db import session_scope
from praxis.scheduling import service, waitlist
from praxis.scheduling.models import Appointment, WaitlistEntry
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world, signed_in

HX = {"HX-Request": "true", "Accept": "text/html"}
HTML = {"Accept": "text/html"}


def _audit(org_id: Any, actor_id: Any, action: str) -> list[AuditRecord]:
    with session_scope(org_id) as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.actor_id == actor_id,
                                                        AuditRecord.action == action)))


def _appt(org_id: Any, aid: Any) -> Appointment:
    with session_scope(org_id) as s:
        a = s.scalars(select(Appointment).where(Appointment.id == aid)).one()
        s.expunge(a)
        return a


@pytest.fixture
def world(org):
    return make_world(org)


@pytest.fixture
def desk(org, make_user, login):
    user = make_user(org, "front_desk", org.loc_a)
    return user, signed_in(login, user)


def _book(w: Any, pid: Any, days: int = 7, hour: int = 10) -> Appointment:
    return service.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider_id,
                        location_id=w.org.loc_a.id, start_at=w.local(future_weekday(days), hour))


def test_panel_lists_upcoming_and_past_visits_with_the_actions_allowed_now(org, world, desk):
    _, c = desk
    pid = make_patient(org)
    soon = _book(world, pid)
    gone = _book(world, pid, days=8)
    service.cancel(world.ctx, gone.id, reason="Patient ill")
    r = c.get(f"/desk/patients/{pid}/visits", headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert f'href="/scheduling/book?patient_id={pid}"' in r.text
    upcoming = r.text.split('id="upcoming-visits"')[1].split("</table>")[0]
    assert f'id="visit-{soon.id}"' in upcoming and "Follow-up" in upcoming
    assert "Cancel this visit" in upcoming and "Reschedule" in upcoming
    assert "No-show" not in upcoming  # not before the start time
    past = r.text.split('id="past-visits"')[1]
    assert f'id="visit-{gone.id}"' in past and "Patient ill" in past
    # The whole page links the panel; without htmx the panel is a page of its own.
    page = c.get(f"/desk/patients/{pid}/visits", headers=HTML)
    assert page.status_code == 200 and "<html" in page.text and "Back to the patient" in page.text


def test_cancel_needs_a_reason_and_is_audited(org, world, desk):
    user, c = desk
    pid = make_patient(org)
    appt = _book(world, pid)
    r = c.post(f"/desk/patients/{pid}/visits/{appt.id}/cancel", headers=HX, data={"reason": "  "})
    assert r.status_code == 422 and "A cancellation reason is required" in r.text
    assert _appt(org.id, appt.id).status == "booked"
    r = c.post(f"/desk/patients/{pid}/visits/{appt.id}/cancel", headers=HX, data={"reason": "Patient request"})
    assert r.status_code == 200 and "Visit cancelled." in r.text
    a = _appt(org.id, appt.id)
    assert (a.status, a.cancel_reason) == ("cancelled", "Patient request")
    [rec] = _audit(org.id, user.user_id, "appointment.cancel")
    assert rec.patient_id == pid and rec.detail == {"reason": "Patient request"}
    again = c.post(f"/desk/patients/{pid}/visits/{appt.id}/cancel", headers=HTML, data={"reason": "x"})
    assert again.status_code == 409 and "Cannot cancel an appointment that is cancelled" in again.text


def test_actions_on_another_patients_or_orgs_visit_are_404(org, other_org, world, desk, make_user, login):
    _, c = desk
    pid, other = make_patient(org), make_patient(org)
    theirs = _book(world, other)
    for path, data in (("cancel", {"reason": "x"}), ("no-show", {}), ("reschedule", {"slot": "a|b|c"})):
        assert c.post(f"/desk/patients/{pid}/visits/{theirs.id}/{path}", headers=HX, data=data).status_code == 404
    assert c.get(f"/desk/patients/{pid}/visits/{theirs.id}/reschedule", headers=HTML).status_code == 404
    assert _appt(org.id, theirs.id).status == "booked"
    outsider = signed_in(login, make_user(other_org, "org_admin"))
    assert outsider.get(f"/desk/patients/{other}/visits", headers=HX).status_code == 404
    assert outsider.post(f"/desk/patients/{other}/visits/{theirs.id}/cancel", headers=HX,
                         data={"reason": "x"}).status_code == 404
    assert _appt(org.id, theirs.id).status == "booked"
    provider = signed_in(login, make_user(org, "provider"))  # reads the schedule, books nothing
    assert provider.get(f"/desk/patients/{other}/visits", headers=HX).status_code == 200
    assert provider.post(f"/desk/patients/{other}/visits/{theirs.id}/cancel", headers=HX,
                         data={"reason": "x"}).status_code == 403


def test_no_show_only_after_the_start_time(org, world, desk, login):
    user, c = desk
    pid = make_patient(org)
    appt = _book(world, pid, days=2)
    early = c.post(f"/desk/patients/{pid}/visits/{appt.id}/no-show", headers=HX)
    assert early.status_code == 409 and "before" in early.text.lower()
    clock.advance(appt.start_at + timedelta(minutes=20) - now())
    c = signed_in(login, user)  # the first session timed out while the clock moved on
    panel = c.get(f"/desk/patients/{pid}/visits", headers=HX)
    assert "No-show" in panel.text.split(f'id="visit-{appt.id}"')[1].split("</tr>")[0]
    r = c.post(f"/desk/patients/{pid}/visits/{appt.id}/no-show", headers=HX)
    assert r.status_code == 200 and "marked as a no-show" in r.text
    assert _appt(org.id, appt.id).status == "no_show"
    assert len(_audit(org.id, user.user_id, "appointment.no_show")) == 1


def test_reschedule_lists_open_times_and_moves_the_visit(org, world, desk):
    user, c = desk
    pid = make_patient(org)
    appt = _book(world, pid)
    page = c.get(f"/desk/patients/{pid}/visits/{appt.id}/reschedule", headers=HTML)
    assert page.status_code == 200 and 'name="slot"' in page.text
    bad_day = c.get(f"/desk/patients/{pid}/visits/{appt.id}/reschedule?from_date=31/12/2026", headers=HTML)
    assert bad_day.status_code == 422 and "is not a date" in bad_day.text
    bad = c.post(f"/desk/patients/{pid}/visits/{appt.id}/reschedule", headers=HTML, data={"slot": "nonsense"})
    assert bad.status_code == 422 and "Choose one of the open times" in bad.text
    target = world.local(future_weekday(9), 14)
    slot = f"{world.provider_id}|{org.loc_a.id}|{target.isoformat()}"
    r = c.post(f"/desk/patients/{pid}/visits/{appt.id}/reschedule", headers=HTML, data={"slot": slot},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/patients/{pid}#visits"
    assert _appt(org.id, appt.id).start_at == target
    [rec] = _audit(org.id, user.user_id, "appointment.reschedule")
    assert rec.patient_id == pid
    # A time that is taken comes back as a message on the same page.
    other = _book(world, make_patient(org), days=10, hour=11)
    taken = f"{world.provider_id}|{org.loc_a.id}|{other.start_at.isoformat()}"
    clash = c.post(f"/desk/patients/{pid}/visits/{appt.id}/reschedule", headers=HTML, data={"slot": taken})
    assert clash.status_code == 409 and 'id="reschedule-error"' in clash.text
    assert _appt(org.id, appt.id).start_at == target


def test_waitlist_from_the_patient_page_add_see_offer_book_remove(org, world, desk):
    user, c = desk
    pid = make_patient(org)
    r = c.post(f"/desk/patients/{pid}/waitlist", headers=HX, data={
        "visit_type_id": str(world.visit_id), "location_id": str(org.loc_a.id), "priority": "12"})
    assert r.status_code == 422 and "priority must be 0" in r.text
    r = c.post(f"/desk/patients/{pid}/waitlist", headers=HX, data={
        "visit_type_id": str(world.visit_id), "earliest_date": "tomorrow"})
    assert r.status_code == 422 and "use a date like" in r.text
    with session_scope(org.id) as s:
        assert s.scalars(select(WaitlistEntry).where(WaitlistEntry.patient_id == pid)).all() == []
    r = c.post(f"/desk/patients/{pid}/waitlist", headers=HX, data={
        "visit_type_id": str(world.visit_id), "location_id": str(org.loc_a.id), "priority": "5",
        "time_of_day": "morning", "notes": "Wants an earlier knee check"})
    assert r.status_code == 200 and "Added to the waitlist." in r.text and "Wants an earlier knee check" in r.text
    [entry] = [e for e in waitlist.list_entries(world.ctx) if e.patient_id == pid]
    assert len(_audit(org.id, user.user_id, "waitlist.add")) == 1

    # A morning slot comes free: the offer shows on the patient's page and books from there.
    start = world.local(future_weekday(3), 10)
    offer = waitlist.offer_slot(org.id, {"start_at": start.isoformat(),
                                         "end_at": (start + timedelta(minutes=30)).isoformat(),
                                         "provider_id": str(world.provider_id), "location_id": str(org.loc_a.id),
                                         "visit_type_id": str(world.visit_id)})
    assert offer is not None and offer.entry_id == entry.id
    panel = c.get(f"/desk/patients/{pid}/visits", headers=HX)
    assert "Book it" in panel.text and "open" in panel.text
    r = c.post(f"/desk/patients/{pid}/waitlist/offers/{offer.id}/accept", headers=HX)
    assert r.status_code == 200 and "Offer accepted" in r.text
    upcoming = r.text.split('id="upcoming-visits"')[1].split("</table>")[0]
    assert start.strftime("%m/%d/%Y %H:%M") in upcoming

    second = c.post(f"/desk/patients/{pid}/waitlist", headers=HX, data={"visit_type_id": str(world.visit_id)})
    assert second.status_code == 200
    [e2] = [e for e in waitlist.list_entries(world.ctx) if e.patient_id == pid]
    r = c.post(f"/desk/patients/{pid}/waitlist/{e2.id}/remove", headers=HX)
    assert r.status_code == 200 and "Removed from the waitlist." in r.text
    assert len(_audit(org.id, user.user_id, "waitlist.remove")) == 1


def test_waitlist_actions_on_another_patients_entry_are_404(org, other_org, world, desk, make_user, login):
    _, c = desk
    pid, other = make_patient(org), make_patient(org)
    theirs = waitlist.add_entry(world.ctx, patient_id=other, visit_type_id=world.visit_id,
                                location_id=org.loc_a.id, priority=9)
    assert c.post(f"/desk/patients/{pid}/waitlist/{theirs.id}/remove", headers=HX).status_code == 404
    start = now() + timedelta(days=3)
    offer = waitlist.offer_slot(org.id, {"start_at": start.isoformat(),
                                         "end_at": (start + timedelta(minutes=30)).isoformat(),
                                         "provider_id": str(world.provider_id), "location_id": str(org.loc_a.id),
                                         "visit_type_id": str(world.visit_id)})
    assert offer is not None
    assert c.post(f"/desk/patients/{pid}/waitlist/offers/{offer.id}/accept", headers=HX).status_code == 404
    assert c.post(f"/desk/patients/{pid}/waitlist/offers/{offer.id}/decline", headers=HX).status_code == 404
    outsider = signed_in(login, make_user(other_org, "org_admin"))
    assert outsider.post(f"/desk/patients/{other}/waitlist/{theirs.id}/remove", headers=HX).status_code == 404
    assert outsider.post(f"/desk/patients/{other}/waitlist", headers=HX,
                         data={"visit_type_id": str(world.visit_id)}).status_code == 404
    assert [e.status for e in waitlist.list_entries(world.ctx, status="offered") if e.id == theirs.id] == ["offered"]

"""Changing an appointment's visit type (and so its length) under booking's rules: the service,
the API route and the schedule grid's block menu, on the real database."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from praxis.platform.audit import AuditRecord
from praxis.platform.db import session_scope
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.outbox import OutboxMessage
from praxis.scheduling import service, setup
from praxis.scheduling.models import AppointmentResource
from praxis.scheduling.service import SlotTaken
from praxis.scheduling.status import TransitionRefused

from .helpers import book, future_weekday, make_patient, make_world, signed_in


@pytest.fixture
def world(org):
    return make_world(org)


def events(org, topic="scheduling.appointment_modified"):
    with session_scope(org.id) as s:
        return [m.payload for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.org_id == org.id, OutboxMessage.topic == topic).order_by(OutboxMessage.created_at))]


def audits(org, appointment_id, action="appointment.change_visit_type"):
    with session_scope(org.id) as s:
        return [(r.patient_id, r.detail) for r in s.scalars(select(AuditRecord).where(
            AuditRecord.org_id == org.id, AuditRecord.action == action,
            AuditRecord.resource_id == str(appointment_id)))]


def test_longer_visit_type_changes_length_keeps_time_status_and_is_audited_and_emitted(world):
    p = make_patient(world.org)
    day = future_weekday()
    a = book(world, p, world.local(day, 10))
    service.change_status(world.ctx, a.id, "confirm")
    changed = service.change_visit_type(world.ctx, a.id, visit_type_id=world.new_visit_id, expected_version=2)
    assert changed.id == a.id and changed.visit_type_id == world.new_visit_id
    assert (changed.start_at, changed.end_at) == (world.local(day, 10), world.local(day, 11))  # 60 min
    assert changed.block_end == world.local(day, 11, 10)  # the new visit type's 10-minute buffer after
    assert changed.status == "confirmed" and changed.version == 3  # the time did not move: still confirmed
    stored = service.get_appointment(world.ctx, a.id)
    assert (stored.visit_type_id, stored.end_at, stored.version) == (world.new_visit_id, world.local(day, 11), 3)
    ((patient, detail),) = audits(world.org, a.id)
    assert patient == p and detail["was"] == str(world.visit_id) and detail["now"] == str(world.new_visit_id)
    assert events(world.org) == [{"appointment_id": str(a.id), "visit_type_id": str(world.new_visit_id),
                                  "was_visit_type_id": str(world.visit_id), "version": 3,
                                  "origin": world.ctx.origin}]
    assert events(world.org, "scheduling.appointment_rescheduled") == []  # not a move
    # The same visit type again changes nothing.
    same = service.change_visit_type(world.ctx, a.id, visit_type_id=world.new_visit_id)
    assert same.version == 3 and len(events(world.org)) == 1


def test_the_longer_visit_may_not_double_book_the_provider(world):
    p, q = make_patient(world.org), make_patient(world.org)
    day = future_weekday()
    a = book(world, p, world.local(day, 10))
    book(world, q, world.local(day, 10, 30))  # right after the 30-minute visit
    with pytest.raises(SlotTaken) as exc:
        service.change_visit_type(world.ctx, a.id, visit_type_id=world.new_visit_id)
    assert exc.value.status == 409 and "already booked" in exc.value.detail
    after = service.get_appointment(world.ctx, a.id)
    assert (after.visit_type_id, after.end_at, after.version) == (world.visit_id, world.local(day, 10, 30), 1)
    assert events(world.org) == [] and audits(world.org, a.id) == []


def test_a_move_with_another_visit_type_is_one_change_or_none(world):
    p, q = make_patient(world.org), make_patient(world.org)
    day = future_weekday()
    a = book(world, p, world.local(day, 9))
    book(world, q, world.local(day, 14, 30))
    # 14:00 fits a 30-minute follow-up but not the 60-minute new-patient visit: nothing moves.
    with pytest.raises(SlotTaken):
        service.reschedule(world.ctx, a.id, start_at=world.local(day, 14), visit_type_id=world.new_visit_id)
    kept = service.get_appointment(world.ctx, a.id)
    assert (kept.start_at, kept.visit_type_id, kept.version) == (world.local(day, 9), world.visit_id, 1)
    assert events(world.org, "scheduling.appointment_rescheduled") == [] and events(world.org) == []
    both = service.reschedule(world.ctx, a.id, start_at=world.local(day, 15), visit_type_id=world.new_visit_id)
    assert (both.start_at, both.end_at, both.visit_type_id, both.version) == (
        world.local(day, 15), world.local(day, 16), world.new_visit_id, 2)
    assert len(events(world.org, "scheduling.appointment_rescheduled")) == 1
    assert events(world.org) == [{"appointment_id": str(a.id), "visit_type_id": str(world.new_visit_id),
                                  "was_visit_type_id": str(world.visit_id), "version": 2,
                                  "origin": world.ctx.origin}]
    assert len(audits(world.org, a.id)) == 1 and len(audits(world.org, a.id, "appointment.reschedule")) == 1


def test_a_visit_type_needing_a_room_needs_a_free_room(world):
    p = make_patient(world.org)
    day = future_weekday()
    a = book(world, p, world.local(day, 11))
    with pytest.raises(SlotTaken) as exc:  # Midtown has no room at all
        service.change_visit_type(world.ctx, a.id, visit_type_id=world.room_visit_id)
    assert "room" in exc.value.detail
    room = setup.create_resource(world.ctx, location_id=world.org.loc_a.id, kind="room", name="Exam 1")
    changed = service.change_visit_type(world.ctx, a.id, visit_type_id=world.room_visit_id)
    with session_scope(world.org.id) as s:
        held = [(r.resource_id, r.active) for r in s.scalars(select(AppointmentResource).where(
            AppointmentResource.appointment_id == a.id))]
    assert held == [(room.id, True)] and changed.visit_type_id == world.room_visit_id
    changed_back = service.change_visit_type(world.ctx, a.id, visit_type_id=world.visit_id)
    with session_scope(world.org.id) as s:
        active = s.scalars(select(AppointmentResource.id).where(AppointmentResource.appointment_id == a.id,
                                                                AppointmentResource.active.is_(True))).all()
    assert changed_back.visit_type_id == world.visit_id and active == []  # the room is let go


def test_not_bookable_there_version_and_status_are_refused_and_change_nothing(world):
    p = make_patient(world.org)
    day = future_weekday()
    restricted = setup.create_provider(world.ctx, first_name="Rex", last_name="Stricted",
                                       location_ids=[world.org.loc_a.id])
    setup.create_template(world.ctx, provider_id=restricted.id, location_id=world.org.loc_a.id,
                          effective_from=day - timedelta(days=7), effective_to=None,
                          blocks=[{"weekday": w, "start_minute": 540, "end_minute": 1020,
                                   "visit_type_ids": [str(world.visit_id)]} for w in range(7)])
    a = book(world, p, world.local(day, 9), provider_id=restricted.id)
    with pytest.raises(ValidationProblem) as exc:  # his blocks take follow-ups only
        service.change_visit_type(world.ctx, a.id, visit_type_id=world.new_visit_id)
    assert exc.value.status == 422
    inactive = setup.create_visit_type(world.ctx, code="GONE1", name="Gone", duration_minutes=15)
    setup.update_visit_type(world.ctx, inactive.id, changes={"active": False})
    with pytest.raises(NotFound) as nf:
        service.change_visit_type(world.ctx, a.id, visit_type_id=inactive.id)
    assert nf.value.field == "visit_type_id"
    b = book(world, p, world.local(day, 14))
    with pytest.raises(Conflict) as stale:
        service.change_visit_type(world.ctx, b.id, visit_type_id=world.new_visit_id, expected_version=7)
    assert stale.value.status == 412 and stale.value.field == "If-Match"
    service.cancel(world.ctx, b.id, reason="patient request")
    with pytest.raises(TransitionRefused) as refused:
        service.change_visit_type(world.ctx, b.id, visit_type_id=world.new_visit_id)
    assert refused.value.status == 409 and "cancelled" in refused.value.detail
    with pytest.raises(TransitionRefused):  # even to the visit type it has
        service.change_visit_type(world.ctx, b.id, visit_type_id=world.visit_id)
    assert service.get_appointment(world.ctx, a.id).visit_type_id == world.visit_id
    assert events(world.org) == []


def test_new_patient_visit_type_is_refused_for_an_established_patient(world):
    from praxis.platform import clock
    from praxis.platform.clock import now

    p = make_patient(world.org)
    past_day = future_weekday(1)
    seen = book(world, p, world.local(past_day, 9))
    clock.advance(world.local(past_day, 9, 5) - now())
    for action in ("check_in", "check_out"):
        service.change_status(world.ctx, seen.id, action)
    a = book(world, p, world.local(past_day + timedelta(days=3), 10))
    with pytest.raises(ValidationProblem) as exc:
        service.change_visit_type(world.ctx, a.id, visit_type_id=world.new_visit_id)
    assert exc.value.field == "visit_type_id" and "new patients" in exc.value.detail
    with pytest.raises(TransitionRefused):  # checked out: finished
        service.change_visit_type(world.ctx, seen.id, visit_type_id=world.room_visit_id)


# --- the API and the screen ----------------------------------------------------------------------


def test_api_route_permissions_conflict_and_openapi(app, world, make_user, login):
    p, q = make_patient(world.org), make_patient(world.org)
    day = future_weekday()
    a = book(world, p, world.local(day, 10))
    desk = signed_in(login, make_user(world.org, "front_desk", world.org.loc_a))
    url = f"/api/v1/scheduling/appointments/{a.id}/visit-type"
    r = desk.post(url, json={"visit_type_id": str(world.new_visit_id), "expected_version": 5})
    assert r.status_code == 412 and r.json()["field"] == "If-Match"
    r = desk.post(url, json={"visit_type_id": str(world.new_visit_id), "expected_version": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["visit_type_id"] == str(world.new_visit_id) and body["version"] == 2
    assert service.get_appointment(world.ctx, a.id).end_at == world.local(day, 11)
    book(world, q, world.local(day, 11, 30))
    r = desk.post(url, json={"visit_type_id": str(world.visit_id)})  # shorter: always fits
    assert r.status_code == 200 and r.json()["version"] == 3
    b = book(world, q, world.local(day, 15))
    book(world, p, world.local(day, 15, 30))
    r = desk.post(f"/api/v1/scheduling/appointments/{b.id}/visit-type",
                  json={"visit_type_id": str(world.new_visit_id)})
    assert r.status_code == 409 and r.json()["type"] == "/problems/slot-taken"
    r = desk.post(url, json={"visit_type_id": str(world.new_visit_id), "colour": "red"})
    assert r.status_code == 422  # unknown fields are refused
    provider = signed_in(login, make_user(world.org, "provider", world.org.loc_a))
    r = provider.post(url, json={"visit_type_id": str(world.new_visit_id)})
    assert r.status_code == 403
    desk_b = signed_in(login, make_user(world.org, "front_desk", world.org.loc_b))
    r = desk_b.post(url, json={"visit_type_id": str(world.new_visit_id)})
    assert r.status_code == 404  # outside the actor's locations
    assert service.get_appointment(world.ctx, a.id).visit_type_id == world.visit_id
    op = app.openapi()["paths"]["/api/v1/scheduling/appointments/{appointment_id}/visit-type"]["post"]
    assert {"200", "403", "404", "409", "412", "422"} <= set(op["responses"])
    assert "visit type" in op["summary"]


def test_block_menu_offers_change_visit_type_beside_reschedule(world, make_user, login):
    p, q = make_patient(world.org, first="Vera", last="Visit"), make_patient(world.org)
    day = future_weekday(3)
    a = book(world, p, world.local(day, 10))
    desk = signed_in(login, make_user(world.org, "front_desk"))
    menu = desk.get(f"/scheduling/appointments/{a.id}/menu", headers={"HX-Request": "true"}).text
    assert menu.index("Reschedule") < menu.index("Change visit type") < menu.index("Cancel visit")
    form = re.search(r'<form method="post" action="([^"]+/visit-type)".*?</form>', menu, re.S)
    assert form is not None
    options = dict((unescape(n), v) for v, n in re.findall(r'<option value="([^"]+)">([^<]+)</option>', form.group(0)))
    assert "New patient (60 min)" in options and "Follow-up (30 min)" not in options  # not its own type
    assert 'name="version" value="1"' in form.group(0)
    here = f"/scheduling?location_id={world.org.loc_a.id}&day={day.isoformat()}&view=provider&span=day"
    r = desk.post(form.group(1), data={"visit_type_id": options["New patient (60 min)"], "version": "1",
                                       "back": here}, follow_redirects=False)
    assert r.status_code == 303 and "done=change_visit_type" in r.headers["location"]
    html = desk.get(r.headers["location"]).text
    assert "Visit type changed" in html
    assert service.get_appointment(world.ctx, a.id).end_at == world.local(day, 11)
    # Refused (the longer visit would double-book): a message on the grid, nothing changed.
    b = book(world, q, world.local(day, 14))
    book(world, p, world.local(day, 14, 30))
    r = desk.post(f"/scheduling/appointments/{b.id}/visit-type",
                  data={"visit_type_id": options["New patient (60 min)"], "back": here})
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/html") and 'role="alert"' in r.text
    assert service.get_appointment(world.ctx, b.id).visit_type_id == world.visit_id
    # A stale menu (the visit changed since it was opened) is refused the same way.
    r = desk.post(f"/scheduling/appointments/{a.id}/visit-type",
                  data={"visit_type_id": str(world.visit_id), "version": "1", "back": here})
    assert r.status_code == 412 and 'role="alert"' in r.text

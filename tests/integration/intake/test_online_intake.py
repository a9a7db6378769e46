"""Online booking -> the intake link goes out by itself (the desk composes scheduling and intake)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select

from praxis.intake import ratelimit
from praxis.intake import service as intake
from praxis.intake.definition import default_definition
from praxis.intake.models import IntakeSubmission
from praxis.intake.schemas import WorkflowIn
from praxis.platform import outbox
from praxis.platform.audit import AuditRecord
from praxis.platform.db import session_scope
from praxis.scheduling import online, reminders
from praxis.scheduling.models import ReminderLog
from praxis.scheduling.reminders import FileSender
from praxis.scheduling.schemas import OnlineBookingIn
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world


def _drain() -> None:
    for _ in range(50):
        if outbox.run_once() == 0:
            return
    raise AssertionError("the outbox never drained")


@pytest.fixture
def sender(tmp_path) -> Iterator[FileSender]:
    """Messages go to a file sender; rate limits start fresh; the outbox holds nothing older."""
    ratelimit.reset()
    file_sender = FileSender(tmp_path / "messages.log")
    reminders.set_sender(file_sender)
    try:
        _drain()  # whatever earlier tests left behind
        yield file_sender
    finally:
        reminders.set_sender(None)


def _book_online(org, world, sender: FileSender, *, first: str, last: str, consent: bool = False) -> object:
    loc = online.find_location(org.slug, "NYC")
    slot = online.slots(loc, world.new_visit_id, future_weekday(), days=7, limit=5)[0]
    data = OnlineBookingIn(visit_type_id=world.new_visit_id, provider_id=slot.provider_id, start_at=slot.start_at,
                           first_name=first, last_name=last, dob=date(1980, 5, 17), channel="sms",
                           phone="(212) 555-0123", contact_consent=consent)
    vid, _expires, _masked = online.start(loc, data, client_ip="203.0.113.9")
    code = sender.sent[-1]["body"].split("code is ")[1][:6]
    return online.verify(loc, vid, code)["appointment_id"]


def test_online_booking_sends_the_intake_link_once(org, tmp_path, sender):
    world = make_world(org)
    intake.create_workflow(world.ctx, WorkflowIn(name="Default", definition=default_definition()))
    # A returning patient (found by name, date of birth and phone) who agreed to texts.
    pid = make_patient(org, first="Olive", last="Online", sms=True)
    appt_id = _book_online(org, world, sender, first="Olive", last="Online")
    before = len(sender.sent)
    _drain()
    sent = sender.sent[before:]
    assert len(sent) == 1, sent
    msg = sent[0]
    assert msg["channel"] == "sms" and msg["to"] == "+12125550123"
    assert "/intake/l/" in msg["body"] and msg["body"].count(org.id.hex) == 1
    assert "/intake/l/" in (tmp_path / "messages.log").read_text()
    with session_scope(org.id) as s:
        subs = list(s.scalars(select(IntakeSubmission).where(IntakeSubmission.appointment_id == appt_id)))
        assert len(subs) == 1 and subs[0].patient_id == pid and subs[0].channel == "link"
        assert subs[0].location_id == org.loc_a.id
        marks = list(s.scalars(select(ReminderLog).where(ReminderLog.appointment_id == appt_id,
                                                         ReminderLog.kind == "intake")))
        assert [(m.status, m.channel) for m in marks] == [("sent", "sms")]
        # Reading the patient's phone number to send the link left an audit record.
        assert s.scalars(select(AuditRecord.id).where(
            AuditRecord.action == "appointment.intake_link_contact", AuditRecord.patient_id == pid,
            AuditRecord.resource_id == str(appt_id))).first() is not None
    # The link opens the intake.
    from praxis.intake import links

    token = msg["body"].split("/intake/l/")[1].split()[0]
    assert links.view_link(token, "203.0.113.9").title
    # Running the worker again, or the handler a second time, sends nothing new.
    _drain()
    from praxis.desk import service as desk

    desk.send_intake_link_for_online_booking(org.id, {"appointment_id": str(appt_id),
                                                      "patient_id": str(pid),
                                                      "location_id": str(org.loc_a.id),
                                                      "source": "online"})
    assert len(sender.sent) == before + 1
    with session_scope(org.id) as s:
        assert len(list(s.scalars(select(IntakeSubmission.id).where(
            IntakeSubmission.appointment_id == appt_id)))) == 1


def test_staff_booking_sends_the_link_api_booking_and_no_workflow_send_nothing(org, sender):
    """Issue 13 item 6: a staff booking sends the intake link by itself (tied to the visit) when
    the patient consented; an API booking leaves intake to its caller; no workflow, no message."""
    from praxis.scheduling import service as scheduling

    world = make_world(org)
    pid = make_patient(org, first="Sam", last="Staffbooked", sms=True)
    # No intake workflow in this organisation: an online booking opens nothing, quietly.
    _book_online(org, world, sender, first="Sam", last="Staffbooked")
    before = len(sender.sent)
    _drain()
    assert len(sender.sent) == before
    intake.create_workflow(world.ctx, WorkflowIn(name="Default", definition=default_definition()))
    found = scheduling.search_slots(world.ctx, world.visit_id, from_date=future_weekday(10), days=7, limit=10)
    slots = [found[0], next(x for x in found if x.start_at >= found[0].end_at or x.provider_id != found[0].provider_id)]
    # An API booking: the integrator decides about intake.
    scheduling.book(world.ctx, patient_id=pid, visit_type_id=world.visit_id, provider_id=slots[1].provider_id,
                    location_id=slots[1].location_id, start_at=slots[1].start_at, source="api")
    _drain()
    assert len(sender.sent) == before
    # A staff booking: the link goes out once, by text, tied to that appointment.
    appt = scheduling.book(world.ctx, patient_id=pid, visit_type_id=world.visit_id, provider_id=slots[0].provider_id,
                           location_id=slots[0].location_id, start_at=slots[0].start_at)
    _drain()
    sent = sender.sent[before:]
    assert len(sent) == 1 and sent[0]["channel"] == "sms" and "/intake/l/" in sent[0]["body"]
    with session_scope(org.id) as s:
        subs = list(s.scalars(select(IntakeSubmission).where(IntakeSubmission.patient_id == pid)))
        assert [x.appointment_id for x in subs] == [appt.id]
        assert s.scalars(select(ReminderLog.id).where(ReminderLog.appointment_id == appt.id,
                                                      ReminderLog.kind == "intake")).first() is not None


def test_a_new_patient_who_consents_online_gets_the_intake_link(org, sender):
    """New patients register during online booking; the consent box on the verified address is
    what lets the link (and reminders) go out. Without it nothing is sent."""
    from praxis.patients.models import Patient

    world = make_world(org)
    intake.create_workflow(world.ctx, WorkflowIn(name="Default", definition=default_definition()))
    silent = _book_online(org, world, sender, first="Nadia", last="Noconsent", consent=False)
    before = len(sender.sent)
    _drain()
    assert sender.sent[before:] == []
    agreed = _book_online(org, world, sender, first="Nico", last="Newcomer", consent=True)
    before = len(sender.sent)
    _drain()
    sent = sender.sent[before:]
    assert len(sent) == 1 and sent[0]["channel"] == "sms" and "/intake/l/" in sent[0]["body"]
    with session_scope(org.id) as s:
        rows = {p.last_name: (p.consent_sms, p.preferred_channel) for p in s.scalars(
            select(Patient).where(Patient.last_name.in_(["Noconsent", "Newcomer"])))}
        assert rows == {"Noconsent": (False, "sms"), "Newcomer": (True, "sms")}
        # Both intakes are open (the desk can hand the first one over); only one link went out.
        for appt_id, marks in ((silent, []), (agreed, [("sent", "sms")])):
            assert len(list(s.scalars(select(IntakeSubmission.id).where(
                IntakeSubmission.appointment_id == appt_id)))) == 1
            assert [(m.status, m.channel) for m in s.scalars(select(ReminderLog).where(
                ReminderLog.appointment_id == appt_id, ReminderLog.kind == "intake"))] == marks


def test_the_day_sheet_shows_each_visits_intake_status(org, sender):
    from praxis.desk import service as desk
    from praxis.scheduling import service as scheduling
    from praxis.scheduling.availability import to_local

    world = make_world(org)
    intake.create_workflow(world.ctx, WorkflowIn(name="Default", definition=default_definition()))
    online_appt = _book_online(org, world, sender, first="Dana", last="Daysheet", consent=True)
    _drain()
    appt = scheduling.get_appointment(world.ctx, online_appt)
    day = to_local(appt.start_at, "America/New_York").date()
    staff = scheduling.book(world.ctx, patient_id=make_patient(org), visit_type_id=world.visit_id,
                            provider_id=world.provider_id, location_id=org.loc_a.id,
                            start_at=world.local(day, 16))
    rows = {r.appointment_id: r.intake_status for r in desk.day_sheet(world.ctx, org.loc_a.id, day).rows}
    assert rows[online_appt] == "not started" and rows[staff.id] == "—"

"""Online booking verification is one unit of work: the code check, the patient's match or
registration, the booking and the request's link commit together or not at all. A lost race
answers 409, leaves no patient behind and keeps the code usable for another time."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from praxis.intake import ratelimit
from praxis.patients.models import Patient
from praxis.platform.audit import AuditRecord
from praxis.platform.db import session_scope
from praxis.platform.errors import NotFound, ValidationProblem
from praxis.scheduling import online, reminders
from praxis.scheduling.models import Appointment, BookingVerification
from praxis.scheduling.reminders import FileSender
from praxis.scheduling.schemas import OnlineBookingIn
from praxis.scheduling.service import SlotTaken

from .helpers import future_weekday, make_patient, make_world


@pytest.fixture
def sender(tmp_path) -> Iterator[FileSender]:
    ratelimit.reset()
    s = FileSender(tmp_path / "messages.log")
    reminders.set_sender(s)
    yield s
    reminders.set_sender(None)


def _start(loc: online.PublicLocation, world: Any, slot: Any, sender: FileSender, *, last: str,
           phone: str, first: str = "Ona", consent: bool = False, dob: date = date(1990, 1, 2)
           ) -> tuple[uuid.UUID, str]:
    data = OnlineBookingIn(visit_type_id=world.new_visit_id, provider_id=slot.provider_id, start_at=slot.start_at,
                           first_name=first, last_name=last, dob=dob, channel="sms", phone=phone,
                           contact_consent=consent)
    vid, _expires, _masked = online.start(loc, data, client_ip=f"203.0.113.{len(sender.sent) + 1}")
    return vid, sender.sent[-1]["body"].split("code is ")[1][:6]


def _two_times(loc: online.PublicLocation, world: Any) -> tuple[Any, Any]:
    """An open time, and another that does not overlap a booking of the first."""
    found = online.slots(loc, world.new_visit_id, future_weekday(), days=7, limit=20)
    return found[0], next(s for s in found if s.start_at >= found[0].start_at + timedelta(hours=2))


def _patients_named(org_id: uuid.UUID, last: str) -> int:
    with session_scope(org_id) as s:
        return s.scalar(select(func.count()).select_from(Patient).where(Patient.last_name == last)) or 0


def _request(org_id: uuid.UUID, vid: uuid.UUID) -> BookingVerification:
    with session_scope(org_id) as s:
        return s.scalars(select(BookingVerification).where(BookingVerification.id == vid)).one()


def test_a_lost_race_leaves_no_patient_and_the_code_usable_for_another_time(org, sender):
    world = make_world(org)
    loc = online.find_location(org.slug, "NYC")
    first, other = _two_times(loc, world)
    vid_a, code_a = _start(loc, world, first, sender, last="Winner", phone="(212) 555-0101")
    vid_b, code_b = _start(loc, world, first, sender, last="Loser", phone="(212) 555-0102")

    assert online.verify(loc, vid_a, code_a)["start_at"] == first.start_at
    with pytest.raises(SlotTaken) as lost:
        online.verify(loc, vid_b, code_b)
    assert lost.value.status == 409

    assert _patients_named(org.id, "Loser") == 0  # the registration rolled back with the booking
    v = _request(org.id, vid_b)
    assert (v.used_at, v.appointment_id, v.attempts) == (None, None, 0)
    with session_scope(org.id) as s:
        assert s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "patient.create", AuditRecord.org_id == org.id)) == 1  # the winner's only

    done = online.verify(loc, vid_b, code_b, start_at=other.start_at, provider_id=other.provider_id)
    assert done["start_at"] == other.start_at
    assert _patients_named(org.id, "Loser") == 1
    v = _request(org.id, vid_b)
    assert v.used_at is not None and v.appointment_id == done["appointment_id"]
    with pytest.raises(NotFound):
        online.verify(loc, vid_b, code_b)


def test_another_time_must_be_one_the_search_offers(org, sender):
    world = make_world(org)
    loc = online.find_location(org.slug, "NYC")
    slot = online.slots(loc, world.new_visit_id, future_weekday(), days=7, limit=1)[0]
    vid, code = _start(loc, world, slot, sender, last="Offtime", phone="(212) 555-0103")
    with pytest.raises(ValidationProblem) as refused:
        online.verify(loc, vid, code, start_at=slot.start_at.replace(minute=7))
    assert refused.value.field == "start_at"
    assert _request(org.id, vid).used_at is None
    assert online.verify(loc, vid, code)["start_at"] == slot.start_at


def test_a_returning_patients_consent_is_recorded_only_with_the_booking(org, sender):
    world = make_world(org)
    loc = online.find_location(org.slug, "NYC")
    last = f"Back{uuid.uuid4().hex[:6]}"
    returning = make_patient(org, sms=False, first="Reta", last=last)  # mobile +12125550123, DOB 1980-05-17
    first, other = _two_times(loc, world)
    vid_a, code_a = _start(loc, world, first, sender, last="Quick", phone="(212) 555-0104")
    vid_b, code_b = _start(loc, world, first, sender, first="Reta", last=last, phone="(212) 555-0123",
                           consent=True, dob=date(1980, 5, 17))
    online.verify(loc, vid_a, code_a)
    with pytest.raises(SlotTaken):
        online.verify(loc, vid_b, code_b)
    with session_scope(org.id) as s:
        assert s.scalars(select(Patient).where(Patient.id == returning)).one().consent_sms is False
    done = online.verify(loc, vid_b, code_b, start_at=other.start_at, provider_id=other.provider_id)
    with session_scope(org.id) as s:
        assert s.scalars(select(Patient).where(Patient.id == returning)).one().consent_sms is True
        appt = s.scalars(select(Appointment).where(Appointment.id == done["appointment_id"])).one()
        assert appt.patient_id == returning
    assert _patients_named(org.id, last) == 1


def test_a_wrong_code_counts_a_try_and_books_nothing(org, sender):
    world = make_world(org)
    loc = online.find_location(org.slug, "NYC")
    slot = online.slots(loc, world.new_visit_id, future_weekday(), days=7, limit=1)[0]
    vid, code = _start(loc, world, slot, sender, last="Typo", phone="(212) 555-0105")
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(ValidationProblem, match="4 tries left"):
        online.verify(loc, vid, wrong)
    assert _request(org.id, vid).attempts == 1  # committed although the call failed
    assert _patients_named(org.id, "Typo") == 0
    assert online.verify(loc, vid, code)["start_at"] == slot.start_at


def test_over_http_a_lost_race_is_409_and_the_same_code_books_another_time(org, sender, app, new_client):
    from praxis.scheduling import api

    if not any(getattr(r, "path", "").startswith("/api/v1/public/booking") for r in app.routes):
        app.include_router(api.public_router)
    world = make_world(org)
    loc = online.find_location(org.slug, "NYC")
    first, other = _two_times(loc, world)
    vid_a, code_a = _start(loc, world, first, sender, last="Httpwin", phone="(212) 555-0106")
    vid_b, code_b = _start(loc, world, first, sender, last="Httplose", phone="(212) 555-0107")
    online.verify(loc, vid_a, code_a)
    from tests.conftest import csrf_header

    c = new_client()
    c.headers.update(csrf_header(c))
    url = f"/api/v1/public/booking/{org.slug}/NYC/requests/{vid_b}/verify"
    r = c.post(url, json={"code": code_b})
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "start_at"
    r = c.post(url, json={"code": code_b, "start_at": other.start_at.isoformat(),
                          "provider_id": str(other.provider_id)})
    assert r.status_code == 201, r.text
    assert _patients_named(org.id, "Httplose") == 1


def test_two_verifications_race_for_one_slot(org, sender, is_postgres, monkeypatch):
    """Two patients confirm codes for the same time at the same moment (threads, real database).
    Both are inside their unit of work, past the code check, before either registers or books:
    exactly one books; the other gets 409, its patient is not in the registry and its code books
    another time afterwards."""
    if not is_postgres:
        pytest.skip("SQLite serialises the two units of work with BEGIN IMMEDIATE: they cannot both be inside")
    world = make_world(org)
    loc = online.find_location(org.slug, "NYC")
    first, other = _two_times(loc, world)
    requests = {last: _start(loc, world, first, sender, last=last, phone=phone)
                for last, phone in (("Racera", "(212) 555-0108"), ("Racerb", "(212) 555-0109"))}

    both_inside = threading.Barrier(2, timeout=20)
    match = online.patients.find_returning_patient_in

    def meet_then_match(*args: Any, **kwargs: Any) -> Any:
        both_inside.wait()  # each holds its request's row lock and has checked its code
        return match(*args, **kwargs)

    monkeypatch.setattr(online.patients, "find_returning_patient_in", meet_then_match)
    outcome: dict[str, Any] = {}

    def run(last: str) -> None:
        vid, code = requests[last]
        try:
            outcome[last] = online.verify(loc, vid, code)
        except Exception as exc:  # recorded and asserted below
            outcome[last] = exc

    threads = [threading.Thread(target=run, args=(last,)) for last in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.setattr(online.patients, "find_returning_patient_in", match)

    winners = [last for last, o in outcome.items() if isinstance(o, dict)]
    losers = [last for last, o in outcome.items() if isinstance(o, SlotTaken)]
    assert len(winners) == 1 and len(losers) == 1, outcome
    winner, loser = winners[0], losers[0]
    assert outcome[loser].status == 409
    assert _patients_named(org.id, winner) == 1 and _patients_named(org.id, loser) == 0
    with session_scope(org.id) as s:
        booked = s.scalars(select(Appointment).where(Appointment.start_at == first.start_at,
                                                     Appointment.provider_id == first.provider_id)).all()
    assert len(booked) == 1
    vid, code = requests[loser]
    assert _request(org.id, vid).used_at is None
    done = online.verify(loc, vid, code, start_at=other.start_at, provider_id=other.provider_id)
    assert done["start_at"] == other.start_at and _patients_named(org.id, loser) == 1


def test_a_double_submit_books_once(org, sender):
    """The same request verified twice at once (a double click, a retried request): the request's
    row lock (PostgreSQL) or the write lock (SQLite) makes the second wait and then find it used."""
    world = make_world(org)
    loc = online.find_location(org.slug, "NYC")
    slot = online.slots(loc, world.new_visit_id, future_weekday(), days=7, limit=1)[0]
    vid, code = _start(loc, world, slot, sender, last="Twice", phone="(212) 555-0110")
    start = threading.Barrier(2, timeout=20)
    outcome: list[Any] = []

    def run() -> None:
        start.wait()
        try:
            outcome.append(online.verify(loc, vid, code))
        except Exception as exc:  # recorded and asserted below
            outcome.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(type(o).__name__ for o in outcome) == ["NotFound", "dict"], outcome
    assert _patients_named(org.id, "Twice") == 1

"""Booking against a real database: no double-booking under contention, clear refusals,
waitlist offers in order, reminders respecting consent, series all-or-nothing, scope."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from praxis.platform import clock
from praxis.platform.clock import now
from praxis.platform.db import get_engine, session_scope
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.scheduling import reminders, service, setup, waitlist
from praxis.scheduling.models import ReminderLog
from praxis.scheduling.reminders import FileSender
from praxis.scheduling.service import SlotTaken
from praxis.scheduling.status import TransitionRefused

from .helpers import book, future_weekday, make_patient, make_world, run_jobs

NY = ZoneInfo("America/New_York")


@pytest.fixture
def world(org):
    return make_world(org)


def test_book_then_double_book_refused(world):
    p1, p2 = make_patient(world.org), make_patient(world.org)
    day = future_weekday()
    a = book(world, p1, world.local(day, 10))
    assert a.status == "booked" and a.start_at.tzinfo is not None
    assert a.start_at == world.local(day, 10)
    with pytest.raises(SlotTaken) as exc:
        book(world, p2, world.local(day, 10, 15))
    assert exc.value.status == 409 and exc.value.field == "start_at"
    # Touching is fine (half-open intervals).
    book(world, p2, world.local(day, 10, 30))


def _overlaps_in_db(org_id):
    with get_engine().connect() as conn:
        rows = conn.execute(text(
            "SELECT a.id, b.id FROM appointments a JOIN appointments b ON a.org_id = b.org_id "
            "AND a.provider_id = b.provider_id AND a.id < b.id "
            "AND a.block_start < b.block_end AND b.block_start < a.block_end "
            "WHERE a.org_id = :o AND a.status NOT IN ('cancelled', 'no_show') "
            "AND b.status NOT IN ('cancelled', 'no_show') AND NOT a.overbooked AND NOT b.overbooked"),
            {"o": org_id.hex if conn.dialect.name == "sqlite" else org_id}).all()
    return rows


def _race(world, starts):
    patients = [make_patient(world.org) for _ in starts]
    barrier = threading.Barrier(len(starts))
    results: list[str] = [""] * len(starts)

    def worker(i):
        barrier.wait()
        try:
            book(world, patients[i], starts[i])
            results[i] = "ok"
        except SlotTaken:
            results[i] = "409"
        except Exception as exc:
            results[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(starts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_fifty_concurrent_clients_exactly_one_wins_per_slot(world):
    day = future_weekday(9)
    slots = [world.local(day, 9) + timedelta(minutes=30 * k) for k in range(5)]
    starts = [slots[i % 5] for i in range(50)]
    results = _race(world, starts)
    counts = Counter(results)
    assert counts["ok"] == 5, counts
    assert counts["409"] == 45, counts
    for k in range(5):
        assert sum(1 for i, r in enumerate(results) if r == "ok" and starts[i] == slots[k]) == 1
    assert _overlaps_in_db(world.org.id) == []


def test_fifty_concurrent_overlapping_bookings_never_overlap(world):
    day = future_weekday(10)
    rnd = random.Random(7)
    starts = [world.local(day, 9) + timedelta(minutes=5 * rnd.randrange(0, 24)) for _ in range(50)]
    results = _race(world, starts)
    assert set(results) <= {"ok", "409"}, Counter(results)
    winners = sorted(starts[i] for i, r in enumerate(results) if r == "ok")
    assert winners
    assert all(b - a >= timedelta(minutes=30) for a, b in itertools.pairwise(winners))
    assert _overlaps_in_db(world.org.id) == []


def test_refusals_are_clear(world):
    p = make_patient(world.org)
    day = future_weekday()
    with pytest.raises(ValidationProblem) as exc:
        book(world, p, now() - timedelta(hours=1))
    assert exc.value.field == "start_at"
    with pytest.raises(ValidationProblem) as exc:
        book(world, p, world.local(day, 7))
    assert "outside" in exc.value.detail
    with pytest.raises(ValidationProblem) as exc:
        book(world, p, world.local(day, 16, 45))  # would run past 17:00
    assert "outside" in exc.value.detail
    with pytest.raises(NotFound):
        book(world, p, world.local(day, 10), provider_id=world.provider2_id)  # not at location A
    setup.add_closure(world.ctx, world.org.loc_a.id, day, "Staff training")
    with pytest.raises(ValidationProblem) as exc:
        book(world, p, world.local(day, 10))
    assert "closed" in exc.value.detail


def test_check_in_cancelled_visit_refused(world):
    p = make_patient(world.org)
    a = book(world, p, world.local(future_weekday(), 11))
    service.cancel(world.ctx, a.id, reason="Patient called")
    with pytest.raises(TransitionRefused) as exc:
        service.change_status(world.ctx, a.id, "check_in")
    assert exc.value.status == 409
    with pytest.raises(TransitionRefused):
        service.cancel(world.ctx, a.id, reason="again")


def test_status_flow_on_the_day(world):
    p = make_patient(world.org)
    day = future_weekday(3)
    a = book(world, p, world.local(day, 11))
    clock.advance(world.local(day, 10, 50) - now())
    for action, expected in [("check_in", "checked_in"), ("room", "roomed"), ("check_out", "checked_out")]:
        a = service.change_status(world.ctx, a.id, action)
        assert a.status == expected
    b = book(world, p, world.local(day, 15))
    with pytest.raises(TransitionRefused):
        service.change_status(world.ctx, b.id, "no_show")  # not yet started
    clock.advance(timedelta(hours=5))
    assert service.change_status(world.ctx, b.id, "no_show").status == "no_show"


def test_reschedule_keeps_id_and_frees_old_time(world):
    p, q = make_patient(world.org), make_patient(world.org)
    day = future_weekday()
    a = book(world, p, world.local(day, 9))
    moved = service.reschedule(world.ctx, a.id, start_at=world.local(day, 9, 15))  # overlaps its old self
    assert moved.id == a.id and moved.start_at == world.local(day, 9, 15) and moved.version == 2
    book(world, q, world.local(day, 9, 45))
    with pytest.raises(SlotTaken):
        service.reschedule(world.ctx, a.id, start_at=world.local(day, 9, 30))


def test_overbooking_needs_org_setting_and_provider_flag(make_org):
    org = make_org("Overbook Clinic", allow_overbooking=True)
    w = make_world(org)
    p, q = make_patient(org), make_patient(org)
    day = future_weekday()
    book(w, p, w.local(day, 10))
    with pytest.raises(Conflict) as exc:
        book(w, q, w.local(day, 10), overbook=True)
    assert exc.value.field == "overbook"
    setup.update_provider(w.ctx, w.provider_id, changes={"allow_overbooking": True})
    b = book(w, q, w.local(day, 10), overbook=True)
    assert b.overbooked is True


def test_series_all_or_nothing(world):
    p, q = make_patient(world.org), make_patient(world.org)
    day = future_weekday()
    blocker = book(world, q, world.local(day + timedelta(weeks=2), 14))
    with pytest.raises(Conflict) as exc:
        service.book_series(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                            location_id=world.org.loc_a.id, first_start_at=world.local(day, 14), count=4)
    assert exc.value.type == "series-conflict"
    assert [e["field"] for e in exc.value.errors] == ["occurrences.2"]
    rows = service.list_day(world.ctx, world.org.loc_a.id, day, days=1)
    assert [r.patient_id for r in rows] == []  # nothing was booked
    service.cancel(world.ctx, blocker.id, reason="moved")
    series = service.book_series(world.ctx, patient_id=p, visit_type_id=world.visit_id,
                                 provider_id=world.provider_id, location_id=world.org.loc_a.id,
                                 first_start_at=world.local(day, 14), count=4)
    assert len(series) == 4 and len({a.series_id for a in series}) == 1
    assert all(a.start_at.astimezone(NY).hour == 14 for a in series)


def test_required_room_is_assigned_and_exhausted(world):
    setup.create_resource(world.ctx, location_id=world.org.loc_b.id, kind="room", name="Exam 1")
    day = future_weekday()
    p, q = make_patient(world.org), make_patient(world.org)
    phx = "America/Phoenix"
    service.book(world.ctx, patient_id=p, visit_type_id=world.room_visit_id, provider_id=world.provider2_id,
                 location_id=world.org.loc_b.id, start_at=world.local(day, 13, tz=phx))
    with pytest.raises(SlotTaken) as exc:
        service.book(world.ctx, patient_id=q, visit_type_id=world.room_visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_b.id, start_at=world.local(day, 13, tz=phx))
    assert "room" in exc.value.detail
    slots = service.search_slots(world.ctx, world.room_visit_id, from_date=day, days=1, limit=100,
                                 location_ids=[world.org.loc_b.id])
    assert world.local(day, 13, tz=phx) not in {s.start_at for s in slots}


def test_slot_search_across_locations_and_filters(world):
    day = future_weekday()
    slots = service.search_slots(world.ctx, world.visit_id, from_date=day, days=2, limit=200)
    assert {s.location_id for s in slots} == {world.org.loc_a.id, world.org.loc_b.id}
    assert [s.start_at for s in slots] == sorted(s.start_at for s in slots)
    only_b = service.search_slots(world.ctx, world.visit_id, from_date=day, days=1,
                                  location_ids=[world.org.loc_b.id], provider_ids=[world.provider2_id], limit=100)
    assert {(s.location_id, s.provider_id) for s in only_b} == {(world.org.loc_b.id, world.provider2_id)}
    assert len(only_b) == 8 * 4 - 1  # 09:00..16:30 in 15-minute steps
    p = make_patient(world.org)
    first = only_b[0]
    book(world, p, first.start_at, provider_id=first.provider_id, location_id=first.location_id)
    again = service.search_slots(world.ctx, world.visit_id, from_date=day, days=1,
                                 location_ids=[world.org.loc_b.id], provider_ids=[world.provider2_id], limit=100)
    assert first.start_at not in {s.start_at for s in again}
    from praxis.scheduling.availability import SlotFilter

    afternoon = service.search_slots(world.ctx, world.visit_id, from_date=day, days=1,
                                     slot_filter=SlotFilter(time_of_day="afternoon"), limit=100)
    assert all(12 <= s.local_start.hour < 17 for s in afternoon)


def test_slot_search_dst_in_new_york_2027():
    from praxis.scheduling.availability import Calendar, Template, VisitSpec, WeeklyBlock, iter_slots

    c = Calendar(world_id := __import__("uuid").uuid4(), world_id, "America/New_York",
                 [Template(date(2027, 1, 1), None, (WeeklyBlock(6, 0, 6 * 60),))])
    slots = list(iter_slots(c, VisitSpec(None, 60), date(2027, 3, 14), 1,
                            not_before=datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC")), step_minutes=60))
    assert len(slots) == 5


def test_freed_slot_reaches_waitlist_in_order(world):
    day = future_weekday(5)
    holder = make_patient(world.org)
    low, high_old, high_new = make_patient(world.org), make_patient(world.org), make_patient(world.org)
    waitlist.add_entry(world.ctx, patient_id=low, visit_type_id=world.visit_id, priority=1)
    e_old = waitlist.add_entry(world.ctx, patient_id=high_old, visit_type_id=world.visit_id, priority=5)
    waitlist.add_entry(world.ctx, patient_id=high_new, visit_type_id=world.visit_id, priority=5)
    waitlist.add_entry(world.ctx, patient_id=make_patient(world.org), visit_type_id=world.visit_id,
                       priority=9, location_id=world.org.loc_b.id)  # wrong location
    a = book(world, holder, world.local(day, 10))
    sender = FileSender()
    reminders.set_sender(sender)
    try:
        service.cancel(world.ctx, a.id, reason="Patient sick")
        assert run_jobs(world.org, "scheduling.slot_freed", waitlist.handle_slot_freed) == 1
        offers = waitlist.list_offers(world.ctx)
        assert len(offers) == 1 and offers[0].entry_id == e_old.id
        assert any("earlier visit" in m["body"] for m in sender.sent)
        # Unanswered: the offer expires and the next best (same priority, waiting less) gets it.
        clock.advance(timedelta(hours=3))
        run_jobs(world.org, "scheduling.offer_expire", waitlist.handle_offer_expire)
        offers = waitlist.list_offers(world.ctx)
        assert len(offers) == 1
        entries = {e.id: e for e in waitlist.list_entries(world.ctx, status="offered")}
        assert offers[0].entry_id in entries and entries[offers[0].entry_id].patient_id == high_new
    finally:
        reminders.set_sender(None)
    appt_id = waitlist.accept_offer(world.ctx, offers[0].id)
    assert service.get_appointment(world.ctx, appt_id).patient_id == high_new


def test_reminders_respect_consent_and_opt_out(world):
    reminders.create_rule(world.ctx, hours_before=24)
    reminders.create_rule(world.ctx, hours_before=72)
    day = future_weekday(6)
    ok, out, no_consent = make_patient(world.org), make_patient(world.org, opted_out=True), \
        make_patient(world.org, sms=False)
    for i, p in enumerate((ok, out, no_consent)):
        book(world, p, world.local(day, 9 + i))
    sender = FileSender()
    reminders.set_sender(sender)
    try:
        clock.advance(timedelta(days=7))
        ran = run_jobs(world.org, reminders.REMINDER_TOPIC, reminders.handle_reminder_due, due_only=True)
        assert ran == 6
        assert len(sender.sent) == 2  # two rules x the one consenting patient
        assert {m["channel"] for m in sender.sent} == {"sms"}
        # Running a job twice sends nothing more.
        with session_scope(world.org.id) as s:
            logs = list(s.query(ReminderLog).all())
        assert Counter(log.status for log in logs) == {"sent": 2, "skipped": 4}
    finally:
        reminders.set_sender(None)


def test_reply_c_confirms(world):
    p = make_patient(world.org)
    a = book(world, p, world.local(future_weekday(), 12))
    token = reminders.reply_token(world.org.id, a.id)
    assert reminders.confirm_reply(token, " c ") == "confirmed"
    with pytest.raises(NotFound):
        reminders.confirm_reply(token[:-2] + "xx", "C")


def user_ctx(u):
    from praxis.identity.context import build_user_context
    from praxis.identity.models import Membership, User

    with session_scope(u.org.id) as s:
        user = s.get(User, u.user_id)
        member = s.query(Membership).filter(Membership.id == u.membership_id).one()
        return build_user_context(s, user, member, location_id=u.location_id)


def test_location_scope_answers_404(world, make_user):
    desk = make_user(world.org, "front_desk", world.org.loc_a)
    ctx = user_ctx(desk)
    p = make_patient(world.org)
    day = future_weekday()
    a = service.book(ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 13))
    assert a.location_id == world.org.loc_a.id
    with pytest.raises(NotFound):
        service.book(ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider2_id,
                     location_id=world.org.loc_b.id, start_at=world.local(day, 13))
    b = service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider2_id,
                     location_id=world.org.loc_b.id, start_at=world.local(day, 10, tz="America/Phoenix"))
    with pytest.raises(NotFound):
        service.get_appointment(ctx, b.id)
    with pytest.raises(NotFound):
        service.cancel(ctx, b.id, reason="x")


def test_other_org_cannot_see_appointment(world, other_org):
    from praxis.platform.context import system_context

    p = make_patient(world.org)
    a = book(world, p, world.local(future_weekday(), 15))
    with pytest.raises(NotFound):
        service.get_appointment(system_context(other_org.id), a.id)


def test_day_list_audits_each_patient(world):
    from praxis.platform.audit import AuditRecord

    day = future_weekday()
    ps = [make_patient(world.org) for _ in range(3)]
    for i, p in enumerate(ps):
        book(world, p, world.local(day, 9 + i))
    rows = service.list_day(world.ctx, world.org.loc_a.id, day)
    assert [r.patient_id for r in rows] == ps
    with session_scope(world.org.id) as s:
        audited = {r.patient_id for r in s.query(AuditRecord).filter(AuditRecord.action == "appointment.list")}
    assert set(ps) <= audited


def test_holidays_seeded(world):
    added = setup.seed_holidays(world.ctx, world.org.loc_a.id, [2027])
    assert added >= 10
    days = {c.day for c in setup.list_closures(world.ctx, world.org.loc_a.id)}
    assert date(2027, 7, 5) in days or date(2027, 7, 4) in days  # Independence Day (observed)


def test_postgres_exclusion_constraint_refuses_overlap_even_without_the_service(world, is_postgres):
    if not is_postgres:
        pytest.skip("the exclusion constraint exists on PostgreSQL only")
    from sqlalchemy.exc import IntegrityError

    from praxis.scheduling.models import Appointment

    p = make_patient(world.org)
    a = book(world, p, world.local(future_weekday(), 10))
    with pytest.raises(IntegrityError) as exc, session_scope(world.org.id) as s:
        s.add(Appointment(org_id=world.org.id, location_id=a.location_id, provider_id=a.provider_id,
                          patient_id=p, visit_type_id=a.visit_type_id, start_at=a.start_at + timedelta(minutes=10),
                          end_at=a.end_at + timedelta(minutes=10), block_start=a.block_start + timedelta(minutes=10),
                          block_end=a.block_end + timedelta(minutes=10)))
        s.flush()
    assert "ex_appointments_provider_overlap" in str(exc.value)


def test_slot_search_without_a_date_starts_on_todays_local_date(world):
    """17:30 in Phoenix is already tomorrow in UTC; the rest of the Phoenix evening is still today."""
    phx = ZoneInfo("America/Phoenix")
    setup.create_template(world.ctx, provider_id=world.provider2_id, location_id=world.org.loc_b.id,
                          effective_from=now().date() - timedelta(days=1), effective_to=None,
                          blocks=[{"weekday": w, "start_minute": 17 * 60, "end_minute": 21 * 60} for w in range(7)])
    day = future_weekday(3)
    clock.advance(datetime(day.year, day.month, day.day, 17, 30, tzinfo=phx) - now())
    assert now().date() > day  # the UTC date has moved on
    first = service.search_slots(world.ctx, world.visit_id, location_ids=[world.org.loc_b.id], limit=1)[0]
    assert first.local_start.date() == day and first.local_start.hour == 17


def test_restricted_patient_visibility_applies_to_booking(world, make_user):
    """With restrict_patient_search_to_locations, a location-scoped desk books only patients linked
    to its locations; anyone else's patient answers 404 like a missing one."""
    from praxis.platform.db import session_scope as scope
    from praxis.practice.models import Organisation

    with scope(None, system=True, reason="test: reads across organisations") as s:
        o = s.get(Organisation, world.org.id)
        o.settings = {**(o.settings or {}), "restrict_patient_search_to_locations": True}
    ctx = user_ctx(make_user(world.org, "front_desk", world.org.loc_a))
    day = future_weekday(4)
    elsewhere, here = make_patient(world.org), make_patient(world.org)
    service.book(world.ctx, patient_id=elsewhere, visit_type_id=world.visit_id, provider_id=world.provider2_id,
                 location_id=world.org.loc_b.id, start_at=world.local(day, 10, tz="America/Phoenix"))
    service.book(world.ctx, patient_id=here, visit_type_id=world.visit_id, provider_id=world.provider_id,
                 location_id=world.org.loc_a.id, start_at=world.local(day, 9))
    with pytest.raises(NotFound) as exc:
        service.book(ctx, patient_id=elsewhere, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 11))
    assert exc.value.field == "patient_id"
    appt = service.book(ctx, patient_id=here, visit_type_id=world.visit_id, provider_id=world.provider_id,
                        location_id=world.org.loc_a.id, start_at=world.local(day, 11))
    assert appt.patient_id == here

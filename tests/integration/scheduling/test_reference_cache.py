"""Booking's per-process reference cache: every write to the tables it reads bumps the
organisation's version (ORM, Core or raw SQL alike), and a booking never decides on stale data."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from praxis.platform.db import get_engine
from praxis.platform.errors import NotFound, ValidationProblem
from praxis.platform.outbox import OutboxMessage
from praxis.platform.scoping import cross_org
from praxis.scheduling import booking, reference, reminders, service, setup
from praxis.scheduling.service import SlotTaken

from .helpers import future_weekday, make_patient, make_world

# Mirrors migration scheduling_0002: each table booking caches, and its organisation column.
CACHED_TABLES = {
    "organisations": "id", "locations": "org_id", "providers": "org_id", "provider_locations": "org_id",
    "visit_types": "org_id", "business_hours": "org_id", "closures": "org_id",
    "schedule_templates": "org_id", "schedule_template_blocks": "org_id", "reminder_rules": "org_id",
}


@pytest.fixture
def world(org):
    w = make_world(org)
    setup.set_business_hours(w.ctx, org.loc_a.id, {d: [(8 * 60, 18 * 60)] for d in range(7)})
    setup.add_closure(w.ctx, org.loc_a.id, future_weekday(60), "Inventory")
    reminders.create_rule(w.ctx, hours_before=24)
    return w


def _org_param(conn, org_id):
    return org_id.hex if conn.dialect.name == "sqlite" else org_id


def _version(org_id):
    with get_engine().connect() as conn:
        return conn.scalar(text("SELECT version FROM scheduling_reference_versions WHERE org_id = :o"),
                           {"o": _org_param(conn, org_id)})


@pytest.mark.parametrize("table", sorted(CACHED_TABLES))
def test_raw_sql_update_of_each_cached_table_bumps_the_version(world, table):
    column = CACHED_TABLES[table]
    before = _version(world.org.id)
    assert before is not None
    with get_engine().begin() as conn:
        changed = conn.execute(text(f"UPDATE {table} SET {column} = {column} WHERE {column} = :o"),
                               {"o": _org_param(conn, world.org.id)}).rowcount
    assert changed >= 1, f"the fixture left no {table} row to update"
    assert _version(world.org.id) != before


def test_raw_sql_insert_and_delete_bump_the_version(world):
    v0 = _version(world.org.id)
    rule = reminders.create_rule(world.ctx, hours_before=72)
    v1 = _version(world.org.id)
    with get_engine().begin() as conn:
        conn.execute(cross_org(text("DELETE FROM reminder_rules WHERE id = :r"), "test: an operator's raw SQL"),
                     {"r": rule.id.hex if conn.dialect.name == "sqlite" else rule.id})
    assert len({v0, v1, _version(world.org.id)}) == 3


def test_other_organisations_versions_are_untouched(world, other_org):
    make_world(other_org)
    theirs = _version(other_org.id)
    setup.add_closure(world.ctx, world.org.loc_a.id, future_weekday(61), "Ours only")
    assert _version(other_org.id) == theirs


def test_booking_follows_a_raw_sql_hours_change_at_once(world):
    """The cache is warm from the first booking; a DBA then shortens the template by hand."""
    day = future_weekday(12)
    service.book(world.ctx, patient_id=make_patient(world.org), visit_type_id=world.visit_id,
                 provider_id=world.provider_id, location_id=world.org.loc_a.id, start_at=world.local(day, 10))
    assert reference.cached(world.org.id) is not None
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE schedule_template_blocks SET end_minute = 660 WHERE org_id = :o"),
                     {"o": _org_param(conn, world.org.id)})
    with pytest.raises(ValidationProblem) as exc:
        service.book(world.ctx, patient_id=make_patient(world.org), visit_type_id=world.visit_id,
                     provider_id=world.provider_id, location_id=world.org.loc_a.id,
                     start_at=world.local(day, 14))
    assert "outside" in exc.value.detail


def test_a_stale_cache_never_books_what_current_data_refuses(world):
    """Stale data that would *accept* the booking: the probe's version check catches it."""
    day = future_weekday(13)
    service.book(world.ctx, patient_id=make_patient(world.org), visit_type_id=world.visit_id,
                 provider_id=world.provider_id, location_id=world.org.loc_a.id, start_at=world.local(day, 9))
    setup.update_visit_type(world.ctx, world.visit_id, {"active": False})
    with pytest.raises(NotFound) as exc:
        service.book(world.ctx, patient_id=make_patient(world.org), visit_type_id=world.visit_id,
                     provider_id=world.provider_id, location_id=world.org.loc_a.id,
                     start_at=world.local(day, 11))
    assert exc.value.field == "visit_type_id"


def test_a_stale_cache_never_refuses_what_current_data_allows(world):
    """Stale data that would *refuse*: the refusal is checked against the current version first."""
    day = future_weekday(14)
    patient = make_patient(world.org)
    with pytest.raises(ValidationProblem):
        service.book(world.ctx, patient_id=patient, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 17, 30))
    setup.create_template(world.ctx, provider_id=world.provider_id, location_id=world.org.loc_a.id,
                          effective_from=day, effective_to=day,
                          blocks=[{"weekday": day.weekday(), "start_minute": 17 * 60, "end_minute": 18 * 60}])
    appt = service.book(world.ctx, patient_id=patient, visit_type_id=world.visit_id,
                        provider_id=world.provider_id, location_id=world.org.loc_a.id,
                        start_at=world.local(day, 17, 30))
    assert appt.start_at == world.local(day, 17, 30)


def test_cached_reminder_rules_queue_jobs_and_follow_changes(world):
    day = future_weekday(15)
    appt = service.book(world.ctx, patient_id=make_patient(world.org), visit_type_id=world.visit_id,
                        provider_id=world.provider_id, location_id=world.org.loc_a.id,
                        start_at=world.local(day, 9))
    reminders.create_rule(world.ctx, hours_before=48)
    appt2 = service.book(world.ctx, patient_id=make_patient(world.org), visit_type_id=world.visit_id,
                         provider_id=world.provider_id, location_id=world.org.loc_a.id,
                         start_at=world.local(day, 10))

    def due(appointment_id):
        ob = OutboxMessage.__table__
        with get_engine().connect() as conn:
            rows = conn.execute(select(ob.c.payload, ob.c.available_at)
                                .where(ob.c.topic == reminders.REMINDER_TOPIC)).all()
        return [at for payload, at in rows if payload["appointment_id"] == str(appointment_id)]

    assert len(due(appt.id)) == 1
    assert sorted(appt2.start_at - at for at in due(appt2.id)) == [timedelta(hours=24), timedelta(hours=48)]


def test_racing_bookings_queue_on_the_provider_lock_instead_of_deadlocking(world, is_postgres, monkeypatch):
    """PostgreSQL: the advisory lock makes racers queue, so no booking is aborted by the deadlock
    detector inside the exclusion constraint (each abort costs deadlock_timeout and a retry)."""
    if not is_postgres:
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises with BEGIN IMMEDIATE")
    import threading

    retries: list[int] = []

    class CountedRetry(booking._Retry):
        def __init__(self) -> None:
            retries.append(1)
            super().__init__()

    monkeypatch.setattr(booking, "_Retry", CountedRetry)
    patient = make_patient(world.org)
    outcomes: list[str] = []

    def worker(barrier: threading.Barrier, start: datetime) -> None:
        barrier.wait()
        try:
            service.book(world.ctx, patient_id=patient, visit_type_id=world.visit_id,
                         provider_id=world.provider_id, location_id=world.org.loc_a.id, start_at=start)
            outcomes.append("ok")
        except SlotTaken:
            outcomes.append("409")

    # Rounds of 16 racers for six 10-minute-apart starts across 80 minutes (room for exactly two
    # 30-minute visits), on eight different days: without the lock a few racers deadlock.
    for round_ in range(8):
        day = future_weekday(16 + round_)
        starts = [world.local(day, 9) + timedelta(minutes=10 * (i % 6)) for i in range(16)]
        barrier = threading.Barrier(len(starts))
        threads = [threading.Thread(target=worker, args=(barrier, s)) for s in starts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(outcomes) == 8 * 16 and outcomes.count("ok") == 8 * 2
    assert retries == []

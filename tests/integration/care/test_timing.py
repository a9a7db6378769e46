"""The care timer and time entries: one running timer per person, minutes floored, no minute
counted twice, another organisation's or location's entries invisible."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from praxis.care import timing
from praxis.platform import clock
from praxis.platform.clock import now
from praxis.platform.errors import Conflict, NotFound, ValidationProblem

from .helpers import enrol, make_world, new_patient


@pytest.fixture
def setup_care(org, make_user, ctx_for):
    coord = make_user(org, "care_coordinator", org.loc_a)
    w = make_world(org)
    p1, p2 = new_patient(w.ctx, org.loc_a.id), new_patient(w.ctx, org.loc_a.id)
    return w, ctx_for(coord), enrol(w, p1, "ccm"), enrol(w, p2, "ccm")


def test_timer_survives_reload_pauses_and_floors_minutes(setup_care):
    _w, ctx, e1, _ = setup_care
    t = timing.start_timer(ctx, e1.id, activity="patient_call", interactive=True)
    clock.advance(timedelta(minutes=12, seconds=30))
    # A reload asks the server: the running timer is there with its time.
    (found,) = timing.my_timers(ctx)
    assert found.id == t.id and found.running_since is not None
    assert timing.elapsed_seconds(found) >= 12 * 60
    timing.pause_timer(ctx, t.id)
    clock.advance(timedelta(minutes=30))  # paused time does not count
    timing.resume_timer(ctx, t.id)
    clock.advance(timedelta(minutes=7, seconds=29))
    entry = timing.stop_timer(ctx, t.id, note="reviewed meds")
    assert entry is not None and entry.minutes == 19  # 19 min 59 s is 19 minutes, never 20
    assert entry.interactive and entry.source == "timer" and entry.program == "ccm"
    assert timing.my_timers(ctx) == []


def test_second_running_timer_is_refused(setup_care):
    _w, ctx, e1, e2 = setup_care
    t1 = timing.start_timer(ctx, e1.id, activity="coordination")
    with pytest.raises(Conflict) as exc:
        timing.start_timer(ctx, e2.id, activity="coordination")
    assert exc.value.type == "care-timer-running"
    timing.pause_timer(ctx, t1.id)
    t2 = timing.start_timer(ctx, e2.id, activity="coordination")
    with pytest.raises(Conflict):
        timing.resume_timer(ctx, t1.id)
    timing.pause_timer(ctx, t2.id)
    timing.resume_timer(ctx, t1.id)
    assert [t.id for t in timing.my_timers(ctx)] == [t1.id, t2.id]  # running first


def test_two_starts_racing_leave_one_running_timer(setup_care, is_postgres, monkeypatch):
    """Both starts are past the friendly check when they insert: the partial unique index lets one
    win and the other gets 409 (PostgreSQL; SQLite serialises the two with BEGIN IMMEDIATE)."""
    if not is_postgres:
        pytest.skip("SQLite serialises the two units of work with BEGIN IMMEDIATE: they cannot both be inside")
    _w, ctx, e1, e2 = setup_care
    both_checked = threading.Barrier(2, timeout=20)
    check = timing._running_conflict

    def check_then_meet(*args: Any) -> Any:
        result = check(*args)
        both_checked.wait()
        return result

    monkeypatch.setattr(timing, "_running_conflict", check_then_meet)
    outcome: list[Any] = []

    def run(enrolment_id: Any) -> None:
        try:
            outcome.append(timing.start_timer(ctx, enrolment_id, activity="coordination"))
        except Exception as exc:  # recorded and asserted below
            outcome.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in (e1.id, e2.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.setattr(timing, "_running_conflict", check)
    assert sorted(type(o).__name__ for o in outcome) == ["CareTimer", "Conflict"], outcome
    assert len([t for t in timing.my_timers(ctx) if t.running_since is not None]) == 1


def test_manual_entries_never_count_a_minute_twice(setup_care):
    _w, ctx, e1, e2 = setup_care
    start = now() - timedelta(hours=3)
    timing.add_entry(ctx, e1.id, activity="coordination", started_at=start, minutes=30)
    with pytest.raises(Conflict) as exc:  # same person, overlapping minutes, another patient
        timing.add_entry(ctx, e2.id, activity="coordination", started_at=start + timedelta(minutes=29), minutes=5)
    assert exc.value.field == "started_at"
    ok = timing.add_entry(ctx, e2.id, activity="coordination", started_at=start + timedelta(minutes=30), minutes=5)
    assert ok.minutes == 5
    assert [e.minutes for e in timing.list_entries(ctx, e1.id, ok.service_month)] == [30]


def test_entry_validation(setup_care):
    _w, ctx, e1, _ = setup_care
    with pytest.raises(ValidationProblem) as exc:
        timing.add_entry(ctx, e1.id, activity="coordination", started_at=now() - timedelta(hours=1), minutes=0)
    assert exc.value.field == "minutes"
    with pytest.raises(ValidationProblem) as exc:
        timing.add_entry(ctx, e1.id, activity="gardening", started_at=now() - timedelta(hours=1), minutes=5)
    assert exc.value.field == "activity"
    with pytest.raises(ValidationProblem) as exc:
        timing.add_entry(ctx, e1.id, activity="coordination", started_at=now() + timedelta(hours=1), minutes=5)
    assert exc.value.field == "started_at"
    # Only the billing practitioner personally logs practitioner minutes.
    with pytest.raises(ValidationProblem) as exc:
        timing.add_entry(ctx, e1.id, activity="coordination", role="practitioner",
                         started_at=now() - timedelta(hours=1), minutes=5)
    assert exc.value.field == "role"


def test_practitioner_logs_personal_minutes(org, make_user, ctx_for):
    doc = make_user(org, "provider", org.loc_a)
    w = make_world(org, provider_user_id=doc.user_id)
    e = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm")
    entry = timing.add_entry(ctx_for(doc), e.id, activity="care_plan", role="practitioner",
                             started_at=now() - timedelta(hours=2), minutes=31)
    assert entry.role == "practitioner"


def test_entries_invisible_outside_org_and_location(setup_care, other_org, make_user, ctx_for):
    w, ctx, e1, _ = setup_care
    entry = timing.add_entry(ctx, e1.id, activity="coordination", started_at=now() - timedelta(hours=1), minutes=5)
    coord_b = ctx_for(make_user(w.org, "care_coordinator", w.org.loc_b))
    with pytest.raises(NotFound):
        timing.list_entries(coord_b, e1.id, entry.service_month)
    with pytest.raises(NotFound):
        timing.edit_entry(coord_b, entry.id, {"minutes": 6})
    foreign = ctx_for(make_user(other_org, "org_admin"))
    with pytest.raises(NotFound):
        timing.list_entries(foreign, e1.id, entry.service_month)
    with pytest.raises(NotFound):
        timing.start_timer(foreign, e1.id, activity="coordination")

"""Slot generation across DST (America/New_York changes, America/Phoenix does not)."""

from __future__ import annotations

import heapq
import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from praxis.scheduling.availability import (
    BusyIndex,
    Calendar,
    Interval,
    SlotFilter,
    Template,
    VisitSpec,
    WeeklyBlock,
    iter_slots,
    local_day_bounds,
    resolve_local,
    weekly_occurrences,
    why_not_bookable,
    working_windows,
)

NY = "America/New_York"
PHX = "America/Phoenix"
SPRING = date(2026, 3, 8)  # Sunday: 02:00 -> 03:00 in New York
FALL = date(2026, 11, 1)  # Sunday: 02:00 -> 01:00 in New York
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
P1, P2, L1, L2 = (uuid.uuid4() for _ in range(4))


def cal(tz: str, blocks: list[tuple[int, int, int]], *, provider=P1, location=L1, busy=(), hours=None,
        closures=frozenset(), resources=None) -> Calendar:
    tpl = Template(date(2026, 1, 1), None, tuple(WeeklyBlock(w, s, e) for w, s, e in blocks))
    return Calendar(provider, location, tz, [tpl], hours=hours, closures=closures,
                    busy=BusyIndex(busy), resources=resources or {})


def all_days(start_min: int, end_min: int) -> list[tuple[int, int, int]]:
    return [(w, start_min, end_min) for w in range(7)]


V30 = VisitSpec(uuid.uuid4(), 30)


def local_times(slots, tz):
    return [s.start.astimezone(ZoneInfo(tz)).strftime("%H:%M%Z") for s in slots]


def test_spring_forward_night_window_is_one_hour_shorter_and_skips_the_gap():
    c = cal(NY, all_days(0, 6 * 60))  # 00:00-06:00 local
    slots = list(iter_slots(c, V30, SPRING, 1, not_before=LONG_AGO, step_minutes=30))
    assert len(slots) == 10  # 5 real hours, not 6
    times = local_times(slots, NY)
    assert "02:00EST" not in times and not any(t.startswith("02:") for t in times)
    assert times[:4] == ["00:00EST", "00:30EST", "01:00EST", "01:30EST"]
    assert times[4] == "03:00EDT"
    starts = [s.start for s in slots]
    assert len(set(starts)) == len(starts)
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(starts))


def test_fall_back_night_window_is_one_hour_longer_with_both_1_30s():
    c = cal(NY, all_days(0, 3 * 60))  # 00:00-03:00 local = 4 real hours that night
    slots = list(iter_slots(c, V30, FALL, 1, not_before=LONG_AGO, step_minutes=30))
    assert len(slots) == 8
    times = local_times(slots, NY)
    assert times.count("01:30EDT") == 1 and times.count("01:30EST") == 1
    assert slots[-1].end.astimezone(ZoneInfo(NY)).strftime("%H:%M%Z") == "03:00EST"


@pytest.mark.parametrize("day", [SPRING, FALL])
def test_day_clinic_hours_unchanged_by_dst_in_new_york(day):
    c = cal(NY, all_days(9 * 60, 17 * 60))
    slots = list(iter_slots(c, V30, day, 1, not_before=LONG_AGO, step_minutes=30))
    assert len(slots) == 16
    assert local_times(slots, NY)[0].startswith("09:00")
    assert local_times(slots, NY)[-1].startswith("16:30")
    # and the instants are right: 09:00 EDT = 13:00Z after spring forward, 09:00 EST = 14:00Z after fall back
    assert slots[0].start.hour == (13 if day == SPRING else 14)


@pytest.mark.parametrize("day", [SPRING, FALL])
def test_phoenix_has_no_dst(day):
    c = cal(PHX, all_days(0, 6 * 60))
    slots = list(iter_slots(c, V30, day, 1, not_before=LONG_AGO, step_minutes=30))
    assert len(slots) == 12
    assert all(s.start.astimezone(ZoneInfo(PHX)).utcoffset() == timedelta(hours=-7) for s in slots)
    assert slots[0].start == datetime(day.year, day.month, day.day, 7, tzinfo=UTC)


def test_local_day_bounds_are_23_and_25_hours():
    assert (lambda i: i.end - i.start)(local_day_bounds(SPRING, NY)) == timedelta(hours=23)
    assert (lambda i: i.end - i.start)(local_day_bounds(FALL, NY)) == timedelta(hours=25)
    assert (lambda i: i.end - i.start)(local_day_bounds(SPRING, PHX)) == timedelta(hours=24)


def test_gap_time_resolves_to_end_of_gap():
    tz = ZoneInfo(NY)
    assert resolve_local(datetime(2026, 3, 8, 2, 30), tz) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert resolve_local(datetime(2026, 11, 1, 1, 30), tz) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert resolve_local(datetime(2026, 11, 1, 1, 30), tz, later=True) == datetime(2026, 11, 1, 6, 30,
                                                                                  tzinfo=UTC)


def test_window_starting_inside_gap_begins_at_three():
    c = cal(NY, all_days(2 * 60 + 30, 4 * 60))
    w = working_windows(c, SPRING, V30.id)
    assert w == [Interval(datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 3, 8, 8, tzinfo=UTC))]


def test_busy_and_buffers_block_slots():
    day = date(2026, 3, 10)
    c = cal(NY, all_days(9 * 60, 12 * 60),
            busy=[Interval(datetime(2026, 3, 10, 14, tzinfo=UTC), datetime(2026, 3, 10, 14, 30, tzinfo=UTC))])
    v = VisitSpec(uuid.uuid4(), 30, buffer_before_minutes=0, buffer_after_minutes=15)
    times = local_times(iter_slots(c, v, day, 1, not_before=LONG_AGO, step_minutes=15), NY)
    # busy 10:00-10:30 EDT; a 30-min visit + 15 after must end by 10:00 -> last before is 09:15
    assert "09:15EDT" in times and "09:30EDT" not in times and "10:15EDT" not in times
    assert "10:30EDT" in times


def test_business_hours_and_closures_cut_templates():
    day = date(2026, 3, 10)  # Tuesday
    hours = {1: [(10 * 60, 11 * 60)]}
    c = cal(NY, all_days(9 * 60, 17 * 60), hours=hours)
    assert len(list(iter_slots(c, V30, day, 1, not_before=LONG_AGO, step_minutes=30))) == 2
    c2 = cal(NY, all_days(9 * 60, 17 * 60), closures=frozenset({day}))
    assert list(iter_slots(c2, V30, day, 1, not_before=LONG_AGO)) == []


def test_effective_dates_and_visit_type_limits():
    v_other = uuid.uuid4()
    tpl = Template(date(2026, 3, 11), date(2026, 3, 11), (WeeklyBlock(2, 9 * 60, 10 * 60, frozenset({v_other})),))
    c = Calendar(P1, L1, NY, [tpl])
    assert list(iter_slots(c, V30, date(2026, 3, 11), 1, not_before=LONG_AGO)) == []
    v = VisitSpec(v_other, 30)
    assert len(list(iter_slots(c, v, date(2026, 3, 10), 3, not_before=LONG_AGO, step_minutes=30))) == 2


def test_slots_of_providers_in_two_zones_merge_in_time_order_with_filters():
    c1 = cal(NY, all_days(13 * 60, 17 * 60), provider=P1, location=L1)
    c2 = cal(PHX, all_days(8 * 60, 12 * 60), provider=P2, location=L2)  # 08:00 MST = 15:00Z (11:00 EDT)
    day = date(2026, 3, 10)

    def merged(days: int, **kw: object) -> list:
        # How the slot search combines calendars: one time-ordered stream per calendar, merged.
        return list(heapq.merge(*(iter_slots(c, V30, day, days, not_before=LONG_AGO, step_minutes=30, **kw)
                                  for c in (c1, c2)), key=lambda s: s.start))

    slots = merged(2)[:5]
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    assert slots[0].provider_id == P2  # Phoenix 08:00 = 15:00Z is before NY 13:00 EDT = 17:00Z
    morning = merged(1, slot_filter=SlotFilter(time_of_day="afternoon"))
    assert {s.provider_id for s in morning} == {P1}


def test_not_before_excludes_past_slots():
    day = date(2026, 3, 10)
    c = cal(NY, all_days(9 * 60, 10 * 60))
    cut = datetime(2026, 3, 10, 13, 31, tzinfo=UTC)  # 09:31 EDT
    assert local_times(iter_slots(c, V30, day, 1, not_before=cut, step_minutes=15), NY) == []
    # 09:45 + 30 > 10:00 so nothing fits after the cut
    c = cal(NY, all_days(9 * 60, 11 * 60))
    assert local_times(iter_slots(c, V30, day, 1, not_before=cut, step_minutes=15), NY)[0] == "09:45EDT"


def test_resources_required_and_assigned():
    day = date(2026, 3, 10)
    r1, r2 = uuid.uuid4(), uuid.uuid4()
    nine = datetime(2026, 3, 10, 13, tzinfo=UTC)
    res = {"room": {r1: BusyIndex([Interval(nine, nine + timedelta(minutes=30))]), r2: BusyIndex()}}
    c = cal(NY, all_days(9 * 60, 10 * 60), resources=res)
    v = VisitSpec(uuid.uuid4(), 30, required_resource_kinds=("room",))
    slots = list(iter_slots(c, v, day, 1, not_before=LONG_AGO, step_minutes=30))
    assert slots[0].resource_ids == (r2,)
    res_full = {"room": {r1: BusyIndex([Interval(nine, nine + timedelta(hours=1))])}}
    c = cal(NY, all_days(9 * 60, 10 * 60), resources=res_full)
    assert list(iter_slots(c, v, day, 1, not_before=LONG_AGO)) == []


def test_why_not_bookable_reasons():
    day_start = datetime(2026, 3, 10, 13, tzinfo=UTC)  # 09:00 EDT Tuesday
    c = cal(NY, [(1, 9 * 60, 12 * 60)], busy=[Interval(day_start, day_start + timedelta(minutes=30))],
            closures=frozenset({date(2026, 3, 17)}))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert why_not_bookable(c, V30, day_start + timedelta(hours=1), now=now) is None
    assert "past" in why_not_bookable(c, V30, day_start, now=day_start + timedelta(days=1))[1]
    assert "already booked" in why_not_bookable(c, V30, day_start, now=now)[1]
    assert "outside" in why_not_bookable(c, V30, day_start + timedelta(hours=5), now=now)[1]
    assert "closed" in why_not_bookable(c, V30, day_start + timedelta(days=7), now=now)[1]
    # a visit that would run past the end of the block is outside hours
    assert "outside" in why_not_bookable(c, V30, day_start + timedelta(hours=2, minutes=45), now=now)[1]


def test_weekly_occurrences_keep_wall_clock_time_across_dst():
    first = datetime(2026, 3, 2, 14, tzinfo=UTC)  # Monday 09:00 EST
    occ = weekly_occurrences(first, 3, NY)
    assert [o.astimezone(ZoneInfo(NY)).strftime("%m-%d %H:%M") for o in occ] == [
        "03-02 09:00", "03-09 09:00", "03-16 09:00"]
    assert occ[1] - occ[0] == timedelta(days=7, hours=-1)
    fall = weekly_occurrences(datetime(2026, 10, 26, 13, tzinfo=UTC), 2, NY, interval_weeks=1)
    assert fall[1] - fall[0] == timedelta(days=7, hours=1)
    assert len(weekly_occurrences(first, 4, PHX, interval_weeks=2)) == 4
    with pytest.raises(ValueError):
        weekly_occurrences(first, 0, NY)


def test_busy_index_merges_and_checks():
    t = datetime(2026, 1, 1, tzinfo=UTC)
    h = timedelta(hours=1)
    idx = BusyIndex([Interval(t, t + h), Interval(t + h / 2, t + 2 * h), Interval(t + 5 * h, t + 6 * h)])
    assert len(idx) == 2
    assert idx.overlaps(t + 1.5 * h, t + 3 * h)
    assert not idx.overlaps(t + 2 * h, t + 5 * h)  # half-open: touching is fine
    assert idx.overlaps(t + 4 * h, t + 5 * h + timedelta(minutes=1))
    assert idx.next_free(t + h) == t + 2 * h

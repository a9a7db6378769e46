"""Pure availability logic: working windows, open slots, bookability, weekly recurrence.

No I/O. The service loads one `Calendar` per (provider, location) and hands it here.

Time model: templates and business hours are local wall-clock minutes after midnight in the
location's IANA zone; everything else is an aware UTC instant. A local window is turned into a
UTC interval once, and slots are stepped in real (UTC) time inside it, so that
- on a spring-forward day a window across 02:00-03:00 is an hour shorter and no slot is ever
  generated at a wall-clock time that does not exist;
- on a fall-back day a window across 01:00-02:00 is an hour longer and the repeated hour gets
  its own slots (01:30 EDT and 01:30 EST are different instants);
- a boundary falling inside the gap is moved to the first instant after it (03:00).
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

TimeOfDay = Literal["any", "morning", "afternoon", "evening"]
MINUTES_PER_DAY = 1440


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --- value types -------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class WeeklyBlock:
    weekday: int  # 0 = Monday
    start_minute: int
    end_minute: int
    visit_type_ids: frozenset[uuid.UUID] = frozenset()  # empty = any visit type

    def allows(self, visit_type_id: uuid.UUID | None) -> bool:
        return not self.visit_type_ids or visit_type_id is None or visit_type_id in self.visit_type_ids


@dataclass(frozen=True)
class Template:
    effective_from: date
    effective_to: date | None
    blocks: tuple[WeeklyBlock, ...]

    def applies(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


@dataclass(frozen=True)
class VisitSpec:
    id: uuid.UUID | None
    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    required_resource_kinds: tuple[str, ...] = ()

    def block_for(self, start: datetime) -> Interval:
        end = start + timedelta(minutes=self.duration_minutes)
        return Interval(start - timedelta(minutes=self.buffer_before_minutes),
                        end + timedelta(minutes=self.buffer_after_minutes))


class BusyIndex:
    """Disjoint, sorted busy intervals with O(log n) overlap checks."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        merged: list[list[datetime]] = []
        for iv in sorted(intervals):
            if iv.end <= iv.start:
                continue
            if merged and iv.start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], iv.end)
            else:
                merged.append([iv.start, iv.end])
        self._starts = [m[0] for m in merged]
        self._ends = [m[1] for m in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect_right(self._starts, start) - 1
        if i >= 0 and self._ends[i] > start:
            return True
        j = i + 1
        return j < len(self._starts) and self._starts[j] < end

    def next_free(self, start: datetime) -> datetime:
        """The end of the busy interval containing `start`, or `start` when it is free."""
        i = bisect_right(self._starts, start) - 1
        if i >= 0 and self._ends[i] > start:
            return self._ends[i]
        return start

    def __len__(self) -> int:
        return len(self._starts)


@dataclass
class Calendar:
    """Everything needed to find one provider's open time at one location."""

    provider_id: uuid.UUID
    location_id: uuid.UUID
    timezone: str
    templates: Sequence[Template]
    # weekday -> [(open_minute, close_minute)]; None = the location sets no hours (no limit).
    hours: Mapping[int, Sequence[tuple[int, int]]] | None = None
    closures: frozenset[date] = frozenset()
    busy: BusyIndex = field(default_factory=BusyIndex)  # appointments' blocks + exceptions
    # kind -> resource id -> busy index, for the visit type's required resources.
    resources: Mapping[str, Mapping[uuid.UUID, BusyIndex]] = field(default_factory=dict)


@dataclass(frozen=True)
class SlotFilter:
    time_of_day: TimeOfDay = "any"
    earliest_minute: int | None = None  # local minutes after midnight
    latest_minute: int | None = None  # the slot must start before this
    weekdays: frozenset[int] | None = None

    def accepts(self, local_start: datetime) -> bool:
        minute = local_start.hour * 60 + local_start.minute
        if self.weekdays is not None and local_start.weekday() not in self.weekdays:
            return False
        if self.earliest_minute is not None and minute < self.earliest_minute:
            return False
        if self.latest_minute is not None and minute >= self.latest_minute:
            return False
        if self.time_of_day == "morning":
            return minute < 12 * 60
        if self.time_of_day == "afternoon":
            return 12 * 60 <= minute < 17 * 60
        if self.time_of_day == "evening":
            return minute >= 17 * 60
        return True


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime
    provider_id: uuid.UUID = field(compare=False)
    location_id: uuid.UUID = field(compare=False)
    resource_ids: tuple[uuid.UUID, ...] = field(default=(), compare=False)


# --- local time <-> UTC ------------------------------------------------------------------------


def _exists(naive: datetime, tz: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def resolve_local(naive: datetime, tz: ZoneInfo, *, later: bool = False) -> datetime:
    """A local wall-clock time as an aware UTC instant.

    A time in a spring-forward gap becomes the first instant after the gap; an ambiguous time
    (fall-back) is the earlier instant unless `later`.
    """
    if not _exists(naive, tz):
        probe = naive.replace(second=0, microsecond=0)
        for _ in range(24 * 60):
            probe += timedelta(minutes=1)
            if _exists(probe, tz):
                return probe.replace(tzinfo=tz, fold=0).astimezone(UTC)
        raise ValueError(f"no valid local time after {naive} in {tz}")  # pragma: no cover
    return naive.replace(tzinfo=tz, fold=1 if later else 0).astimezone(UTC)


def local_minute_to_utc(day: date, minute: int, tz: ZoneInfo, *, later: bool = False) -> datetime:
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    return resolve_local(naive, tz, later=later)


def local_day_bounds(day: date, tz_name: str) -> Interval:
    """The UTC interval of one local calendar day (23 or 25 hours on DST change days)."""
    tz = zone(tz_name)
    return Interval(local_minute_to_utc(day, 0, tz), local_minute_to_utc(day + timedelta(days=1), 0, tz))


def to_local(instant: datetime, tz_name: str) -> datetime:
    return instant.astimezone(zone(tz_name))


# --- windows and slots -------------------------------------------------------------------------


def _intersect(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            s, e = max(s1, s2), min(e1, e2)
            if s < e:
                out.append((s, e))
    return out


def _merge_minutes(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def local_windows(cal: Calendar, day: date, visit_type_id: uuid.UUID | None) -> list[tuple[int, int]]:
    """Working spans of `day` in local minutes: templates ∩ business hours, minus closures."""
    if day in cal.closures:
        return []
    weekday = day.weekday()
    spans = [(b.start_minute, b.end_minute)
             for t in cal.templates if t.applies(day)
             for b in t.blocks if b.weekday == weekday and b.allows(visit_type_id)]
    spans = _merge_minutes(spans)
    if cal.hours is not None:
        spans = _intersect(spans, _merge_minutes(cal.hours.get(weekday, ())))
    return spans


def working_windows(cal: Calendar, day: date, visit_type_id: uuid.UUID | None) -> list[Interval]:
    """The day's working windows as UTC intervals (DST-correct, see the module docstring)."""
    tz = zone(cal.timezone)
    out = []
    for s, e in local_windows(cal, day, visit_type_id):
        start = local_minute_to_utc(day, s, tz)
        end = local_minute_to_utc(day, e, tz, later=True)
        if start < end:
            out.append(Interval(start, end))
    return out


def free_resources(cal: Calendar, visit: VisitSpec, start: datetime, end: datetime
                    ) -> tuple[uuid.UUID, ...] | None:
    chosen = []
    for kind in visit.required_resource_kinds:
        pool = cal.resources.get(kind, {})
        pick = next((rid for rid, busy in sorted(pool.items(), key=lambda kv: str(kv[0]))
                     if not busy.overlaps(start, end)), None)
        if pick is None:
            return None
        chosen.append(pick)
    return tuple(chosen)


def iter_slots(cal: Calendar, visit: VisitSpec, first_day: date, days: int, *,
               not_before: datetime, step_minutes: int = 15,
               slot_filter: SlotFilter | None = None) -> Iterator[Slot]:
    """Open slots of one calendar, in time order, for `days` local days from `first_day`."""
    step = timedelta(minutes=step_minutes)
    duration = timedelta(minutes=visit.duration_minutes)
    before = timedelta(minutes=visit.buffer_before_minutes)
    after = timedelta(minutes=visit.buffer_after_minutes)
    flt = slot_filter or SlotFilter()
    tz = zone(cal.timezone)
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for window in working_windows(cal, day, visit.id):
            s = window.start
            while s + duration <= window.end:
                if s < not_before:
                    s += step
                    continue
                e = s + duration
                if cal.busy.overlaps(s - before, e + after):
                    s += step
                    continue
                if flt.accepts(s.astimezone(tz)):
                    res = free_resources(cal, visit, s, e)
                    if res is not None:
                        yield Slot(s, e, cal.provider_id, cal.location_id, res)
                s += step


def why_not_bookable(cal: Calendar, visit: VisitSpec, start: datetime, *, now: datetime,
                     check_busy: bool = True) -> tuple[str, str] | None:
    """None when `start` can be booked, else (field, reason) in words a person understands."""
    if start.tzinfo is None:
        return ("start_at", "start time must include a time zone offset")
    if start < now:
        return ("start_at", "that time is in the past")
    end = start + timedelta(minutes=visit.duration_minutes)
    local = start.astimezone(zone(cal.timezone))
    day = local.date()
    if day in cal.closures:
        return ("start_at", f"the location is closed on {day.isoformat()}")
    windows = working_windows(cal, day, visit.id)
    if not any(w.start <= start and end <= w.end for w in windows):
        return ("start_at", f"{local:%a %d %b %H:%M} is outside the provider's hours at this location")
    if check_busy and cal.busy.overlaps(*_astuple(visit.block_for(start))):
        return ("start_at", "the provider is already booked or unavailable at that time")
    if check_busy and visit.required_resource_kinds and free_resources(cal, visit, start, end) is None:
        return ("start_at", "no room or equipment of the required kind is free at that time")
    return None


def _astuple(iv: Interval) -> tuple[datetime, datetime]:
    return iv.start, iv.end


# --- recurrence --------------------------------------------------------------------------------


def weekly_occurrences(first_start: datetime, count: int, tz_name: str, *, interval_weeks: int = 1
                       ) -> list[datetime]:
    """`count` starts, every `interval_weeks` weeks, at the same local wall-clock time as the
    first (so a 09:00 visit stays at 09:00 across a DST change)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if interval_weeks < 1:
        raise ValueError("interval must be at least 1 week")
    tz = zone(tz_name)
    local = first_start.astimezone(tz).replace(tzinfo=None)
    return [resolve_local(local + timedelta(weeks=i * interval_weeks), tz) for i in range(count)]

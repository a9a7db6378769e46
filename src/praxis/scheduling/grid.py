"""The schedule grid's read model: a location's day (or a week of one column) laid out on the
location's slot rows, providers or rooms as columns, appointments as blocks with the actions
their status allows right now, and the free working time one click away from booking.

Pure layout on top of `service.list_day_view` (which audits the patients shown) and the
reference snapshot (templates, hours); the screen (ui/grid.py) only renders it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from urllib.parse import quote

from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.uow import unit_of_work
from praxis.scheduling import reference, service, setup
from praxis.scheduling.availability import local_minute_to_utc, local_windows, to_local, zone
from praxis.scheduling.status import allowed_actions

View = Literal["provider", "room"]
DEFAULT_SLOT_MINUTES = 15
DEFAULT_HOURS = (8 * 60, 18 * 60)
STATUS_WORDS = {"booked": "booked", "confirmed": "confirmed", "checked_in": "checked in", "roomed": "roomed",
                "checked_out": "checked out", "no_show": "no-show", "cancelled": "cancelled"}
# What the block menu offers, in this order; each is shown only when the status machine allows it
# now (no-show only after the start; check-in only on the day).
MENU = ("check_in", "room", "check_out", "undo_check_in", "reschedule", "change_visit_type", "no_show", "cancel")


@dataclass(frozen=True)
class Column:
    index: int  # CSS grid column (1 is the time labels)
    key: uuid.UUID | str
    label: str
    day: date


@dataclass(frozen=True)
class Block:
    id: uuid.UUID
    patient_id: uuid.UUID
    who: str
    mrn: str
    visit: str
    status: str
    status_words: str
    local_start: datetime
    local_end: datetime
    col: int
    row: int
    span: int
    rooms: str
    actions: tuple[str, ...]
    telehealth: bool
    overbooked: bool
    # Strings the template would otherwise build once per block (the flagship shows hundreds).
    key: str = ""  # str(id)
    hhmm: str = ""  # local start, HH:MM


@dataclass(frozen=True)
class FreeCell:
    col: int
    row: int
    label: str  # local HH:MM
    provider_id: uuid.UUID
    start_at: datetime  # UTC
    href: str = ""  # booking this time: /scheduling/book?at=…&provider_id=…&location_id=…


@dataclass(frozen=True)
class Grid:
    location_id: uuid.UUID
    timezone: str
    zone_abbr: str
    view: View
    days: list[date]
    slot_minutes: int
    rows: list[tuple[int, str]]  # (CSS grid row, HH:MM label)
    columns: list[Column]
    blocks: list[Block]
    free: list[FreeCell]
    rooms: dict[uuid.UUID, str]
    providers: dict[uuid.UUID, str]
    focus: uuid.UUID | str | None  # the week view's one column


def slot_minutes(settings: dict[str, object] | None) -> int:
    """The location's slot size (location setting `slot_minutes`: 5, 10, 15, 20, 30 or 60)."""
    value = (settings or {}).get("slot_minutes", DEFAULT_SLOT_MINUTES)
    return value if isinstance(value, int) and value in (5, 10, 15, 20, 30, 60) else DEFAULT_SLOT_MINUTES


def block_actions(status: str, start_at: datetime, moment: datetime, on_the_day: bool) -> tuple[str, ...]:
    """The menu for one block: what the status machine allows now, in the desk's words' order."""
    allowed = set(allowed_actions(status))
    if "reschedule" in allowed:
        allowed.add("reschedule")
    out = []
    for action in MENU:
        if action not in allowed:
            continue
        if action == "no_show" and moment < start_at:
            continue
        if action == "check_in" and not on_the_day:
            continue
        if action == "change_visit_type" and start_at <= moment:  # booking's rules refuse a past start
            continue
        out.append(action)
    return tuple(out)


def build_grid(ctx: Context, location_id: uuid.UUID, day: date, *, view: View = "provider", span_days: int = 1,
               focus: str | None = None, location_settings: dict[str, object] | None = None) -> Grid:
    """The grid for `span_days` (1 or 7) local days from `day`. A week shows one column (`focus`:
    a provider or room id; the first one when not given) across the days."""
    data = service.list_day_view(ctx, location_id, day, days=span_days, audit_action="appointment.grid")
    # list_day_view has just checked the reference snapshot against the database in its own
    # transaction; the layout (templates, hours) uses that snapshot rather than a second round trip.
    ref = reference.cached(ctx.org_id)
    if ref is None or location_id not in ref.zones:
        with unit_of_work(ctx) as session:
            ref = reference.current(session.connection(), ctx.org_id)
    tz_name = ref.zones[location_id]
    tz = zone(tz_name)
    step = slot_minutes(location_settings)
    days = [day + timedelta(days=i) for i in range(span_days)]
    moment = now()
    today = to_local(moment, tz_name).date()
    keys: dict[uuid.UUID | str, str] = dict(data.providers if view == "provider" else data.rooms)
    if view == "room":
        keys["unassigned"] = "No room yet"

    focus_key: uuid.UUID | str | None = None
    if span_days > 1:
        wanted = next((k for k in keys if str(k) == focus), None)
        focus_key = wanted if wanted is not None else next(iter(keys), None)
        columns = [Column(2 + i, focus_key or "", keys.get(focus_key or "", ""), d) for i, d in enumerate(days)]
    else:
        columns = [Column(2 + i, k, label, day) for i, (k, label) in enumerate(keys.items())]
    col_of = {(c.key, c.day): c.index for c in columns}

    # Rows: the location's business hours, widened to every working window and appointment shown.
    first, last = DEFAULT_HOURS
    hours = ref.hours.get(location_id) or {}
    spans = [s for d in days for s in hours.get(d.weekday(), ())]
    windows: dict[tuple[uuid.UUID, date], list[tuple[int, int]]] = {}
    if view == "provider":
        for c in columns:
            if isinstance(c.key, uuid.UUID):
                cal = ref.calendar(c.key, location_id)
                if cal is not None:
                    windows[(c.key, c.day)] = local_windows(cal, c.day, None)
                    spans.extend(windows[(c.key, c.day)])
    if spans:
        first, last = min(s for s, _ in spans), max(e for _, e in spans)
    for r in data.rows:
        start_min = r.local_start.hour * 60 + r.local_start.minute
        first = min(first, start_min)
        last = max(last, start_min + int((r.end_at - r.start_at).total_seconds() // 60))
    first -= first % step
    last = min(24 * 60, last + (-last) % step)

    def row_of(minute: int) -> int:
        return 2 + (minute - first) // step

    blocks: list[Block] = []
    taken: dict[tuple[uuid.UUID, date], list[tuple[int, int]]] = {}
    for r in data.rows:
        local_day = r.local_start.date()
        start_min = r.local_start.hour * 60 + r.local_start.minute
        minutes = max(1, int((r.end_at - r.start_at).total_seconds() // 60))
        if r.status in ("booked", "confirmed", "checked_in", "roomed", "checked_out"):
            taken.setdefault((r.provider_id, local_day), []).append((start_min, start_min + minutes))
        targets: list[uuid.UUID | str] = [r.provider_id] if view == "provider" else (list(r.room_ids) or ["unassigned"])
        first_name, last_name, mrn, _dob = data.patients.get(r.patient_id, ("?", "?", "", None))
        vt = data.visit_types.get(r.visit_type_id)
        actions = block_actions(r.status, r.start_at, moment, local_day == today)
        for t in targets:
            col = col_of.get((t, local_day))
            if col is None:
                continue
            blocks.append(Block(
                r.id, r.patient_id, f"{last_name}, {first_name}", mrn, vt.name if vt else "", r.status,
                STATUS_WORDS.get(r.status, r.status), r.local_start, r.local_start + (r.end_at - r.start_at), col,
                row_of(start_min), max(1, -(-minutes // step)),
                ", ".join(data.rooms.get(x, "") for x in r.room_ids), actions, r.telehealth, r.overbooked,
                str(r.id), r.local_start.strftime("%H:%M")))

    free: list[FreeCell] = []
    instants: dict[tuple[date, int], datetime] = {}  # every provider shares the day's rows

    def instant(d: date, minute: int) -> datetime:
        key = (d, minute)
        if key not in instants:
            instants[key] = local_minute_to_utc(d, minute, tz)
        return instants[key]

    for (provider_id, d), spans_of_day in windows.items():
        busy = taken.get((provider_id, d), [])
        col = col_of.get((provider_id, d))
        if col is None:
            continue
        for s, e in spans_of_day:
            minute = s + (-s) % step
            while minute + step <= e:
                if not any(bs < minute + step and minute < be for bs, be in busy):
                    start_at = instant(d, minute)
                    if start_at > moment:
                        href = (f"/scheduling/book?at={quote(start_at.isoformat())}&provider_id={provider_id}"
                                f"&location_id={location_id}")
                        free.append(FreeCell(col, row_of(minute), f"{minute // 60:02d}:{minute % 60:02d}",
                                             provider_id, start_at, href))
                minute += step

    rows = [(row_of(m), f"{m // 60:02d}:{m % 60:02d}") for m in range(first, last, step)]
    abbr = datetime(day.year, day.month, day.day, 12, tzinfo=tz).strftime("%Z")
    return Grid(location_id, tz_name, abbr, view, days, step, rows, columns, blocks, free,
                dict(data.rooms), dict(data.providers), focus_key)


@dataclass(frozen=True)
class BlockMenu:
    """What one block's menu offers (loaded when the menu opens, so the grid stays light)."""

    appointment_id: uuid.UUID
    patient_id: uuid.UUID
    location_id: uuid.UUID
    status: str
    status_words: str
    local_start: datetime
    actions: tuple[str, ...]
    rooms: dict[uuid.UUID, str]
    visit_type_id: uuid.UUID | None = None
    version: int = 0
    # Active visit types other than the visit's, by name, for "change visit type" (the service
    # checks that the chosen one is bookable there and then).
    visit_types: dict[uuid.UUID, str] = field(default_factory=dict)


def block_menu(ctx: Context, appointment_id: uuid.UUID) -> BlockMenu:
    """The menu of one appointment's block (audited as a view of the appointment)."""
    appt = service.get_appointment(ctx, appointment_id)
    with unit_of_work(ctx) as session:
        ref = reference.current(session.connection(), ctx.org_id)
    tz_name = ref.zones.get(appt.location_id, "UTC")
    moment = now()
    local = to_local(appt.start_at, tz_name)
    actions = block_actions(appt.status, appt.start_at, moment, local.date() == to_local(moment, tz_name).date())
    rooms = {r.id: r.name for r in setup.list_resources(ctx, appt.location_id)} if "room" in actions else {}
    visit_types = {} if "change_visit_type" not in actions else {
        v.id: f"{v.name} ({v.duration_minutes} min)" for v in sorted(ref.visit_types.values(), key=lambda v: v.name)
        if v.active and v.id != appt.visit_type_id}
    return BlockMenu(appt.id, appt.patient_id, appt.location_id, appt.status,
                     STATUS_WORDS.get(appt.status, appt.status), local, actions, rooms, appt.visit_type_id,
                     appt.version, visit_types)

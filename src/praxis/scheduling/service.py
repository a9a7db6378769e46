"""Scheduling's public functions: slot search, booking, rescheduling, visit type changes, status
changes, day lists.

Each command takes a Context first, owns its unit of work, checks permission and location scope,
writes the audit record and emits events in the same transaction.

Booking lives in `booking.py` (the request value object, the lock, the probe, the writes); the
functions here keep its keyword form for the API, the screens and other callers. Reference data
(visit types, templates, hours, ...) comes from a per-process cache checked against a
trigger-maintained version in the same transaction (reference.py).
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, select
from sqlalchemy.orm import Session

from praxis.platform import audit, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Conflict, Forbidden, NotFound, ValidationProblem
from praxis.platform.schemas import day_in_range
from praxis.platform.uow import unit_of_work, write_lock
from praxis.scheduling import booking, patients_port, reference, setup
from praxis.scheduling import calendars as cal
from praxis.scheduling.availability import (
    Slot,
    SlotFilter,
    iter_slots,
    local_day_bounds,
    to_local,
)
from praxis.scheduling.booking import MAX_SERIES, BookingRequest, SlotTaken, provider_lock_key, retrying
from praxis.scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentResource,
    Provider,
    ProviderLocation,
    ReminderLog,
)
from praxis.scheduling.permissions import SCHEDULING_BOOK, SCHEDULING_CHECKIN, SCHEDULING_READ
from praxis.scheduling.reminders import reminder_rows
from praxis.scheduling.status import TransitionRefused, transition

MAX_SEARCH_DAYS = 92


def _scope_locations(ctx: Context, permission: str, wanted: Sequence[uuid.UUID] | None
                     ) -> list[uuid.UUID] | None:
    """Locations the actor may use: the wanted ones within scope (None = every location)."""
    scope = ctx.scope(permission)
    if scope is None:
        return list(wanted) if wanted else None
    if wanted:
        return [loc for loc in wanted if loc in scope]
    return list(scope)


# --- slot search ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotView:
    start_at: datetime
    end_at: datetime
    local_start: datetime
    provider_id: uuid.UUID
    location_id: uuid.UUID
    visit_type_id: uuid.UUID


def search_slots(ctx: Context, visit_type_id: uuid.UUID, *, from_date: date | None = None, days: int = 30,
                 provider_ids: Sequence[uuid.UUID] | None = None,
                 location_ids: Sequence[uuid.UUID] | None = None,
                 slot_filter: SlotFilter | None = None, limit: int = 10, step_minutes: int = 15,
                 self_bookable_only: bool = False, permission: str = SCHEDULING_READ) -> list[SlotView]:
    """The first `limit` open slots for a visit type across providers and locations."""
    if not ctx.has(permission):
        raise Forbidden(f"Permission {permission} required")
    if not 1 <= days <= MAX_SEARCH_DAYS:
        raise ValidationProblem(f"days must be between 1 and {MAX_SEARCH_DAYS}", field="days")
    day_in_range(from_date, "from_date")  # screens and the public page call here without a schema
    locations = _scope_locations(ctx, permission, location_ids)
    with unit_of_work(ctx) as session:
        ref = reference.current(session.connection(), ctx.org_id)
        vt = ref.visit_types.get(visit_type_id)
        if vt is None or not vt.active or (self_bookable_only and not vt.self_bookable):
            raise NotFound("No such visit type", field="visit_type_id")
        wanted_providers = set(provider_ids) if provider_ids is not None else None
        wanted_locations = set(locations) if locations is not None else None
        pairs = sorted(((p, loc) for p, loc in ref.pairs if loc in ref.zones
                        and (wanted_providers is None or p in wanted_providers)
                        and (wanted_locations is None or loc in wanted_locations)), key=str)
        return _first_open(session.connection(), ctx.org_id, ref, pairs, vt, start_day=from_date, days=days,
                           slot_filter=slot_filter, limit=limit, step_minutes=step_minutes)


# Days loaded per round of a slot search: the first open slots are usually near the start, so the
# search reads a short window first and widens only when it has not found enough.
_SEARCH_CHUNKS = (2, 5, 14, 31, 31, 31)


def _first_open(conn: Any, org_id: uuid.UUID, ref: reference.Reference, pairs: list[tuple[uuid.UUID, uuid.UUID]],
                vt: cal.VisitTypeRow, *, start_day: date | None, days: int, slot_filter: SlotFilter | None,
                limit: int, step_minutes: int) -> list[SlotView]:
    """The first `limit` open slots whose local day is in [start_day, start_day + days); no
    `start_day` = today in the searched locations.

    Local days run from a day early to a day late so every zone's `start_day` is covered. They are
    read in growing chunks; after a chunk ending before local day D, every slot starting before the
    earliest UTC start of D in any zone is final (later chunks only hold later slots), so the search
    stops once `limit` such slots are in hand. Out-of-range slots are skipped inside the merge.
    Templates, hours and closures come from the reference snapshot; each chunk reads only busy
    time and the required rooms' bookings."""
    if not pairs:
        return []
    stamp = now()
    zones = {loc: ref.zones[loc] for _, loc in pairs}
    provider_ids = sorted({p for p, _ in pairs}, key=str)
    resources = cal.active_resources(conn, org_id, sorted(zones, key=str), vt.required_resource_kinds)
    if start_day is None:  # today where it is earliest among the searched locations, not the UTC date
        start_day = min(to_local(stamp, z).date() for z in zones.values())
    first, total = start_day - timedelta(days=1), days + 2
    last_day = start_day + timedelta(days=days)
    found: list[Slot] = []
    d, i = first, 0
    while d < first + timedelta(days=total):
        size = min(_SEARCH_CHUNKS[min(i, len(_SEARCH_CHUNKS) - 1)], (first + timedelta(days=total) - d).days)
        window = cal.utc_range(d, size, zones.values())
        busy, exceptions = cal.load_busy(conn, org_id, provider_ids, window)
        pools = cal.load_resource_pools(conn, org_id, resources, window) if resources else {}
        calendars = [c for p, loc in pairs if (c := ref.calendar(
            p, loc, busy=cal.own_busy(p, loc, busy, exceptions), resources=pools.get(loc, {}))) is not None]
        d, i = d + timedelta(days=size), i + 1
        cutoff = min(local_day_bounds(d, z).start for z in set(zones.values()))
        streams = [iter_slots(c, vt.spec, d - timedelta(days=size), size, not_before=stamp,
                              step_minutes=step_minutes, slot_filter=slot_filter) for c in calendars]
        final = sum(1 for s in found if s.start < cutoff)
        for s in heapq.merge(*streams, key=lambda s: s.start):
            if not start_day <= to_local(s.start, zones[s.location_id]).date() < last_day:
                continue
            found.append(s)
            if s.start < cutoff:
                final += 1
                if final >= limit:
                    break
        if final >= limit:
            break
    found.sort(key=lambda s: s.start)
    return [SlotView(s.start, s.end, to_local(s.start, zones[s.location_id]), s.provider_id, s.location_id,
                     vt.id) for s in found[:limit]]


# --- booking (scheduling/booking.py is its home; these keep the keyword form for the edges) --------


def book(ctx: Context, *, patient_id: uuid.UUID, visit_type_id: uuid.UUID, provider_id: uuid.UUID,
         location_id: uuid.UUID, start_at: datetime, overbook: bool = False, reason_for_visit: str = "",
         source: str = "staff") -> Appointment:
    """Book one appointment (`booking.book`); 409 when the time is taken, 422 when it is not
    bookable at all."""
    return booking.book(ctx, BookingRequest(patient_id, visit_type_id, provider_id, location_id, start_at,
                                            overbook, reason_for_visit, source))


def book_in(conn: Connection, ctx: Context, *, patient_id: uuid.UUID, visit_type_id: uuid.UUID,
            provider_id: uuid.UUID, location_id: uuid.UUID, start_at: datetime, overbook: bool = False,
            reason_for_visit: str = "", source: str = "staff") -> Appointment:
    """Book one appointment in the caller's writing transaction (`booking.book_in`)."""
    return booking.book_in(conn, ctx, BookingRequest(patient_id, visit_type_id, provider_id, location_id,
                                                     start_at, overbook, reason_for_visit, source))


def book_series(ctx: Context, *, patient_id: uuid.UUID, visit_type_id: uuid.UUID, provider_id: uuid.UUID,
                location_id: uuid.UUID, first_start_at: datetime, count: int, interval_weeks: int = 1,
                reason_for_visit: str = "") -> list[Appointment]:
    """Book a weekly series (`booking.book_series`): all of it, or nothing with every conflicting
    occurrence reported."""
    first = BookingRequest(patient_id, visit_type_id, provider_id, location_id, first_start_at,
                           reason_for_visit=reason_for_visit)
    return booking.book_series(ctx, first, count=count, interval_weeks=interval_weeks)


def _load_appointment(session: Session, ctx: Context, appointment_id: uuid.UUID, permission: str
                      ) -> Appointment:
    appt = get_or_404(session, Appointment, appointment_id, "appointment")
    ctx.require(permission, appt.location_id, what="appointment")
    return appt


def get_appointment(ctx: Context, appointment_id: uuid.UUID) -> Appointment:
    with unit_of_work(ctx) as session:
        appt = _load_appointment(session, ctx, appointment_id, SCHEDULING_READ)
        audit.record(session, ctx, "appointment.view", "appointment", appt.id, patient_id=appt.patient_id,
                     location_id=appt.location_id)
        return appt


def emit_slot_freed(session: Session, *, provider_id: uuid.UUID, location_id: uuid.UUID,
                    visit_type_id: uuid.UUID, start_at: datetime, end_at: datetime,
                    appointment_id: uuid.UUID | None = None) -> None:
    """Tell the waitlist a time came free (waitlist.handle_slot_freed offers it to the best match)."""
    payload = {"provider_id": str(provider_id), "location_id": str(location_id),
               "visit_type_id": str(visit_type_id), "start_at": start_at.isoformat(), "end_at": end_at.isoformat()}
    if appointment_id is not None:
        payload["appointment_id"] = str(appointment_id)
    outbox.emit(session, "scheduling.slot_freed", payload)


def _release_resources(session: Session, appt: Appointment) -> None:
    ar = AppointmentResource.__table__
    session.flush()
    session.execute(ar.update().where(ar.c.org_id == appt.org_id, ar.c.appointment_id == appt.id)
                    .values(active=False))


def reschedule(ctx: Context, appointment_id: uuid.UUID, *, start_at: datetime,
               provider_id: uuid.UUID | None = None, location_id: uuid.UUID | None = None,
               overbook: bool = False, expected_version: int | None = None,
               visit_type_id: uuid.UUID | None = None) -> Appointment:
    """Move a booked or confirmed appointment (same id) to a new time, provider or location.
    `expected_version` (an If-Match): 412 when the appointment changed since the caller read it.
    With a different `visit_type_id` the visit type changes in the same transaction, as
    `change_visit_type` changes it (an inbound SIU^S13/S14 may change both at once)."""
    return booking.retrying(lambda: _replan(ctx, appointment_id, start_at=start_at, provider_id=provider_id,
                                            location_id=location_id, visit_type_id=visit_type_id,
                                            overbook=overbook, expected_version=expected_version, move=True))


def change_visit_type(ctx: Context, appointment_id: uuid.UUID, *, visit_type_id: uuid.UUID,
                      overbook: bool = False, expected_version: int | None = None) -> Appointment:
    """Change a booked or confirmed appointment's visit type, and with it its length, buffers,
    rooms and modality, at the same time, provider and location.

    Booking's rules apply to the new visit type: it must be active and bookable for the provider
    at the location at that time (hours, template blocks limited to visit types, past), fit the
    patient (new/established), not double-book the provider (409 `slot-taken`; `overbook` as in
    booking) and find its rooms or equipment free (409). `expected_version` as in `reschedule`
    (412). Audited as `appointment.change_visit_type`; emits `scheduling.appointment_modified`
    (identifiers and the old and new visit type only). The same visit type changes nothing."""
    return booking.retrying(lambda: _replan(ctx, appointment_id, start_at=None, provider_id=None, location_id=None,
                                            visit_type_id=visit_type_id, overbook=overbook,
                                            expected_version=expected_version, move=False))


def _check_version(appt: Appointment, expected_version: int | None) -> None:
    if expected_version is not None and appt.version != expected_version:
        raise Conflict(f"The appointment is at version {appt.version}, not {expected_version}; read it again",
                       field="If-Match", status=412, type="precondition-failed")


def _replan(ctx: Context, appointment_id: uuid.UUID, *, start_at: datetime | None, provider_id: uuid.UUID | None,
            location_id: uuid.UUID | None, visit_type_id: uuid.UUID | None, overbook: bool,
            expected_version: int | None, move: bool) -> Appointment:
    """Reschedule (`move`) and/or change the visit type, planned once by booking's `plan`."""
    with unit_of_work(ctx) as session:
        write_lock(session)
        appt = _load_appointment(session, ctx, appointment_id, SCHEDULING_BOOK)
        _check_version(appt, expected_version)
        retype = visit_type_id is not None and visit_type_id != appt.visit_type_id
        t = transition(appt.status, "reschedule" if move else "change_visit_type")
        if not move and not retype:
            # Asking for the visit type it has: nothing to change, but the caller is shown the visit.
            audit.record(session, ctx, "appointment.view", "appointment", appt.id, patient_id=appt.patient_id,
                         location_id=appt.location_id)
            return appt
        booking.lock_provider(session.connection(), ctx.org_id, provider_id or appt.provider_id)
        new_location = location_id or appt.location_id
        ctx.require(SCHEDULING_BOOK, new_location, what="location")
        new_visit_type = visit_type_id if retype and visit_type_id is not None else appt.visit_type_id
        wanted = BookingRequest(appt.patient_id, new_visit_type, provider_id or appt.provider_id, new_location,
                                start_at if move and start_at is not None else appt.start_at, overbook)
        # The patient's fit (new/established, status) was checked when the visit type was chosen;
        # a new visit type is checked again.
        plan = booking.plan(session.connection(), ctx, wanted, exclude=appt.id, check_patient=retype)
        old_start, old_end, old_provider, old_location, old_visit_type = (
            appt.start_at, appt.end_at, appt.provider_id, appt.location_id, appt.visit_type_id)
        was = {"start_at": old_start.isoformat(), "end_at": old_end.isoformat(),
               "provider_id": str(old_provider), "location_id": str(old_location)}
        _release_resources(session, appt)
        appt.provider_id, appt.location_id = provider_id or appt.provider_id, new_location
        appt.visit_type_id, appt.telehealth = plan.visit.id, plan.visit.modality == "telehealth"
        appt.start_at, appt.end_at = plan.start_at, plan.end_at
        appt.block_start, appt.block_end, appt.overbooked = plan.block_start, plan.block_end, plan.overbooked
        appt.status = t.after
        if move:
            appt.confirmed_at = None
        appt.version += 1
        booking.hold_resources(session, appt, plan.resource_ids)
        booking.flush_or_conflict(session)
        if move:
            audit.record(session, ctx, "appointment.reschedule", "appointment", appt.id,
                         patient_id=appt.patient_id, location_id=appt.location_id,
                         detail={"was": was["start_at"], "now": plan.start_at.isoformat()})
            outbox.emit(session, "scheduling.appointment_rescheduled", {"appointment_id": str(appt.id), "was": was,
                                                                        "origin": ctx.origin})
            outbox.write(session.connection(),
                         reminder_rows(ctx.org_id, plan.ref.reminder_rules, appt.id, plan.start_at))
            if old_start > now():
                emit_slot_freed(session, provider_id=old_provider, location_id=old_location,
                                visit_type_id=old_visit_type, start_at=old_start, end_at=old_end,
                                appointment_id=appt.id)
            if new_location != old_location:
                patients_port.add_location_link(session.connection(), ctx.org_id, appt.patient_id, new_location)
        if retype:
            audit.record(session, ctx, "appointment.change_visit_type", "appointment", appt.id,
                         patient_id=appt.patient_id, location_id=appt.location_id,
                         detail={"was": str(old_visit_type), "now": str(appt.visit_type_id),
                                 "end_at": plan.end_at.isoformat()})
            # The version makes each change its own event: the HL7 and webhook fan-outs derive
            # their message ids from the payload, and A -> B -> A -> B must be sent twice.
            outbox.emit(session, "scheduling.appointment_modified", {
                "appointment_id": str(appt.id), "visit_type_id": str(appt.visit_type_id),
                "was_visit_type_id": str(old_visit_type), "version": appt.version,
                "origin": ctx.origin})
        return appt


def cancel(ctx: Context, appointment_id: uuid.UUID, *, reason: str, expected_version: int | None = None
           ) -> Appointment:
    """Cancel with a reason; `expected_version` as in `reschedule`."""
    if not reason or not reason.strip():
        raise ValidationProblem("A cancellation reason is required", field="reason")
    with unit_of_work(ctx) as session:
        appt = _load_appointment(session, ctx, appointment_id, SCHEDULING_BOOK)
        _check_version(appt, expected_version)
        t = transition(appt.status, "cancel")
        appt.status, appt.cancel_reason, appt.cancelled_at = t.after, reason.strip()[:200], now()
        appt.version += 1
        _release_resources(session, appt)
        audit.record(session, ctx, "appointment.cancel", "appointment", appt.id, patient_id=appt.patient_id,
                     location_id=appt.location_id, detail={"reason": appt.cancel_reason})
        outbox.emit(session, "scheduling.appointment_cancelled", {"appointment_id": str(appt.id),
                                                                  "origin": ctx.origin})
        if appt.start_at > now():
            emit_slot_freed(session, provider_id=appt.provider_id, location_id=appt.location_id,
                            visit_type_id=appt.visit_type_id, start_at=appt.start_at, end_at=appt.end_at,
                            appointment_id=appt.id)
        return appt


StatusAction = Literal["confirm", "check_in", "room", "check_out", "no_show", "undo_check_in", "undo_room"]
_ACTION_PERMISSION = {"confirm": SCHEDULING_BOOK}
_STAMP = {"confirm": "confirmed_at", "check_in": "checked_in_at", "room": "roomed_at",
          "check_out": "checked_out_at", "no_show": "no_show_at"}


def change_status(ctx: Context, appointment_id: uuid.UUID, action: StatusAction, *,
                  room_id: uuid.UUID | None = None) -> Appointment:
    """Move an appointment through the desk's statuses (check-in, rooming, check-out, no-show)."""
    return booking.retrying(lambda: _change_status(ctx, appointment_id, action, room_id=room_id))


def _change_status(ctx: Context, appointment_id: uuid.UUID, action: StatusAction, *,
                   room_id: uuid.UUID | None) -> Appointment:
    permission = _ACTION_PERMISSION.get(action, SCHEDULING_CHECKIN)
    with unit_of_work(ctx) as session:
        appt = _load_appointment(session, ctx, appointment_id, permission)
        t = transition(appt.status, action, start_at=appt.start_at, now=now())
        if action == "check_in":
            tz = _zone(session, appt)
            if to_local(appt.start_at, tz).date() != to_local(now(), tz).date():
                raise TransitionRefused("Check-in is possible only on the day of the appointment",
                                        field="status")
        appt.status = t.after
        if action in _STAMP:
            setattr(appt, _STAMP[action], now())
        if action == "undo_check_in":
            appt.checked_in_at = None
        if action == "undo_room":
            appt.roomed_at = None
        appt.version += 1
        if action == "no_show":
            _release_resources(session, appt)
        if room_id is not None and action == "room":
            _assign_room(session, appt, room_id)
        audit.record(session, ctx, f"appointment.{action}", "appointment", appt.id,
                     patient_id=appt.patient_id, location_id=appt.location_id)
        outbox.emit(session, "scheduling.appointment_status", {"appointment_id": str(appt.id),
                                                               "status": appt.status, "action": action,
                                                               "origin": ctx.origin})
        return appt


def _zone(session: Session, appt: Appointment) -> str:
    return cal.location_zones(session.connection(), appt.org_id, [appt.location_id]).get(
        appt.location_id, "UTC")


def _assign_room(session: Session, appt: Appointment, room_id: uuid.UUID) -> None:
    rs = cal.RS
    ok = session.connection().scalar(select(rs.c.id).where(
        rs.c.org_id == appt.org_id, rs.c.id == room_id, rs.c.location_id == appt.location_id))
    if ok is None:
        raise NotFound("No such room at this location", field="room_id")
    _release_resources(session, appt)
    session.add(AppointmentResource(org_id=appt.org_id, appointment_id=appt.id, resource_id=room_id,
                                    start_at=now(), end_at=max(appt.end_at, now() + timedelta(minutes=5))))
    booking.flush_or_conflict(session)


# --- day lists -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayRow:
    id: uuid.UUID
    start_at: datetime
    end_at: datetime
    local_start: datetime
    provider_id: uuid.UUID
    location_id: uuid.UUID
    patient_id: uuid.UUID
    visit_type_id: uuid.UUID
    status: str
    overbooked: bool
    telehealth: bool
    checked_in_at: datetime | None
    room_ids: tuple[uuid.UUID, ...]
    updated_at: datetime | None = None


SortKey = Literal["start", "provider", "status"]


def list_day(ctx: Context, location_id: uuid.UUID, day: date, *, days: int = 1,
             provider_id: uuid.UUID | None = None, include_cancelled: bool = False,
             sort: SortKey = "start", audit_action: str = "appointment.list") -> list[DayRow]:
    """Appointments of one location for `days` local days (Core; one audit row per patient)."""
    with unit_of_work(ctx) as session:
        return _day_rows(session, ctx, reference.current(session.connection(), ctx.org_id), location_id, day,
                         days=days, provider_id=provider_id,
                         include_cancelled=include_cancelled, sort=sort, audit_action=audit_action)


@dataclass(frozen=True)
class DayView:
    """A location's appointments with what a screen shows beside them (the grid, the day sheet)."""

    rows: list[DayRow]
    patients: dict[uuid.UUID, tuple[str, str, str, date]]  # id -> first/preferred, last, MRN, DOB
    providers: dict[uuid.UUID, str]  # active providers working at the location, by display name
    rooms: dict[uuid.UUID, str]  # the location's active rooms and equipment
    visit_types: dict[uuid.UUID, cal.VisitTypeRow]


def list_day_view(ctx: Context, location_id: uuid.UUID, day: date, *, days: int = 1,
                  audit_action: str = "appointment.list") -> DayView:
    """`list_day` plus patient names, providers, rooms and visit types, in one unit of work."""
    with unit_of_work(ctx) as session:
        conn = session.connection()
        ref = reference.current(conn, ctx.org_id)
        rows = _day_rows(session, ctx, ref, location_id, day, days=days, provider_id=None, include_cancelled=False,
                         sort="start", audit_action=audit_action)
        patients = patients_port.names(conn, ctx.org_id, list(dict.fromkeys(r.patient_id for r in rows)))
        providers = sorted(session.scalars(
            select(Provider).join(ProviderLocation, and_(ProviderLocation.org_id == Provider.org_id,
                                                         ProviderLocation.provider_id == Provider.id))
            .where(ProviderLocation.location_id == location_id, Provider.active.is_(True))),
            key=lambda p: (p.last_name, p.first_name))
        rooms = setup.active_resources(session, location_id)
        return DayView(rows, patients, {p.id: p.display_name for p in providers}, {r.id: r.name for r in rooms},
                       dict(ref.visit_types))


def _day_rows(session: Session, ctx: Context, ref: reference.Reference, location_id: uuid.UUID, day: date, *,
              days: int,
              provider_id: uuid.UUID | None, include_cancelled: bool, sort: SortKey,
              audit_action: str) -> list[DayRow]:
    ctx.require(SCHEDULING_READ, location_id, what="location")
    if not 1 <= days <= 14:
        raise ValidationProblem("days must be between 1 and 14", field="days")
    day_in_range(day, "day")
    conn = session.connection()
    if location_id not in ref.zones:
        raise NotFound("No such location")
    tz = ref.zones[location_id]
    start = local_day_bounds(day, tz).start
    end = local_day_bounds(day + timedelta(days=days - 1), tz).end
    a = cal.A
    q = (select(a.c.id, a.c.start_at, a.c.end_at, a.c.provider_id, a.c.location_id, a.c.patient_id,
                a.c.visit_type_id, a.c.status, a.c.overbooked, a.c.telehealth, a.c.checked_in_at, a.c.updated_at)
         .where(a.c.org_id == ctx.org_id, a.c.location_id == location_id,
                a.c.start_at >= start, a.c.start_at < end))
    if provider_id is not None:
        q = q.where(a.c.provider_id == provider_id)
    if not include_cancelled:
        q = q.where(a.c.status.in_((*ACTIVE_STATUSES, "no_show")))
    order = {"start": (a.c.start_at, a.c.provider_id), "provider": (a.c.provider_id, a.c.start_at),
             "status": (a.c.status, a.c.start_at)}[sort]
    rows = conn.execute(q.order_by(*order)).all()
    rooms: dict[uuid.UUID, list[uuid.UUID]] = {}
    if rows:
        ar = cal.AR
        for r in conn.execute(select(ar.c.appointment_id, ar.c.resource_id).join(
                a, and_(a.c.org_id == ar.c.org_id, a.c.id == ar.c.appointment_id)).where(
                ar.c.org_id == ctx.org_id, ar.c.active.is_(True), a.c.location_id == location_id,
                a.c.start_at >= start, a.c.start_at < end)):
            rooms.setdefault(r.appointment_id, []).append(r.resource_id)
    out = [DayRow(r.id, r.start_at, r.end_at, to_local(r.start_at, tz), r.provider_id, r.location_id,
                  r.patient_id, r.visit_type_id, r.status, r.overbooked, r.telehealth, r.checked_in_at,
                  tuple(rooms.get(r.id, ())), r.updated_at) for r in rows]
    audit_many(session, ctx, audit_action, [(r.id, r.patient_id) for r in out], location_id)
    return out


def audit_many(session: Session, ctx: Context, action: str, rows: list[tuple[uuid.UUID, uuid.UUID]],
               location_id: uuid.UUID | None) -> None:
    """One audit row per patient shown (the first appointment of each names the resource)."""
    seen: set[uuid.UUID] = set()
    items: list[tuple[object, uuid.UUID | None]] = []
    for appt_id, patient_id in rows:
        if patient_id not in seen:
            seen.add(patient_id)
            items.append((appt_id, patient_id))
    audit.record_many(session, ctx, action, "appointment", items, location_id=location_id)




def mark_intake_link_sent(ctx: Context, appointment_id: uuid.UUID, *, channel: str = "") -> bool:
    """Record that the appointment's intake link went out: a reminder_log row of kind "intake"
    (what `intake_link_sent` means). Idempotent: returns False when it was already recorded."""
    with unit_of_work(ctx) as session:
        appt = _load_appointment(session, ctx, appointment_id, SCHEDULING_BOOK)
        done = session.scalars(select(ReminderLog.id).where(
            ReminderLog.appointment_id == appt.id, ReminderLog.kind == "intake",
            ReminderLog.status == "sent")).first()
        if done is not None:
            return False
        session.add(ReminderLog(org_id=ctx.org_id, appointment_id=appt.id, rule_id=None, kind="intake",
                                channel=channel[:10], status="sent"))
        audit.record(session, ctx, "appointment.intake_link_sent", "appointment", appt.id,
                     patient_id=appt.patient_id, location_id=appt.location_id, detail={"channel": channel})
        return True


__all__ = [
    "MAX_SERIES",
    "BookingRequest",
    "Slot",
    "SlotFilter",
    "SlotTaken",
    "SlotView",
    "book",
    "book_in",
    "book_series",
    "cancel",
    "change_status",
    "change_visit_type",
    "get_appointment",
    "list_day",
    "provider_lock_key",
    "reschedule",
    "retrying",
    "search_slots",
]

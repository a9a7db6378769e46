"""Booking an appointment: the one home of the booking path.

A booking is a `BookingRequest` (who, what, with whom, where, when). Its path, in order:

1. `book` / `book_in` / `book_series` check `scheduling:book` at the location, once.
2. The transaction takes the booking write lock: SQLite's BEGIN IMMEDIATE, and on PostgreSQL the
   provider's transaction-scoped advisory lock (`lock_provider`), so two bookings of one provider
   never interleave between the check and the insert; a loser waits and then sees the winner's row.
3. `plan` checks everything decidable from reference data (visit type, provider at the location,
   hours, closures, past) against the per-process snapshot (`reference.py`), then runs the one
   probe statement (`_probe`): the snapshot's version, whether the provider is busy, and for a
   patient their status, visibility, location link and visit history. A stale snapshot is
   reloaded and the checks rerun.
4. `_insert` writes the appointment, its room holds, the audit row, the outbox rows (booked event,
   reminders) and the patient's location link with Core on the caller's connection.

A racer that loses gets 409 (`SlotTaken`); on PostgreSQL an exclusion constraint (models.py)
refuses any overlap as the last guard, and a deadlock abort between two overlap checks reruns the
whole command (`retrying`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, exists, func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from praxis.platform import audit, locks, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import Conflict, NotFound, ProblemError, ValidationProblem
from praxis.platform.hotsql import HotStatement
from praxis.platform.ids import new_id
from praxis.platform.uow import core_unit_of_work, unit_of_work, write_lock
from praxis.scheduling import calendars as cal
from praxis.scheduling import patients_port, reference
from praxis.scheduling.availability import Interval, free_resources, to_local, weekly_occurrences, why_not_bookable
from praxis.scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentResource,
    AppointmentSeries,
    ReferenceVersion,
)
from praxis.scheduling.permissions import SCHEDULING_BOOK
from praxis.scheduling.reminders import reminder_rows

T = TypeVar("T")

MAX_SERIES = 52


class SlotTaken(Conflict):
    type = "slot-taken"
    title = "That time is no longer free"


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """One appointment to book. `overbook` asks to book over busy time (where the organisation and
    the provider allow it); `series_id` ties an occurrence to its series."""

    patient_id: uuid.UUID
    visit_type_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    start_at: datetime
    overbook: bool = False
    reason_for_visit: str = ""
    source: str = "staff"
    series_id: uuid.UUID | None = None


# --- entry points --------------------------------------------------------------------------------


def book(ctx: Context, request: BookingRequest) -> Appointment:
    """Book one appointment in its own transaction; 409 when the time is taken, 422 when it is not
    bookable at all, 404 for a visit type, provider or patient the actor cannot use."""
    _authorise(ctx, request)
    return retrying(lambda: _book_alone(ctx, request))


def _book_alone(ctx: Context, request: BookingRequest) -> Appointment:
    with core_unit_of_work(write=True) as conn:
        lock_provider(conn, ctx.org_id, request.provider_id)
        return _insert(conn, ctx, request)


def book_in(conn: Connection, ctx: Context, request: BookingRequest) -> Appointment:
    """Book one appointment on the connection of the caller's writing transaction (`write_lock` or
    `core_unit_of_work(write=True)`), so a command that books and changes something else commits
    both or neither (waitlist offers, online booking); run the command under `retrying`."""
    _authorise(ctx, request)
    lock_provider(conn, ctx.org_id, request.provider_id)
    return _insert(conn, ctx, request)


def book_series(ctx: Context, first: BookingRequest, *, count: int, interval_weeks: int = 1) -> list[Appointment]:
    """Book a weekly series starting with `first`: all of it, or nothing with every conflicting
    occurrence reported (409, type series-conflict)."""
    _authorise(ctx, first)
    if not 2 <= count <= MAX_SERIES:
        raise ValidationProblem(f"count must be between 2 and {MAX_SERIES}", field="count")
    if not 1 <= interval_weeks <= 8:
        raise ValidationProblem("interval_weeks must be between 1 and 8", field="interval_weeks")
    return retrying(lambda: _book_series(ctx, first, count, interval_weeks))


def _authorise(ctx: Context, request: BookingRequest) -> None:
    ctx.require(SCHEDULING_BOOK, request.location_id, what="location")


def _book_series(ctx: Context, first: BookingRequest, count: int, interval_weeks: int) -> list[Appointment]:
    with unit_of_work(ctx) as session:
        write_lock(session)
        lock_provider(session.connection(), ctx.org_id, first.provider_id)
        patients_port.require_patient(session, ctx, first.patient_id)  # before the series row names the patient
        ref = reference.current(session.connection(), ctx.org_id)
        if first.location_id not in ref.zones:
            raise NotFound("No such location", field="location_id")
        tz = ref.zones[first.location_id]
        starts = weekly_occurrences(first.start_at, count, tz, interval_weeks=interval_weeks)
        series = AppointmentSeries(org_id=ctx.org_id, patient_id=first.patient_id, rule="weekly",
                                   interval=interval_weeks, count=count)
        session.add(series)
        session.flush()
        booked: list[Appointment] = []
        errors: list[dict[str, Any]] = []
        for i, start in enumerate(starts):
            try:
                with session.begin_nested():
                    booked.append(_insert(session.connection(), ctx, replace(
                        first, start_at=start, overbook=False, source="staff", series_id=series.id)))
            except (ValidationProblem, Conflict) as exc:  # NotFound (visit type, provider, patient) is the
                # same for every occurrence: it answers 404 for the whole series.
                errors.append({"field": f"occurrences.{i}", "start_at": start.isoformat(),
                               "local": to_local(start, tz).strftime("%a %d %b %Y %H:%M"),
                               "message": exc.detail})
        if errors:
            raise Conflict(f"{len(errors)} of {count} occurrences cannot be booked; nothing was booked",
                           field=errors[0]["field"], errors=errors, type="series-conflict")
        return booked


# --- the write lock ------------------------------------------------------------------------------


def lock_provider(conn: Connection, org_id: uuid.UUID, provider_id: uuid.UUID) -> None:
    """Serialise bookings of one provider: a racer waits for the winner to commit and then sees
    its appointment. Without it two racers on PostgreSQL both insert, wait on each other inside the
    exclusion constraint and one is aborted by the deadlock detector a second later; the
    constraint stays the last guard either way."""
    locks.xact_lock(conn, provider_lock_key(org_id, provider_id))


def provider_lock_key(org_id: uuid.UUID, provider_id: uuid.UUID) -> int:
    """The provider's lock key (the bench's raw-SQL floor takes the same one)."""
    return locks.key_for(org_id, provider_id)


# --- the probe -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """Which optional parts a probe has; one statement is compiled per shape."""

    patient: bool  # booking for a patient (not a reschedule)
    seen: bool  # the visit type is for new or for established patients
    restricted: bool  # the actor sees only patients linked to some locations
    exclude: bool  # a reschedule: the appointment's own time is not busy


_RV = ReferenceVersion.__table__


def _bind(name: str) -> Any:
    return bindparam(name)


@cache
def _probe(shape: _Shape) -> HotStatement:
    """Booking's one read after the lock, one row:

    - `version`: the organisation's reference version (0 before its first set-up write);
    - `busy`: an active appointment of the provider (other than :exclude) overlaps
      [:block_start, :block_end), or a schedule exception of the provider here or everywhere does
      (:block_floor = block start - the longest block bounds the index scan);
    - for a patient, `patient_status` (NULL when missing, or not linked to one of :visible when the
      actor's view is restricted) and `patient_linked` (linked to :location): patients' columns;
    - for new/established visit types, `seen`: the patient checked out of a visit since :seen_since.
    """
    org, provider, location, patient = (_bind(n) for n in ("org", "provider", "location", "patient"))
    block_start, block_end, block_floor = (_bind(n) for n in ("block_start", "block_end", "block_floor"))
    a, ex = cal.A, cal.EX
    version = func.coalesce(select(_RV.c.version).where(_RV.c.org_id == org).scalar_subquery(), 0)
    overlapping = select(a.c.id).where(a.c.org_id == org, a.c.provider_id == provider,
                                       a.c.status.in_(ACTIVE_STATUSES), a.c.block_start < block_end,
                                       a.c.block_start > block_floor, a.c.block_end > block_start)
    if shape.exclude:
        overlapping = overlapping.where(a.c.id != bindparam("exclude"))
    away = select(ex.c.id).where(ex.c.org_id == org, ex.c.provider_id == provider,
                                 or_(ex.c.location_id.is_(None), ex.c.location_id == location),
                                 ex.c.starts_at < block_end, ex.c.ends_at > block_start)
    columns: list[Any] = [version.label("version"), or_(exists(overlapping), exists(away)).label("busy")]
    if shape.patient:
        visible: Any = bindparam("visible", expanding=True) if shape.restricted else None
        columns += patients_port.booking_columns(org, patient, location, visible)
        if shape.seen:
            columns.append(exists(select(a.c.id).where(
                a.c.org_id == org, a.c.patient_id == patient, a.c.status == "checked_out",
                a.c.start_at > bindparam("seen_since"))).label("seen"))
    return HotStatement(select(*columns))


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A checked booking: what to write."""

    ref: reference.Reference
    visit: cal.VisitTypeRow
    start_at: datetime
    end_at: datetime
    block_start: datetime
    block_end: datetime
    overbooked: bool
    resource_ids: tuple[uuid.UUID, ...]
    patient_linked: bool


def plan(conn: Connection, ctx: Context, request: BookingRequest, *, exclude: uuid.UUID | None = None,
         check_patient: bool = True) -> Plan:
    """Check that the time can be booked (hours, closures, past, busy, rooms, and with
    `check_patient` the patient) and plan it, in the caller's writing transaction after
    `lock_provider`. A reschedule passes its appointment as `exclude` and skips the patient.

    A refusal is only reported against current reference data: a stale snapshot is reloaded and
    the checks rerun."""
    start_at = request.start_at
    if start_at.tzinfo is None:
        raise ValidationProblem("start_at must include a time zone offset", field="start_at")
    start_at = start_at.astimezone(UTC)
    org_id, provider_id, location_id = ctx.org_id, request.provider_id, request.location_id
    patient_id = request.patient_id if check_patient else None
    ref = reference.cached(org_id) or reference.current(conn, org_id)
    for _attempt in range(5):
        try:
            visit = _bookable(ref, request.visit_type_id, provider_id, location_id, start_at)
        except ProblemError:
            latest = reference.current(conn, org_id)
            if latest.version == ref.version:
                raise
            ref = latest
            continue
        block = visit.spec.block_for(start_at)
        visible = patients_port.visible_locations(ctx, ref.settings) if patient_id is not None else None
        shape = _Shape(patient=patient_id is not None, seen=patient_id is not None and visit.patient_kind in (
            "new", "established"), restricted=visible is not None, exclude=exclude is not None)
        probe = _probe(shape).rows(conn, {
            "org": org_id, "provider": provider_id, "location": location_id, "patient": patient_id,
            "block_start": block.start, "block_end": block.end, "block_floor": block.start - cal.MAX_BLOCK,
            "exclude": exclude, "visible": sorted(visible or (), key=str),
            "seen_since": now() - timedelta(days=3 * 365)})[0]
        if probe.version == ref.version:
            break
        ref = reference.get(conn, org_id, probe.version)
    else:
        raise Conflict("The schedule set-up is being changed right now; try again", field="start_at")
    if shape.patient:
        patients_port.check_status(probe.patient_status)
        if shape.seen:
            _check_patient_kind(visit.patient_kind, bool(probe.seen))
    overbooked = False
    if probe.busy:
        if not request.overbook:
            raise SlotTaken("The provider is already booked at that time; choose another slot", field="start_at")
        if not ref.may_overbook(provider_id):
            raise Conflict("Overbooking is not allowed for this provider (organisation setting "
                           "allow_overbooking and the provider's flag must both be on)", field="overbook")
        overbooked = True
    end_at = start_at + timedelta(minutes=visit.duration_minutes)
    resource_ids: tuple[uuid.UUID, ...] = ()
    if visit.required_resource_kinds:
        resources = cal.active_resources(conn, org_id, [location_id], visit.required_resource_kinds)
        pools = cal.load_resource_pools(conn, org_id, resources, Interval(start_at, end_at),
                                        exclude_appointment=exclude)
        calendar = ref.calendar(provider_id, location_id, resources=pools.get(location_id, {}))
        picked = free_resources(calendar, visit.spec, start_at, end_at) if calendar else None
        if picked is None:
            raise SlotTaken("No room or equipment of the required kind is free at that time", field="start_at")
        resource_ids = picked
    return Plan(ref, visit, start_at, end_at, block.start, block.end, overbooked, resource_ids,
                patient_id is None or bool(probe.patient_linked))


def _bookable(ref: reference.Reference, visit_type_id: uuid.UUID, provider_id: uuid.UUID,
              location_id: uuid.UUID, start_at: datetime) -> cal.VisitTypeRow:
    """Everything decidable from reference data alone: visit type, location, provider link, hours,
    closures, past. Raises the problem a person can act on."""
    visit = ref.visit_types.get(visit_type_id)
    if visit is None or not visit.active:
        raise NotFound("No such visit type", field="visit_type_id")
    if location_id not in ref.zones:
        raise NotFound("No such location", field="location_id")
    if (provider_id, location_id) not in ref.pairs:
        raise NotFound("No such provider at this location", field="provider_id")
    calendar = ref.calendar(provider_id, location_id)
    if calendar is None:
        raise ValidationProblem("The provider has no schedule at this location", field="start_at")
    problem = why_not_bookable(calendar, visit.spec, start_at, now=now(), check_busy=False)
    if problem:
        raise ValidationProblem(problem[1], field=problem[0])
    return visit


def _check_patient_kind(kind: str, seen: bool) -> None:
    if kind == "new" and seen:
        raise ValidationProblem("This visit type is for new patients; the patient was seen in the last "
                                "three years", field="visit_type_id")
    if kind == "established" and not seen:
        raise ValidationProblem("This visit type is for established patients; the patient has no visit "
                                "in the last three years", field="visit_type_id")


# --- the writes ----------------------------------------------------------------------------------


def _insert(conn: Connection, ctx: Context, request: BookingRequest) -> Appointment:
    """Plan and insert one appointment in the caller's (already locked) transaction.

    Written with Core on the caller's connection (appointment, rooms, audit row, outbox rows, the
    patient's location link): the booking is the hottest write path, and the ORM unit of work was
    most of its cost. Returns a transient Appointment holding the written values."""
    p = plan(conn, ctx, request)
    stamp = now()
    values: dict[str, Any] = {
        "org_id": ctx.org_id, "id": new_id(), "location_id": request.location_id,
        "provider_id": request.provider_id, "patient_id": request.patient_id, "visit_type_id": p.visit.id,
        "series_id": request.series_id, "start_at": p.start_at, "end_at": p.end_at,
        "block_start": p.block_start, "block_end": p.block_end, "status": "booked", "overbooked": p.overbooked,
        "telehealth": p.visit.modality == "telehealth", "source": request.source,
        "reason_for_visit": request.reason_for_visit, "cancel_reason": None, "confirmed_at": None,
        "checked_in_at": None, "roomed_at": None, "checked_out_at": None, "cancelled_at": None,
        "no_show_at": None, "created_at": stamp, "updated_at": stamp, "version": 1}
    with _conflicts():
        _INSERT_APPOINTMENT.run(conn, values)
        if p.resource_ids:
            conn.execute(_INSERT_HOLD, [
                {"org_id": ctx.org_id, "id": new_id(), "appointment_id": values["id"], "resource_id": rid,
                 "start_at": p.start_at, "end_at": p.end_at, "active": True}
                for rid in p.resource_ids])
    audit.write(conn, audit.row(ctx, "appointment.book", "appointment", values["id"],
                                patient_id=request.patient_id, location_id=request.location_id,
                                detail={"start_at": p.start_at.isoformat(), "overbooked": p.overbooked}))
    outbox.write(conn, [
        outbox.row("scheduling.appointment_booked",
                   {"appointment_id": str(values["id"]), "patient_id": str(request.patient_id),
                    "location_id": str(request.location_id), "source": request.source,
                    "origin": ctx.origin}, ctx.org_id),
        *reminder_rows(ctx.org_id, p.ref.reminder_rules, values["id"], p.start_at)])
    if not p.patient_linked:
        patients_port.add_location_link(conn, ctx.org_id, request.patient_id, request.location_id)
    return Appointment(**values)


_INSERT_APPOINTMENT = HotStatement(Appointment.__table__.insert())
_INSERT_HOLD = AppointmentResource.__table__.insert()


def hold_resources(session: Session, appt: Appointment, resource_ids: Sequence[uuid.UUID]) -> None:
    """Hold rooms and equipment for an appointment the session changed (a reschedule)."""
    for rid in resource_ids:
        session.add(AppointmentResource(org_id=appt.org_id, appointment_id=appt.id, resource_id=rid,
                                        start_at=appt.start_at, end_at=appt.end_at))


# --- conflicts and retries -----------------------------------------------------------------------


class _Retry(Exception):
    """PostgreSQL aborted the transaction (deadlock between two racing overlap checks)."""


@contextmanager
def _conflicts() -> Iterator[None]:
    """Turn the exclusion constraint's refusal into 409 and a deadlock abort into a retry."""
    try:
        yield
    except IntegrityError as exc:
        if _sqlstate(exc) == "23P01" or "ex_appointment" in str(exc.orig):
            raise SlotTaken("Someone else just booked that time; choose another slot",
                            field="start_at") from None
        raise
    except OperationalError as exc:
        # Two transactions inserting mutually overlapping rows wait on each other inside the
        # exclusion constraint; PostgreSQL aborts one (40P01). The whole command is retried.
        if _sqlstate(exc) in ("40P01", "40001"):
            raise _Retry() from exc
        raise


def flush_or_conflict(session: Session) -> None:
    """Flush the session's appointment changes, with the exclusion constraint's refusal as 409."""
    with _conflicts():
        session.flush()


def _sqlstate(exc: Exception) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)


def retrying(fn: Callable[[], T]) -> T:
    """Run a booking command again (up to 3 times) when PostgreSQL aborted it as a deadlock."""
    for _attempt in range(3):
        try:
            return fn()
        except _Retry:
            continue
    raise SlotTaken("That time is being booked by someone else right now; try again", field="start_at")

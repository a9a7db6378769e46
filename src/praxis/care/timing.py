"""Care minutes: the server-side timer (start, pause, resume, stop) and manual time entries.

Who: a time entry is clinical-staff time (`staff`) or the billing practitioner's own time
(`practitioner`, only when the actor is the provider linked to the enrolment's practitioner).
Minutes are whole minutes, floored: thresholds are minimums and CMS forbids rounding up
(care-management-rules.md, "Thresholds are minimums").

The same minute is never counted twice: one person has at most one running timer (a partial
unique index), and a manual entry may not overlap another entry of the same person, whatever
the programme. Within a month the engine (`rules`) puts every minute in one lane only.

An entry belongs to the calendar month of its start in the enrolment location's zone. Once that
month is approved, adding or editing its entries needs a reason, is flagged
`edited_after_billing` and audited with the before and after values.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.care import months
from praxis.care.models import CareEnrolment, CareMonth, CareTimeEntry, CareTimer
from praxis.care.permissions import CARE_LOG, CARE_READ, CARE_TIMERS
from praxis.care.service import load_enrolment, location_zone
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.deletions import record_deletion
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work, write_lock
from praxis.scheduling.models import Provider

MAX_ENTRY_MINUTES = 600
ACTIVITIES = ("coordination", "care_plan", "care_plan_revision", "medication", "patient_call", "caregiver_call",
              "referral", "device_review", "education", "other")


def _user(ctx: Context) -> uuid.UUID:
    if ctx.actor_id is None or ctx.actor_type not in ("user", "api_client"):
        raise ValidationProblem("care minutes are logged by a person", field="actor")
    return ctx.actor_id


def _check_role(session: Session, ctx: Context, enrolment: CareEnrolment, role: str) -> None:
    if role == "staff":
        return
    if role != "practitioner":
        raise ValidationProblem("role must be staff or practitioner", field="role")
    provider = session.scalars(select(Provider).where(Provider.id == enrolment.provider_id)).first()
    if provider is None or provider.user_id is None or provider.user_id != ctx.actor_id:
        raise ValidationProblem("only the billing practitioner personally logs practitioner minutes", field="role")


def _check_activity(activity: str) -> None:
    if activity not in ACTIVITIES:
        raise ValidationProblem(f"activity must be one of {', '.join(ACTIVITIES)}", field="activity")


def _approved(session: Session, enrolment_id: uuid.UUID, month: str) -> bool:
    return session.scalars(select(CareMonth.id).where(CareMonth.enrolment_id == enrolment_id,
                                                      CareMonth.month == month)).first() is not None


def _month_for(session: Session, ctx: Context, enrolment: CareEnrolment, started_at: datetime) -> str:
    day = months.local_date(started_at, location_zone(session, ctx, enrolment.location_id))
    if day < enrolment.start_date or (enrolment.end_date is not None and day > enrolment.end_date):
        raise ValidationProblem("started_at is outside the enrolment's period", field="started_at")
    return months.month_of(day)


def _overlap(session: Session, author_id: uuid.UUID, start: datetime, minutes: int,
             exclude: uuid.UUID | None = None) -> CareTimeEntry | None:
    end = start + timedelta(minutes=minutes)
    q = select(CareTimeEntry).where(CareTimeEntry.author_id == author_id, CareTimeEntry.voided.is_(False),
                                    CareTimeEntry.started_at < end,
                                    CareTimeEntry.started_at > start - timedelta(minutes=MAX_ENTRY_MINUTES))
    for e in session.scalars(q):
        if e.id != exclude and e.started_at + timedelta(minutes=e.minutes) > start:
            return e
    return None


# --- the timer -----------------------------------------------------------------------------------


def elapsed_seconds(timer: CareTimer, at: datetime | None = None) -> int:
    running = int(((at or now()) - timer.running_since).total_seconds()) if timer.running_since else 0
    return timer.accumulated_seconds + max(running, 0)


def _running_conflict(session: Session, actor_id: uuid.UUID) -> Conflict | None:
    other = session.scalars(select(CareTimer).where(CareTimer.actor_id == actor_id,
                                                    CareTimer.running_since.is_not(None))).first()
    if other is None:
        return None
    return Conflict("you already have a running care timer: pause or stop it first", field="timer_id",
                    type="care-timer-running")


def start_timer(ctx: Context, enrolment_id: uuid.UUID, *, activity: str, role: str = "staff",
                interactive: bool = False) -> CareTimer:
    """Start a timer for the actor on an enrolment. A second running timer of the same person
    is refused (409), also when two starts race: the database's partial unique index decides."""
    actor = _user(ctx)
    try:
        with unit_of_work(ctx) as session:
            write_lock(session)  # SQLite: serialise the check and the insert; PostgreSQL: the index decides
            enrolment = load_enrolment(session, ctx, enrolment_id, CARE_LOG)  # 404 before any other answer
            _check_activity(activity)
            _check_role(session, ctx, enrolment, role)
            if (conflict := _running_conflict(session, actor)) is not None:
                raise conflict
            at = now()
            _month_for(session, ctx, enrolment, at)
            timer = CareTimer(org_id=ctx.org_id, actor_id=actor, actor_name=ctx.actor_name,
                              enrolment_id=enrolment.id, patient_id=enrolment.patient_id, activity=activity,
                              role=role, interactive=interactive, started_at=at, running_since=at)
            session.add(timer)
            session.flush()
            audit.record(session, ctx, "care.timer.start", "care_timer", timer.id, patient_id=enrolment.patient_id,
                         location_id=enrolment.location_id, detail={"activity": activity})
            return timer
    except IntegrityError:
        raise Conflict("you already have a running care timer: pause or stop it first", field="timer_id",
                       type="care-timer-running") from None


def _own_timer(session: Session, ctx: Context, timer_id: uuid.UUID) -> CareTimer:
    timer = get_or_404(session, CareTimer, timer_id, "timer")
    if timer.actor_id != ctx.actor_id:  # a timer is its owner's alone: to anyone else it does not exist
        raise NotFound("No such timer", field="timer_id")
    load_enrolment(session, ctx, timer.enrolment_id, CARE_LOG)
    return timer


def pause_timer(ctx: Context, timer_id: uuid.UUID) -> CareTimer:
    """Pause the actor's timer (the minutes so far are kept)."""
    with unit_of_work(ctx) as session:
        timer = _own_timer(session, ctx, timer_id)
        if timer.running_since is not None:
            timer.accumulated_seconds = elapsed_seconds(timer)
            timer.running_since = None
        audit.record(session, ctx, "care.timer.pause", "care_timer", timer.id, patient_id=timer.patient_id)
        return timer


def resume_timer(ctx: Context, timer_id: uuid.UUID) -> CareTimer:
    """Resume a paused timer (refused while another of the actor's timers runs)."""
    try:
        with unit_of_work(ctx) as session:
            write_lock(session)
            timer = _own_timer(session, ctx, timer_id)
            if timer.running_since is None:
                if (conflict := _running_conflict(session, timer.actor_id)) is not None:
                    raise conflict
                timer.running_since = now()
                session.flush()
            audit.record(session, ctx, "care.timer.resume", "care_timer", timer.id, patient_id=timer.patient_id)
            return timer
    except IntegrityError:
        raise Conflict("you already have a running care timer: pause or stop it first", field="timer_id",
                       type="care-timer-running") from None


def stop_timer(ctx: Context, timer_id: uuid.UUID, *, note: str = "", interactive: bool | None = None
               ) -> CareTimeEntry | None:
    """Stop the timer and turn its whole minutes into a time entry (None when under a minute)."""
    with unit_of_work(ctx) as session:
        timer = _own_timer(session, ctx, timer_id)
        enrolment = load_enrolment(session, ctx, timer.enrolment_id, CARE_LOG)
        minutes = elapsed_seconds(timer) // 60  # floored: never round minutes up
        entry = None
        if minutes > 0:
            month = _month_for(session, ctx, enrolment, timer.started_at)
            after_billing = _approved(session, enrolment.id, month)
            entry = CareTimeEntry(
                org_id=ctx.org_id, enrolment_id=enrolment.id, patient_id=enrolment.patient_id,
                provider_id=enrolment.provider_id, program=enrolment.program, author_id=timer.actor_id,
                author_name=timer.actor_name, role=timer.role, activity=timer.activity, started_at=timer.started_at,
                minutes=min(minutes, MAX_ENTRY_MINUTES), service_month=month, note=note,
                interactive=timer.interactive if interactive is None else interactive, source="timer",
                edited_after_billing=after_billing,
                edit_reason="timer stopped after the month was approved" if after_billing else "")
            session.add(entry)
            session.flush()
            audit.record(session, ctx, "care.entry.add", "care_time_entry", entry.id,
                         patient_id=enrolment.patient_id, location_id=enrolment.location_id,
                         detail={"minutes": entry.minutes, "source": "timer", "after_billing": after_billing})
        session.delete(timer)
        record_deletion(session, ctx.org_id, CARE_TIMERS, timer.id, owner_id=timer.actor_id)
        audit.record(session, ctx, "care.timer.stop", "care_timer", timer.id, patient_id=timer.patient_id)
        return entry


def my_timers(ctx: Context) -> list[CareTimer]:
    """The actor's timers (running first): what a reloaded page shows."""
    actor = _user(ctx)
    if not ctx.has(CARE_LOG):
        ctx.require(CARE_LOG)
    with unit_of_work(ctx) as session:
        rows = list(session.scalars(select(CareTimer).where(CareTimer.actor_id == actor)
                                    .order_by(CareTimer.running_since.is_(None), CareTimer.started_at)))
        return rows


# --- entries -------------------------------------------------------------------------------------


def add_entry(ctx: Context, enrolment_id: uuid.UUID, *, activity: str, started_at: datetime, minutes: int,
              role: str = "staff", note: str = "", interactive: bool = False, reason: str | None = None
              ) -> CareTimeEntry:
    """Log minutes by hand. Into an approved month only with a reason (flagged and audited)."""
    actor = _user(ctx)
    with unit_of_work(ctx) as session:
        enrolment = load_enrolment(session, ctx, enrolment_id, CARE_LOG)  # 404 before any other answer
        _check_activity(activity)
        if not 1 <= minutes <= MAX_ENTRY_MINUTES:
            raise ValidationProblem(f"minutes must be 1 to {MAX_ENTRY_MINUTES}", field="minutes")
        if started_at.tzinfo is None:
            raise ValidationProblem("started_at needs a time zone", field="started_at")
        if started_at + timedelta(minutes=minutes) > now() + timedelta(minutes=1):
            raise ValidationProblem("the entry ends in the future", field="started_at")
        _check_role(session, ctx, enrolment, role)
        month = _month_for(session, ctx, enrolment, started_at)
        after_billing = _approved(session, enrolment.id, month)
        if after_billing and not (reason or "").strip():
            raise ValidationProblem(f"{month} is approved: a reason is required to add minutes to it", field="reason")
        if (other := _overlap(session, actor, started_at, minutes)) is not None:
            raise Conflict(f"these minutes overlap your entry of {other.started_at.isoformat()} "
                           f"({other.minutes} min, {other.program.upper()}): a minute counts once", field="started_at")
        entry = CareTimeEntry(org_id=ctx.org_id, enrolment_id=enrolment.id, patient_id=enrolment.patient_id,
                              provider_id=enrolment.provider_id, program=enrolment.program, author_id=actor,
                              author_name=ctx.actor_name, role=role, activity=activity, started_at=started_at,
                              minutes=minutes, service_month=month, note=note, interactive=interactive,
                              source="manual", edited_after_billing=after_billing, edit_reason=reason or "")
        session.add(entry)
        session.flush()
        audit.record(session, ctx, "care.entry.add", "care_time_entry", entry.id, patient_id=enrolment.patient_id,
                     location_id=enrolment.location_id,
                     detail={"minutes": minutes, "source": "manual", "after_billing": after_billing})
        return entry


EDITABLE = ("minutes", "note", "activity", "interactive", "voided")


def edit_entry(ctx: Context, entry_id: uuid.UUID, changes: dict[str, Any], *, reason: str | None = None
               ) -> CareTimeEntry:
    """Change an entry's minutes, note, activity, interactive flag, or void it. After the month is
    approved a reason is required; the entry is flagged and the audit keeps before and after."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationProblem(f"cannot change {sorted(unknown)[0]}", field=sorted(unknown)[0])
    if "minutes" in changes and not 1 <= int(changes["minutes"]) <= MAX_ENTRY_MINUTES:
        raise ValidationProblem(f"minutes must be 1 to {MAX_ENTRY_MINUTES}", field="minutes")
    if "activity" in changes:
        _check_activity(changes["activity"])
    with unit_of_work(ctx) as session:
        entry = get_or_404(session, CareTimeEntry, entry_id, "time entry")
        enrolment = load_enrolment(session, ctx, entry.enrolment_id, CARE_LOG)
        after_billing = _approved(session, enrolment.id, entry.service_month)
        if after_billing and not (reason or "").strip():
            raise ValidationProblem(f"{entry.service_month} is approved: a reason is required to edit its minutes",
                                    field="reason")
        if "minutes" in changes and entry.author_id is not None and not entry.voided:
            other = _overlap(session, entry.author_id, entry.started_at, int(changes["minutes"]), exclude=entry.id)
            if other is not None:
                raise Conflict("the longer entry would overlap another entry of its author", field="minutes")
        before = {k: getattr(entry, k) for k in changes}
        for k, v in changes.items():
            setattr(entry, k, v)
        if after_billing:
            entry.edited_after_billing = True
            entry.edit_reason = reason or ""
        audit.record(session, ctx, "care.entry.edit_after_billing" if after_billing else "care.entry.edit",
                     "care_time_entry", entry.id, patient_id=entry.patient_id, location_id=enrolment.location_id,
                     detail={"before": before, "after": dict(changes), "reason": reason or ""})
        return entry


def list_entries(ctx: Context, enrolment_id: uuid.UUID, month: str) -> list[CareTimeEntry]:
    """An enrolment's entries of one month (voided ones included, marked)."""
    months.parse_month(month)
    with unit_of_work(ctx) as session:
        enrolment = load_enrolment(session, ctx, enrolment_id, CARE_READ)
        rows = list(session.scalars(select(CareTimeEntry).where(CareTimeEntry.enrolment_id == enrolment.id,
                                                                CareTimeEntry.service_month == month)
                                    .order_by(CareTimeEntry.started_at)))
        audit.record(session, ctx, "care.entry.list", "care_time_entry", None, patient_id=enrolment.patient_id,
                     location_id=enrolment.location_id, detail={"month": month})
        return rows

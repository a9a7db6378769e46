"""Remote patient monitoring data: device readings and day counts posted by device vendors.

A vendor posts readings (idempotent by its reading id: the same id posted twice is stored once)
or, when it sends no readings, a count of days with data in one 30-day period of the episode.
The data days of a period are the distinct local dates with a reading, or the vendor's count
when that is higher (care-management-rules.md: 99454 needs 16-30 days, 99445 2-15 days, of data
in a 30-day period).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from praxis.care import months
from praxis.care.models import CareEnrolment, RpmDayCount, RpmReading
from praxis.care.permissions import CARE_DEVICE, CARE_READ
from praxis.care.service import load_enrolment, location_zone
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.ids import new_id
from praxis.platform.uow import unit_of_work, write_lock

MAX_READINGS = 1000


@dataclass(frozen=True)
class ReadingIn:
    reading_id: str
    enrolment_id: uuid.UUID
    measured_at: datetime
    kind: str = ""
    value: dict[str, Any] | None = None


@dataclass(frozen=True)
class PostResult:
    accepted: int
    duplicates: int


def _vendor(ctx: Context) -> str:
    """Reading ids are the vendor's: scope them by the posting client so vendors never collide."""
    return str(ctx.actor_id) if ctx.actor_id else ctx.actor_name or "system"


def _rpm_enrolment(session: Session, ctx: Context, enrolment_id: uuid.UUID, field: str) -> CareEnrolment:
    try:
        e = load_enrolment(session, ctx, enrolment_id, CARE_DEVICE)
    except NotFound:
        raise NotFound("No such enrolment", field=field) from None
    if e.program != "rpm":
        raise ValidationProblem("the enrolment is not an RPM enrolment", field=field)
    return e


def post_readings(ctx: Context, readings: list[ReadingIn]) -> PostResult:
    """Store device readings, all or nothing: every bad row is reported with its index."""
    if not ctx.has(CARE_DEVICE):
        ctx.require(CARE_DEVICE)
    if not 1 <= len(readings) <= MAX_READINGS:
        raise ValidationProblem(f"post 1 to {MAX_READINGS} readings", field="readings")
    vendor = _vendor(ctx)
    with unit_of_work(ctx) as session:
        write_lock(session)
        enrolments: dict[uuid.UUID, tuple[CareEnrolment, str]] = {}
        errors: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, r in enumerate(readings):
            where = f"readings[{i}]"
            try:
                if r.enrolment_id not in enrolments:
                    e = _rpm_enrolment(session, ctx, r.enrolment_id, f"{where}.enrolment_id")
                    enrolments[r.enrolment_id] = (e, location_zone(session, ctx, e.location_id))
                e, zone = enrolments[r.enrolment_id]
                if r.measured_at.tzinfo is None:
                    raise ValidationProblem("measured_at needs a time zone", field=f"{where}.measured_at")
                if r.measured_at > now() + timedelta(minutes=5):
                    raise ValidationProblem("measured_at is in the future", field=f"{where}.measured_at")
                day = months.local_date(r.measured_at, zone)
                if day < e.start_date or (e.end_date is not None and day > e.end_date):
                    raise ValidationProblem("measured_at is outside the enrolment", field=f"{where}.measured_at")
            except (ValidationProblem, NotFound) as exc:
                errors.append({"field": exc.field, "detail": exc.detail})
                continue
            if r.reading_id in seen:
                continue
            seen.add(r.reading_id)
            rows.append({"org_id": ctx.org_id, "id": new_id(), "enrolment_id": e.id, "patient_id": e.patient_id,
                         "vendor": vendor, "reading_id": r.reading_id, "measured_at": r.measured_at,
                         "local_date": day, "kind": r.kind, "value": r.value, "created_at": now()})
        if errors:
            raise ValidationProblem(f"{len(errors)} reading(s) refused; nothing was stored",
                                    field=errors[0]["field"], errors=errors)
        existing = set(session.scalars(select(RpmReading.reading_id).where(
            RpmReading.vendor == vendor, RpmReading.reading_id.in_([r["reading_id"] for r in rows]))))
        fresh = [r for r in rows if r["reading_id"] not in existing]
        if fresh:
            dialect = session.get_bind().dialect.name
            table = RpmReading.__table__
            assert isinstance(table, Table)
            insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
            # ON CONFLICT DO NOTHING: a concurrent post of the same reading id stores it once.
            session.execute(insert.values(fresh).on_conflict_do_nothing(
                index_elements=["org_id", "vendor", "reading_id"]))
        for e, _zone in enrolments.values():
            audit.record(session, ctx, "care.rpm.readings", "care_enrolment", e.id, patient_id=e.patient_id,
                         location_id=e.location_id, detail={"accepted": len(fresh)})
        return PostResult(accepted=len(fresh), duplicates=len(readings) - len(fresh))


def post_day_count(ctx: Context, enrolment_id: uuid.UUID, *, count_id: str, period_start: date, days: int
                   ) -> RpmDayCount:
    """A vendor's count of days with data in one 30-day period (idempotent by `count_id`)."""
    if not 0 <= days <= months.RPM_PERIOD_DAYS:
        raise ValidationProblem("days must be 0 to 30", field="days")
    vendor = _vendor(ctx)
    with unit_of_work(ctx) as session:
        write_lock(session)
        e = _rpm_enrolment(session, ctx, enrolment_id, "enrolment_id")
        if period_start < e.start_date or months.rpm_period(e.start_date, period_start)[0] != period_start:
            raise ValidationProblem("period_start is not the first day of one of the episode's 30-day periods "
                                    f"(they start {e.start_date.isoformat()} and every 30 days after)",
                                    field="period_start")
        existing = session.scalars(select(RpmDayCount).where(RpmDayCount.vendor == vendor,
                                                             RpmDayCount.count_id == count_id)).first()
        if existing is not None:
            if (existing.enrolment_id, existing.period_start, existing.days) != (e.id, period_start, days):
                raise Conflict("count_id was already used for another count", field="count_id")
            return existing
        row = RpmDayCount(org_id=ctx.org_id, enrolment_id=e.id, patient_id=e.patient_id, vendor=vendor,
                          count_id=count_id, period_start=period_start, days=days)
        session.add(row)
        session.flush()
        audit.record(session, ctx, "care.rpm.day_count", "care_enrolment", e.id, patient_id=e.patient_id,
                     location_id=e.location_id, detail={"period_start": period_start.isoformat(), "days": days})
        return row


def data_days_in(session: Session, enrolment_ids: list[uuid.UUID], periods: dict[uuid.UUID, tuple[date, date]]
                 ) -> dict[uuid.UUID, int]:
    """Data days of each enrolment's period: distinct reading dates, or a higher vendor count."""
    out: dict[uuid.UUID, int] = {}
    if not enrolment_ids:
        return out
    lo = min(p[0] for p in periods.values())
    hi = max(p[1] for p in periods.values())
    for eid, n in session.execute(
            select(RpmReading.enrolment_id, RpmReading.local_date)
            .where(RpmReading.enrolment_id.in_(enrolment_ids), RpmReading.local_date.between(lo, hi))
            .group_by(RpmReading.enrolment_id, RpmReading.local_date)):
        start, end = periods[eid]
        if start <= n <= end:
            out[eid] = out.get(eid, 0) + 1
    for eid, start, days in session.execute(
            select(RpmDayCount.enrolment_id, RpmDayCount.period_start, func.max(RpmDayCount.days))
            .where(RpmDayCount.enrolment_id.in_(enrolment_ids))
            .group_by(RpmDayCount.enrolment_id, RpmDayCount.period_start)):
        if periods[eid][0] == start:
            out[eid] = max(out.get(eid, 0), int(days))
    return out


def data_days(ctx: Context, enrolment_id: uuid.UUID, on: date) -> tuple[date, date, int]:
    """The 30-day period containing `on` and its data days so far."""
    with unit_of_work(ctx) as session:
        e = load_enrolment(session, ctx, enrolment_id, CARE_READ)
        period = months.rpm_period(e.start_date, max(on, e.start_date))
        return period[0], period[1], data_days_in(session, [e.id], {e.id: period}).get(e.id, 0)

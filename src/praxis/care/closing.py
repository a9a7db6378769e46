"""The month: inputs for the engine from the database, the billing preview, the coordinator's
worklist and the month-end approval (one CareMonth per enrolment and month, created once).

Exclusions span a patient's enrolments (CCM with two practitioners, CCM and PCM with one), so
the engine always sees all of a filtered patient's enrolments of the month, even those outside
the filter or the actor's locations; only the rows the actor may see are returned.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from praxis.care import careplan, charging, months, rpm, rules
from praxis.care.models import CareConsent, CareEnrolment, CareMonth, CareProblem, CareSettings, CareTimeEntry
from praxis.care.permissions import CARE_APPROVE, CARE_READ
from praxis.care.service import eligibility_of, load_enrolment, location_zone
from praxis.patients import service as patients
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import Forbidden, NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work, write_lock
from praxis.scheduling import reference


@dataclass(frozen=True)
class PreviewRow:
    enrolment: CareEnrolment
    result: rules.MonthResult
    approved: bool
    patient_name: str
    mrn: str
    days_left: int


def engine_settings(session: Session, org_id: uuid.UUID) -> rules.EngineSettings:
    row = session.get(CareSettings, org_id)
    if row is None:
        return rules.EngineSettings()
    return rules.EngineSettings(pool_practitioner_minutes=row.pool_practitioner_minutes,
                                rpm_setup_min_days=row.rpm_setup_min_days,
                                short_window_minutes=row.short_window_minutes)


def get_settings(ctx: Context) -> rules.EngineSettings:
    """The organisation's engine settings (defaults until changed)."""
    if not ctx.has(CARE_READ):
        ctx.require(CARE_READ)
    with unit_of_work(ctx) as session:
        return engine_settings(session, ctx.org_id)


def update_settings(ctx: Context, **changes: Any) -> rules.EngineSettings:
    """Change where the organisation stands on CMS's open choices (org-wide care:approve)."""
    ctx.require(CARE_APPROVE)
    if ctx.scope(CARE_APPROVE) is not None:
        raise Forbidden("changing the engine settings needs care:approve for the whole organisation")
    allowed = {"pool_practitioner_minutes", "rpm_setup_min_days", "short_window_minutes"}
    for key in changes:
        if key not in allowed:
            raise ValidationProblem(f"unknown setting {key}", field=key)
    if "rpm_setup_min_days" in changes and not 2 <= changes["rpm_setup_min_days"] <= 30:
        raise ValidationProblem("rpm_setup_min_days must be 2 to 30", field="rpm_setup_min_days")
    if "short_window_minutes" in changes and not 1 <= changes["short_window_minutes"] <= 60:
        raise ValidationProblem("short_window_minutes must be 1 to 60", field="short_window_minutes")
    with unit_of_work(ctx) as session:
        row = session.get(CareSettings, ctx.org_id)
        if row is None:
            row = CareSettings(org_id=ctx.org_id, pool_practitioner_minutes=True, rpm_setup_min_days=16,
                               short_window_minutes=10)
            session.add(row)
        before = {k: getattr(row, k) for k in changes}
        for k, v in changes.items():
            setattr(row, k, v)
        audit.record(session, ctx, "care.settings.update", "care_settings", ctx.org_id,
                     detail={"before": before, "after": changes})
        session.flush()
        return engine_settings(session, ctx.org_id)


def _active_in(month: str) -> Any:
    return (CareEnrolment.start_date <= months.last_day(month),
            or_(CareEnrolment.end_date.is_(None), CareEnrolment.end_date >= months.first_day(month)))


# Above this many enrolments the facts are read for the whole month (or organisation) in one
# set-based pass and filtered here, instead of an IN list per id: one scan beats 20,000 bound
# parameters (and PostgreSQL's 65,535-parameter limit), and it is what a month-end close asks for.
WHOLE_MONTH_FROM = 2000


def _by_ids(column: Any, ids: Any, many: bool) -> tuple[Any, ...]:
    """A condition restricting `column` to `ids`, or none when the caller reads them all."""
    return () if many else (column.in_(list(ids)),)


def inputs_for(session: Session, month: str, enrolments: list[CareEnrolment]) -> list[rules.MonthInput]:
    """The engine's inputs for these enrolments' month: one set-based query per kind of fact
    (minutes per enrolment and role, consents, problems, earlier approvals, RPM data days)."""
    ids = {e.id for e in enrolments}
    if not ids:
        return []
    many = len(ids) > WHOLE_MONTH_FROM
    conn = session.connection()  # Core rows: no ORM row processing for tens of thousands of facts
    org = enrolments[0].org_id  # Core statements name the organisation themselves
    first, last = months.first_day(month), months.last_day(month)
    minutes: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
    interactive: set[uuid.UUID] = set()
    for eid, role, total, inter in conn.execute(
            select(CareTimeEntry.enrolment_id, CareTimeEntry.role, func.sum(CareTimeEntry.minutes),
                   func.max(case((CareTimeEntry.interactive.is_(True), 1), else_=0)))
            .where(CareTimeEntry.org_id == org, *_by_ids(CareTimeEntry.enrolment_id, ids, many),
                   CareTimeEntry.service_month == month,
                   CareTimeEntry.voided.is_(False))
            .group_by(CareTimeEntry.enrolment_id, CareTimeEntry.role)):
        if eid not in ids:
            continue
        minutes[(eid, role)] += int(total or 0)
        if inter:
            interactive.add(eid)
    # Complex CCM needs the care plan established or substantially revised in the month.
    revised = careplan.revised_in(session, month, [e.id for e in enrolments if e.program == "ccm" and e.complex])
    consent_ids = {e.consent_id for e in enrolments}
    # A consent counts when obtained by the month's last day (its UTC date, as before): the
    # database compares, so no timestamp is converted here.
    by = datetime.combine(last + timedelta(days=1), time(0), UTC)
    consented = {cid for cid in conn.scalars(
        select(CareConsent.id).where(CareConsent.org_id == org, CareConsent.obtained_at < by,
                                     *_by_ids(CareConsent.id, consent_ids, many)))
        if cid in consent_ids}
    patient_ids = {e.patient_id for e in enrolments}
    problems: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for p in conn.execute(select(CareProblem.patient_id, CareProblem.expected_months, CareProblem.high_risk,
                                    CareProblem.resolved_on)
                             .where(CareProblem.org_id == org, *_by_ids(CareProblem.patient_id, patient_ids, many))):
        if p.patient_id in patient_ids:
            problems[p.patient_id].append(p)  # eligibility_of reads these three attributes
    setup_done = {eid for eid, codes in conn.execute(
        select(CareMonth.enrolment_id, CareMonth.codes).where(CareMonth.org_id == org,
                                                              *_by_ids(CareMonth.enrolment_id, ids, many),
                                                              CareMonth.month < month))
        if eid in ids and rules.RPM_SETUP in (codes or {})}
    device: dict[uuid.UUID, list[int]] = defaultdict(list)
    rpm_periods = {e.id: (months.rpm_periods_ending_in(e.start_date, month), e.end_date)
                   for e in enrolments if e.program == "rpm"}
    for index in (0, 1):  # at most two 30-day periods end in one month
        periods = {eid: ps[index] for eid, (ps, end) in rpm_periods.items()
                   if len(ps) > index and (end is None or ps[index][1] <= end)}
        days = rpm.data_days_in(session, list(periods), periods)
        for eid in periods:
            device[eid].append(days.get(eid, 0))
    out = []
    for e in enrolments:
        eid, program, patient = e.id, e.program, e.patient_id  # each ORM attribute read once
        out.append(rules.MonthInput(
            key=eid, patient=patient, practitioner=e.provider_id, program=program,
            staff_minutes=minutes[(eid, "staff")], practitioner_minutes=minutes[(eid, "practitioner")],
            interactive=eid in interactive, consent=e.consent_id in consented,
            initiating_visit=e.initiating_visit_on <= last,
            eligible=eligibility_of(problems[patient], first).allows(program),
            complex=e.complex, plan_revised=eid in revised, device_days=tuple(device.get(eid, ())),
            setup_billed=e.rpm_setup_billed or eid in setup_done))
    return out


def _month_rows(session: Session, ctx: Context, month: str, permission: str, *, patient_id: uuid.UUID | None,
                provider_id: uuid.UUID | None, location_id: uuid.UUID | None) -> list[PreviewRow]:
    scope = ctx.scope(permission)
    if location_id is not None:
        ctx.require(permission, location_id, what="location")
    q = select(CareEnrolment.patient_id).where(*_active_in(month))
    if patient_id is not None:
        q = q.where(CareEnrolment.patient_id == patient_id)
    if provider_id is not None:
        q = q.where(CareEnrolment.provider_id == provider_id)
    if location_id is not None:
        q = q.where(CareEnrolment.location_id == location_id)
    elif scope is not None:
        q = q.where(CareEnrolment.location_id.in_(list(scope)))
    # One load: every enrolment this month of the patients the filter names (exclusions span a
    # patient's enrolments, so the engine sees them all), then the filter again, here, for the rows.
    everything = list(session.scalars(select(CareEnrolment).where(
        *_active_in(month), CareEnrolment.patient_id.in_(q.scalar_subquery()))))

    def shown(e: CareEnrolment) -> bool:
        return ((patient_id is None or e.patient_id == patient_id)
                and (provider_id is None or e.provider_id == provider_id)
                and (e.location_id == location_id if location_id is not None
                     else scope is None or e.location_id in scope))

    wanted = [e for e in everything if shown(e)]
    if not wanted:
        return []
    results = {r.key: r for r in rules.bill_month(inputs_for(session, month, everything), months.first_day(month),
                                                  engine_settings(session, ctx.org_id))}
    wanted_ids = {e.id for e in wanted}
    approved = {eid for eid in session.scalars(select(CareMonth.enrolment_id).where(
        CareMonth.month == month, *_by_ids(CareMonth.enrolment_id, wanted_ids, len(wanted_ids) > WHOLE_MONTH_FROM)))
        if eid in wanted_ids}
    names = patients.names(session.connection(), ctx.org_id, list({e.patient_id for e in wanted}))
    # Days left depend on the location's zone only: once per location, not per row.
    month_last = months.last_day(month)
    today_at: dict[uuid.UUID, date] = {}
    rows = []
    for e in wanted:
        if e.location_id not in today_at:
            today_at[e.location_id] = months.local_date(now(), location_zone(session, ctx, e.location_id))
        today = today_at[e.location_id]
        end = min(month_last, e.end_date or month_last)
        left = 0 if today > end else months.days_left(month, today) - (month_last - end).days
        first, last_name, mrn, _dob = names.get(e.patient_id, ("?", "?", "", date.min))
        rows.append(PreviewRow(e, results[e.id], e.id in approved, f"{last_name}, {first}", mrn, max(left, 0)))
    return rows


def billing_preview(ctx: Context, month: str, *, patient_id: uuid.UUID | None = None,
                    provider_id: uuid.UUID | None = None, location_id: uuid.UUID | None = None) -> list[PreviewRow]:
    """Per enrolment: the codes and units the engine would bill this month, the minutes counted,
    the minutes to the next code and the reasons for anything not billed."""
    months.parse_month(month)
    if not ctx.has(CARE_READ):
        ctx.require(CARE_READ)
    with unit_of_work(ctx) as session:
        rows = _month_rows(session, ctx, month, CARE_READ, patient_id=patient_id, provider_id=provider_id,
                           location_id=location_id)
        audit.record_many(session, ctx, "care.preview.view", "care_enrolment",
                          [(r.enrolment.id, r.enrolment.patient_id) for r in rows])
        return rows


def worklist(ctx: Context, month: str, *, location_id: uuid.UUID | None = None,
             provider_id: uuid.UUID | None = None) -> list[PreviewRow]:
    """The coordinator's worklist: patients who still need minutes first (fewest needed first,
    then fewest days left), then those who reached every code they can this month."""
    rows = billing_preview(ctx, month, location_id=location_id, provider_id=provider_id)

    def key(r: PreviewRow) -> tuple[int, int, int, str]:
        needed = r.result.minutes_to_next
        reached_base = bool(r.result.codes) or r.result.error is not None
        return (1 if reached_base else 0, needed if needed is not None else 10**6, r.days_left, r.patient_name)

    return sorted(rows, key=key)


def _require_refs(session: Session, ctx: Context, location_id: uuid.UUID | None, provider_id: uuid.UUID | None,
                  enrolment_ids: list[uuid.UUID] | None) -> None:
    """A command naming another organisation's (or an out-of-scope) object answers 404."""
    ref = reference.current(session.connection(), ctx.org_id)
    scope = ctx.scope(CARE_APPROVE)
    if location_id is not None:
        if location_id not in ref.zones:
            raise NotFound("No such location", field="location_id")
        ctx.require(CARE_APPROVE, location_id, what="location")
    if provider_id is not None and not any(p == provider_id and (scope is None or loc in scope)
                                           for p, loc in ref.pairs):
        raise NotFound("No such provider", field="provider_id")
    for i, eid in enumerate(enrolment_ids or []):
        try:
            load_enrolment(session, ctx, eid, CARE_APPROVE)
        except NotFound:
            raise NotFound("No such enrolment", field=f"enrolment_ids[{i}]") from None


def approve_month(ctx: Context, month: str, *, location_id: uuid.UUID | None = None,
                  provider_id: uuid.UUID | None = None, enrolment_ids: list[uuid.UUID] | None = None
                  ) -> list[CareMonth]:
    """Approve a finished month: every billable enrolment in scope gets one CareMonth with its
    codes (an enrolment already approved for the month is left as it was: approving twice
    creates nothing new). Errors and unbilled enrolments are not approved.

    After the approval commits, each approved month in scope without charges gets its billing
    encounter (care.charging; a month billing refused is retried on the next approval). Returns
    the months approved now, reloaded with `charges_created` and `charge_problem`."""
    months.parse_month(month)
    if not ctx.has(CARE_APPROVE):
        ctx.require(CARE_APPROVE)
    with unit_of_work(ctx) as session:
        write_lock(session)
        _require_refs(session, ctx, location_id, provider_id, enrolment_ids)
        rows = _month_rows(session, ctx, month, CARE_APPROVE, patient_id=None, provider_id=provider_id,
                           location_id=location_id)
        if enrolment_ids is not None:
            wanted = set(enrolment_ids)
            rows = [r for r in rows if r.enrolment.id in wanted]
        created: list[CareMonth] = []
        uncharged = list(session.scalars(select(CareMonth.id).where(
            CareMonth.month == month, CareMonth.charges_created.is_(False),
            CareMonth.enrolment_id.in_([r.enrolment.id for r in rows if r.approved]))))
        over: dict[uuid.UUID, bool] = {}  # per location: the month is over there (one zone lookup each)
        for r in rows:
            if r.approved or not r.result.billable:
                continue
            loc = r.enrolment.location_id
            if loc not in over:
                over[loc] = months.local_date(now(), location_zone(session, ctx, loc)) > months.last_day(month)
            if not over[loc]:
                raise ValidationProblem(f"{month} is not over yet at the enrolment's location", field="month")
            cm = CareMonth(org_id=ctx.org_id, enrolment_id=r.enrolment.id, patient_id=r.enrolment.patient_id,
                           provider_id=r.enrolment.provider_id, month=month, codes=dict(r.result.codes),
                           minutes=dict(r.result.minutes), reasons=list(r.result.reasons),
                           approved_by_id=ctx.actor_id, approved_by_name=ctx.actor_name or "system")
            session.add(cm)
            if r.result.setup_billed_now:
                r.enrolment.rpm_setup_billed = True
            created.append(cm)
            audit.record(session, ctx, "care.month.approve", "care_month", r.enrolment.id,
                         patient_id=r.enrolment.patient_id, location_id=r.enrolment.location_id,
                         detail={"month": month, "codes": r.result.codes})
        session.flush()
        new_ids = [cm.id for cm in created]
    charging.create_charges(ctx, uncharged + new_ids)
    if not new_ids:
        return []
    with unit_of_work(ctx) as session:
        by_id = {cm.id: cm for cm in session.scalars(select(CareMonth).where(CareMonth.id.in_(new_ids)))}
        return [by_id[i] for i in new_ids]


def list_approved(ctx: Context, month: str) -> list[CareMonth]:
    """Approved months in the actor's locations."""
    months.parse_month(month)
    if not ctx.has(CARE_READ):
        ctx.require(CARE_READ)
    scope = ctx.scope(CARE_READ)
    with unit_of_work(ctx) as session:
        q = select(CareMonth).join(CareEnrolment, (CareEnrolment.id == CareMonth.enrolment_id)
                                   & (CareEnrolment.org_id == CareMonth.org_id)).where(CareMonth.month == month)
        if scope is not None:
            q = q.where(CareEnrolment.location_id.in_(list(scope)))
        rows = list(session.scalars(q))
        audit.record_many(session, ctx, "care.month.list", "care_month", [(m.id, m.patient_id) for m in rows])
        return rows

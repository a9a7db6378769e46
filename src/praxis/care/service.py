"""Care management: the problem list, eligibility, consent and enrolment.

Time tracking lives in `timing`, RPM device data in `rpm`, the month's preview and approval in
`closing`, the billing rules themselves in the pure `rules` module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from praxis.care import months
from praxis.care.models import CareConsent, CareEnrolment, CareProblem
from praxis.care.permissions import CARE_ENROL, CARE_READ
from praxis.care.schemas import ConsentIn, EligibilityOut, EnrolmentIn, ProblemIn
from praxis.patients import service as patients
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work, write_lock
from praxis.scheduling import reference

# care-management-rules.md, "Eligibility": CCM needs 2+ chronic conditions expected to last 12+
# months; PCM one high-risk condition expected to last 3+ months.
CCM_MIN_CONDITIONS = 2
CCM_MIN_MONTHS = 12
PCM_MIN_MONTHS = 3
# care-management-rules.md, "Initiating visit": patients not seen in the last 12 months need an
# E/M visit, AWV or IPPE first.
INITIATING_VISIT_WINDOW = timedelta(days=365)


@dataclass(frozen=True)
class Eligibility:
    chronic: int
    high_risk: int
    any_active: int

    def allows(self, program: str) -> bool:
        if program == "ccm":
            return self.chronic >= CCM_MIN_CONDITIONS
        if program == "pcm":
            return self.high_risk >= 1
        return self.any_active >= 1  # RPM: an acute or chronic condition being monitored


def eligibility_of(problems: list[CareProblem], on: date) -> Eligibility:
    active = [p for p in problems if p.resolved_on is None or p.resolved_on > on]
    return Eligibility(chronic=sum(1 for p in active if p.expected_months >= CCM_MIN_MONTHS),
                       high_risk=sum(1 for p in active if p.high_risk and p.expected_months >= PCM_MIN_MONTHS),
                       any_active=len(active))


def _require_patient(session: Session, ctx: Context, patient_id: uuid.UUID) -> None:
    try:
        patients.require_bookable_patient(session, ctx, patient_id)
    except NotFound:
        raise NotFound("No such patient", field="patient_id") from None


def _require_enrol_somewhere(ctx: Context) -> None:
    """The problem list is the patient's, not a location's: the grant anywhere will do."""
    if not ctx.has(CARE_ENROL):
        ctx.require(CARE_ENROL)


def _zone(session: Session, ctx: Context, location_id: uuid.UUID) -> str:
    zones = reference.current(session.connection(), ctx.org_id).zones
    if location_id not in zones:
        raise NotFound("No such location", field="location_id")
    return zones[location_id]


def location_zone(session: Session, ctx: Context, location_id: uuid.UUID) -> str:
    """The IANA zone of an active location (months are calendar months there)."""
    return _zone(session, ctx, location_id)


# --- problem list --------------------------------------------------------------------------------


def add_problem(ctx: Context, patient_id: uuid.UUID, data: ProblemIn) -> CareProblem:
    """Add an ICD-10 problem to the patient's problem list."""
    _require_enrol_somewhere(ctx)
    if data.onset_date and data.onset_date > now().date():
        raise ValidationProblem("onset_date is in the future", field="onset_date")
    with unit_of_work(ctx) as session:
        _require_patient(session, ctx, patient_id)
        problem = CareProblem(org_id=ctx.org_id, patient_id=patient_id, **data.model_dump())
        session.add(problem)
        session.flush()
        audit.record(session, ctx, "care.problem.add", "care_problem", problem.id, patient_id=patient_id,
                     detail={"icd10": data.icd10})
        return problem


def resolve_problem(ctx: Context, problem_id: uuid.UUID, resolved_on: date) -> CareProblem:
    """Mark a problem resolved (it stops counting towards eligibility after that date)."""
    _require_enrol_somewhere(ctx)
    with unit_of_work(ctx) as session:
        problem = get_or_404(session, CareProblem, problem_id, "problem")
        _require_patient(session, ctx, problem.patient_id)
        problem.resolved_on = resolved_on
        audit.record(session, ctx, "care.problem.resolve", "care_problem", problem.id,
                     patient_id=problem.patient_id)
        return problem


def list_problems(ctx: Context, patient_id: uuid.UUID) -> list[CareProblem]:
    """The patient's problem list, oldest onset first."""
    if not ctx.has(CARE_READ):
        ctx.require(CARE_READ)
    with unit_of_work(ctx) as session:
        _require_patient(session, ctx, patient_id)
        rows = list(session.scalars(select(CareProblem).where(CareProblem.patient_id == patient_id)
                                    .order_by(CareProblem.onset_date, CareProblem.created_at)))
        audit.record(session, ctx, "care.problem.list", "care_problem", None, patient_id=patient_id)
        return rows


def eligibility_worklist(ctx: Context, *, limit: int = 200) -> list[EligibilityOut]:
    """Patients whose problem list makes them eligible for a programme they are not enrolled in."""
    if not ctx.has(CARE_ENROL):
        ctx.require(CARE_ENROL)
    today = now().date()
    with unit_of_work(ctx) as session:
        problems = list(session.scalars(select(CareProblem).where(
            or_(CareProblem.resolved_on.is_(None), CareProblem.resolved_on > today))))
        by_patient: dict[uuid.UUID, list[CareProblem]] = {}
        for p in problems:
            by_patient.setdefault(p.patient_id, []).append(p)
        enrolled: dict[uuid.UUID, set[str]] = {}
        for e in session.scalars(select(CareEnrolment).where(
                or_(CareEnrolment.end_date.is_(None), CareEnrolment.end_date >= today))):
            enrolled.setdefault(e.patient_id, set()).add(e.program)
        rows: list[EligibilityOut] = []
        for patient_id, items in by_patient.items():
            elig = eligibility_of(items, today)
            programs = [p for p in ("ccm", "pcm", "rpm") if elig.allows(p)]
            have = enrolled.get(patient_id, set())
            if not [p for p in programs if p not in have and p != "rpm"]:
                continue
            try:
                _require_patient(session, ctx, patient_id)
            except NotFound:
                continue  # not visible to this actor
            rows.append(EligibilityOut(patient_id=patient_id, programs=programs,  # type: ignore[arg-type]
                                       chronic_problems=elig.chronic, high_risk_problems=elig.high_risk,
                                       enrolled=sorted(have)))  # type: ignore[arg-type]
        rows.sort(key=lambda r: (-r.chronic_problems, -r.high_risk_problems, str(r.patient_id)))
        rows = rows[:limit]
        audit.record_many(session, ctx, "care.eligibility.view", "patient", [(r.patient_id, r.patient_id)
                                                                             for r in rows])
        return rows


# --- consent and enrolment -----------------------------------------------------------------------


def _consent_for(session: Session, patient_id: uuid.UUID, provider_id: uuid.UUID) -> CareConsent | None:
    return session.scalars(select(CareConsent).where(CareConsent.patient_id == patient_id,
                                                     CareConsent.provider_id == provider_id)
                           .order_by(CareConsent.obtained_at.desc())).first()


def _new_consent(session: Session, ctx: Context, patient_id: uuid.UUID, provider_id: uuid.UUID,
                 data: ConsentIn) -> CareConsent:
    missing = [f for f in ("told_availability", "told_cost_sharing", "told_stop_month_end",
                           "told_one_practitioner") if not getattr(data, f)]
    if missing:
        raise ValidationProblem(f"consent.{missing[0]}: the patient must be told this before consenting",
                                field=f"consent.{missing[0]}")
    if data.obtained_at.tzinfo is None:
        raise ValidationProblem("consent.obtained_at needs a time zone", field="consent.obtained_at")
    if data.obtained_at > now() + timedelta(minutes=5):
        raise ValidationProblem("consent.obtained_at is in the future", field="consent.obtained_at")
    consent = CareConsent(org_id=ctx.org_id, patient_id=patient_id, provider_id=provider_id,
                          method=data.method, obtained_by_id=ctx.actor_id,
                          obtained_by_name=data.obtained_by_name or ctx.actor_name or "unknown",
                          obtained_at=data.obtained_at, told_availability=True, told_cost_sharing=True,
                          told_stop_month_end=True, told_one_practitioner=True, note=data.note)
    session.add(consent)
    session.flush()
    audit.record(session, ctx, "care.consent.record", "care_consent", consent.id, patient_id=patient_id,
                 detail={"provider_id": str(provider_id), "method": data.method})
    return consent


def enrol(ctx: Context, data: EnrolmentIn) -> CareEnrolment:
    """Enrol a patient in CCM, PCM or RPM with one billing practitioner.

    Checks: eligibility from the problem list, the initiating visit (within 12 months before the
    start), consent (reused when the patient already consented with this practitioner; otherwise
    `data.consent` is required), the practitioner working at the location, and that no other
    practitioner holds an open CCM enrolment (only one practitioner may bill CCM per month).
    """
    ctx.require(CARE_ENROL, data.location_id, what="location")
    with unit_of_work(ctx) as session:
        write_lock(session)
        zone = _zone(session, ctx, data.location_id)
        _require_patient(session, ctx, data.patient_id)
        if (data.provider_id, data.location_id) not in reference.current(session.connection(), ctx.org_id).pairs:
            raise NotFound("No such provider at this location", field="provider_id")
        start = data.start_date or months.local_date(now(), zone)
        if data.initiating_visit_on > start:
            raise ValidationProblem("initiating_visit_on is after the start of the service",
                                    field="initiating_visit_on")
        if start - data.initiating_visit_on > INITIATING_VISIT_WINDOW:
            raise ValidationProblem("the initiating visit (E/M, AWV or IPPE) must be within the 12 months "
                                    "before the service starts", field="initiating_visit_on")
        problems = list(session.scalars(select(CareProblem).where(CareProblem.patient_id == data.patient_id)))
        if not eligibility_of(problems, start).allows(data.program):
            need = {"ccm": "two or more chronic conditions expected to last 12 months or more",
                    "pcm": "one high-risk chronic condition expected to last 3 months or more",
                    "rpm": "an active condition on the problem list"}[data.program]
            raise ValidationProblem(f"not eligible for {data.program.upper()}: the problem list needs {need}",
                                    field="program")
        open_ = list(session.scalars(select(CareEnrolment).where(
            CareEnrolment.patient_id == data.patient_id, CareEnrolment.program == data.program,
            or_(CareEnrolment.end_date.is_(None), CareEnrolment.end_date >= start))))
        for other in open_:
            if other.provider_id == data.provider_id:
                raise Conflict(f"already enrolled in {data.program.upper()} with this practitioner",
                               field="program")
            if data.program == "ccm":
                raise Conflict("only one practitioner may bill CCM per month: disenrol the patient from the "
                               "other practitioner's CCM first (it ends at that month's end) and start after it",
                               field="provider_id")
        consent = _consent_for(session, data.patient_id, data.provider_id)
        if consent is None:
            if data.consent is None:
                raise ValidationProblem("consent is required: the patient has not consented with this billing "
                                        "practitioner", field="consent")
            consent = _new_consent(session, ctx, data.patient_id, data.provider_id, data.consent)
        enrolment = CareEnrolment(org_id=ctx.org_id, patient_id=data.patient_id, provider_id=data.provider_id,
                                  location_id=data.location_id, program=data.program, complex=data.complex,
                                  consent_id=consent.id, initiating_visit_on=data.initiating_visit_on,
                                  initiating_visit_kind=data.initiating_visit_kind, start_date=start)
        session.add(enrolment)
        session.flush()
        audit.record(session, ctx, "care.enrol", "care_enrolment", enrolment.id, patient_id=data.patient_id,
                     location_id=data.location_id, detail={"program": data.program,
                                                           "provider_id": str(data.provider_id)})
        return enrolment


def disenrol(ctx: Context, enrolment_id: uuid.UUID, *, reason: str, requested_on: date | None = None
             ) -> CareEnrolment:
    """End an enrolment at the end of the calendar month of `requested_on` (default today)."""
    with unit_of_work(ctx) as session:
        enrolment = load_enrolment(session, ctx, enrolment_id, CARE_ENROL)
        if enrolment.end_date is not None:
            raise Conflict("the enrolment has already ended", field="enrolment_id")
        zone = _zone(session, ctx, enrolment.location_id)
        day = requested_on or months.local_date(now(), zone)
        enrolment.end_date = months.month_end(max(day, enrolment.start_date))
        enrolment.end_reason = reason
        audit.record(session, ctx, "care.disenrol", "care_enrolment", enrolment.id,
                     patient_id=enrolment.patient_id, location_id=enrolment.location_id,
                     detail={"end_date": enrolment.end_date.isoformat(), "reason": reason})
        return enrolment


def load_enrolment(session: Session, ctx: Context, enrolment_id: uuid.UUID, permission: str) -> CareEnrolment:
    """An enrolment the actor may act on with `permission` at its location (else 404)."""
    enrolment = get_or_404(session, CareEnrolment, enrolment_id, "enrolment")
    ctx.require(permission, enrolment.location_id, what="enrolment")
    return enrolment


def get_enrolment(ctx: Context, enrolment_id: uuid.UUID) -> CareEnrolment:
    with unit_of_work(ctx) as session:
        e = load_enrolment(session, ctx, enrolment_id, CARE_READ)
        audit.record(session, ctx, "care.enrolment.view", "care_enrolment", e.id, patient_id=e.patient_id)
        return e


def list_enrolments(ctx: Context, *, patient_id: uuid.UUID | None = None, location_id: uuid.UUID | None = None,
                    active_on: date | None = None) -> list[CareEnrolment]:
    """Enrolments in the actor's locations (optionally one patient's, one location's, active on a day)."""
    if not ctx.has(CARE_READ):
        ctx.require(CARE_READ)
    scope = ctx.scope(CARE_READ)
    with unit_of_work(ctx) as session:
        q = select(CareEnrolment)
        if patient_id is not None:
            q = q.where(CareEnrolment.patient_id == patient_id)
        if location_id is not None:
            ctx.require(CARE_READ, location_id, what="location")
            q = q.where(CareEnrolment.location_id == location_id)
        elif scope is not None:
            q = q.where(CareEnrolment.location_id.in_(list(scope)))
        if active_on is not None:
            q = q.where(CareEnrolment.start_date <= active_on,
                        or_(CareEnrolment.end_date.is_(None), CareEnrolment.end_date >= active_on))
        rows = list(session.scalars(q.order_by(CareEnrolment.start_date).limit(1000)))
        audit.record_many(session, ctx, "care.enrolment.list", "care_enrolment", [(e.id, e.patient_id)
                                                                                for e in rows])
        return rows


def get_consent(ctx: Context, patient_id: uuid.UUID, provider_id: uuid.UUID) -> CareConsent | None:
    """The patient's consent with this billing practitioner, if any."""
    if not ctx.has(CARE_READ):
        ctx.require(CARE_READ)
    with unit_of_work(ctx) as session:
        _require_patient(session, ctx, patient_id)
        consent = _consent_for(session, patient_id, provider_id)
        audit.record(session, ctx, "care.consent.view", "care_consent", consent.id if consent else None,
                     patient_id=patient_id)
        return consent

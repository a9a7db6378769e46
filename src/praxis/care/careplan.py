"""Comprehensive care plans (issue 16 item 2): one plan per enrolment, versioned.

Every save inserts a new immutable version with its author and time; earlier versions stay
readable. A version may be flagged a *substantial revision* (with the reason); the first version
of a plan is its establishment and is always flagged. Complex CCM (99487/99489) is billed only in
a month with such a version (CPT: "establishment or substantial revision of a comprehensive care
plan"); `revised_in` gives the engine that fact, so `rules` stays pure.

Problems are linked to the patient's problem list: a version stores the problem ids *and* a
snapshot of their codes, so a later edit of the problem list does not rewrite an old plan.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.care import months
from praxis.care.models import CareEnrolment, CarePlanVersion, CareProblem
from praxis.care.permissions import CARE_PLAN, CARE_READ
from praxis.care.schemas import CarePlanIn
from praxis.care.service import load_enrolment, location_zone
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Conflict, ValidationProblem
from praxis.platform.uow import unit_of_work

ESTABLISHED = "care plan established"


def _latest(session: Session, enrolment_id: uuid.UUID) -> CarePlanVersion | None:
    return session.scalars(select(CarePlanVersion).where(CarePlanVersion.enrolment_id == enrolment_id)
                           .order_by(CarePlanVersion.version.desc())).first()


def _content(session: Session, enrolment: CareEnrolment, data: CarePlanIn) -> dict[str, Any]:
    """The plan as stored: problems resolved against the patient's problem list (422 naming the
    index of an unknown one), the rest as given."""
    wanted = list(dict.fromkeys(data.problem_ids))
    found = {p.id: p for p in session.scalars(select(CareProblem).where(
        CareProblem.patient_id == enrolment.patient_id, CareProblem.id.in_(wanted)))} if wanted else {}
    for i, pid in enumerate(wanted):
        if pid not in found:
            raise ValidationProblem("not on the patient's problem list", field=f"problem_ids[{i}]")
    return {
        "problems": [{"id": str(pid), "icd10": found[pid].icd10, "description": found[pid].description}
                     for pid in wanted],
        "goals": [g.model_dump(mode="json") for g in data.goals],
        "interventions": [x.model_dump(mode="json") for x in data.interventions],
        "team": [t.model_dump(mode="json") for t in data.team],
        "summary": data.summary,
    }


def save_plan(ctx: Context, enrolment_id: uuid.UUID, data: CarePlanIn) -> CarePlanVersion:
    """Save the enrolment's care plan as a new version (the first save establishes the plan).

    `based_on_version` guards against a lost update: when given, it must be the current latest
    version, else 409 (someone saved in between; reload and re-apply). A substantial revision
    needs a reason."""
    if data.substantial_revision and not data.revision_reason.strip():
        raise ValidationProblem("a substantial revision needs a reason", field="revision_reason")
    author = ctx.actor_name or "system"
    try:
        with unit_of_work(ctx) as session:
            enrolment = load_enrolment(session, ctx, enrolment_id, CARE_PLAN)
            latest = _latest(session, enrolment.id)
            current = latest.version if latest else 0
            if data.based_on_version is not None and data.based_on_version != current:
                raise Conflict(f"the plan was saved by someone else (now version {current}): reload it and "
                               "apply your changes again", field="based_on_version", type="care-plan-stale")
            content = _content(session, enrolment, data)
            first = latest is None
            version = CarePlanVersion(
                org_id=ctx.org_id, enrolment_id=enrolment.id, patient_id=enrolment.patient_id, version=current + 1,
                content=content, review_on=data.review_on,
                substantial_revision=first or data.substantial_revision,
                revision_reason=(data.revision_reason.strip() or ESTABLISHED) if first else
                data.revision_reason.strip(),
                effective_on=months.local_date(now(), location_zone(session, ctx, enrolment.location_id)),
                author_id=ctx.actor_id, author_name=author, created_at=now())
            session.add(version)
            session.flush()
            audit.record(session, ctx, "care.plan.save", "care_plan_version", version.id,
                         patient_id=enrolment.patient_id, location_id=enrolment.location_id,
                         detail={"enrolment_id": str(enrolment.id), "version": version.version,
                                 "substantial_revision": version.substantial_revision})
            return version
    except IntegrityError:
        # Two saves raced for the same version number: the unique index let one through.
        raise Conflict("the plan was saved by someone else at the same moment: reload it and apply your "
                       "changes again", field="based_on_version", type="care-plan-stale") from None


def list_versions(ctx: Context, enrolment_id: uuid.UUID) -> list[CarePlanVersion]:
    """Every version of the enrolment's plan, newest first."""
    with unit_of_work(ctx) as session:
        enrolment = load_enrolment(session, ctx, enrolment_id, CARE_READ)
        rows = list(session.scalars(select(CarePlanVersion).where(CarePlanVersion.enrolment_id == enrolment.id)
                                    .order_by(CarePlanVersion.version.desc())))
        audit.record(session, ctx, "care.plan.list", "care_enrolment", enrolment.id,
                     patient_id=enrolment.patient_id, location_id=enrolment.location_id)
        return rows


def get_version(ctx: Context, version_id: uuid.UUID) -> CarePlanVersion:
    """One version of a plan (404 outside the actor's organisation or locations)."""
    with unit_of_work(ctx) as session:
        v = get_or_404(session, CarePlanVersion, version_id, "care plan version")
        enrolment = load_enrolment(session, ctx, v.enrolment_id, CARE_READ)
        audit.record(session, ctx, "care.plan.view", "care_plan_version", v.id, patient_id=v.patient_id,
                     location_id=enrolment.location_id)
        return v


def current_plans(session: Session, enrolment_ids: list[uuid.UUID]) -> dict[uuid.UUID, CarePlanVersion]:
    """The latest version of each enrolment's plan (enrolments without a plan are absent)."""
    if not enrolment_ids:
        return {}
    top = (select(CarePlanVersion.enrolment_id, func.max(CarePlanVersion.version).label("v"))
           .where(CarePlanVersion.enrolment_id.in_(enrolment_ids)).group_by(CarePlanVersion.enrolment_id)
           .subquery())
    rows = session.scalars(select(CarePlanVersion).join(
        top, (top.c.enrolment_id == CarePlanVersion.enrolment_id) & (top.c.v == CarePlanVersion.version))
        .where(CarePlanVersion.enrolment_id.in_(enrolment_ids)))
    return {v.enrolment_id: v for v in rows}


def versions_in_force(session: Session, enrolment_id: uuid.UUID, month: str) -> list[CarePlanVersion]:
    """The versions in force during the month: the one in force on its first day (the latest saved
    before it) and every version saved within it, oldest first (the audit packet's care plans)."""
    first, last = months.first_day(month), months.last_day(month)
    rows = list(session.scalars(select(CarePlanVersion).where(
        CarePlanVersion.enrolment_id == enrolment_id, CarePlanVersion.effective_on <= last)
        .order_by(CarePlanVersion.version)))
    before = [v for v in rows if v.effective_on < first]
    return before[-1:] + [v for v in rows if v.effective_on >= first]


def revised_in(session: Session, month: str, enrolment_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Enrolments whose care plan was established or substantially revised in the month (local
    dates at the enrolment's location): the care-plan half of complex CCM."""
    if not enrolment_ids:
        return set()
    first: date = months.first_day(month)
    last: date = months.last_day(month)
    return set(session.scalars(select(CarePlanVersion.enrolment_id).where(
        CarePlanVersion.enrolment_id.in_(enrolment_ids), CarePlanVersion.substantial_revision.is_(True),
        CarePlanVersion.effective_on >= first, CarePlanVersion.effective_on <= last).distinct()))

"""What the care screens show, gathered through the services (no HTTP here): the patient's care
page and the choices of the enrolment form. The screens (ui.py) only parse and render."""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from praxis.care import careplan, closing, service, timing
from praxis.care.closing import PreviewRow
from praxis.care.models import CareConsent, CareEnrolment, CarePlanVersion, CareProblem, CareTimeEntry
from praxis.care.permissions import CARE_ENROL, CARE_READ
from praxis.patients import service as patients
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.uow import unit_of_work
from praxis.practice import service as practice
from praxis.scheduling import setup


@dataclass
class EnrolmentView:
    enrolment: CareEnrolment
    practitioner: str
    location: str
    consent: CareConsent | None
    plan: CarePlanVersion | None
    versions: int
    preview: PreviewRow | None
    entries: list[CareTimeEntry] = field(default_factory=list)


@dataclass
class PatientCare:
    patient_id: uuid.UUID
    name: str
    mrn: str
    month: str
    problems: list[CareProblem]
    enrolments: list[EnrolmentView]


def _names(ctx: Context) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    providers: dict[uuid.UUID, str] = {}
    with suppress(ProblemError):  # a care role without scheduling:read still sees its care page
        providers = {p.id: p.display_name for p, _locs in setup.list_providers(ctx, active_only=False)}
    locations = {loc.id: loc.name for loc in practice.list_locations(ctx, permission=CARE_READ,
                                                                     include_inactive=True)}
    return providers, locations


def patient_care(ctx: Context, patient_id: uuid.UUID, month: str) -> PatientCare:
    """The patient's care page: enrolments (consent, current care plan), this month's minutes per
    lane and to the next code, and the month's time entries."""
    problems = service.list_problems(ctx, patient_id)  # checks the patient is visible (else 404)
    enrolments = service.list_enrolments(ctx, patient_id=patient_id)
    preview = {r.enrolment.id: r for r in closing.billing_preview(ctx, month, patient_id=patient_id)}
    providers, locations = _names(ctx)
    with unit_of_work(ctx) as session:
        names = patients.names(session.connection(), ctx.org_id, [patient_id])
        first, last, mrn, _dob = names.get(patient_id, ("?", "?", "", None))
        consents = {c.id: c for c in session.scalars(select(CareConsent).where(
            CareConsent.id.in_({e.consent_id for e in enrolments})))} if enrolments else {}
        plans = careplan.current_plans(session, [e.id for e in enrolments])
    views = []
    for e in sorted(enrolments, key=lambda x: (x.end_date is not None, x.program)):
        plan = plans.get(e.id)
        views.append(EnrolmentView(e, providers.get(e.provider_id, "?"), locations.get(e.location_id, "?"),
                                   consents.get(e.consent_id), plan, plan.version if plan else 0, preview.get(e.id),
                                   timing.list_entries(ctx, e.id, month) if e.id in preview else []))
    return PatientCare(patient_id, f"{last}, {first}", mrn, month, problems, views)


def enrol_choices(ctx: Context) -> dict[str, Any]:
    """Billing practitioners and locations the actor may enrol at."""
    scope = ctx.scope(CARE_ENROL)
    providers = [(p, locs) for p, locs in setup.list_providers(ctx)]
    locations = [loc for loc in practice.list_locations(ctx, permission=CARE_ENROL)
                 if scope is None or loc.id in scope]
    return {"providers": providers, "locations": locations}


def enrolment_zone(ctx: Context, enrolment: CareEnrolment) -> str:
    """The IANA zone of the enrolment's location (a form's local time is read there)."""
    with unit_of_work(ctx) as session:
        return service.location_zone(session, ctx, enrolment.location_id)


def location_zone(ctx: Context, location_id: uuid.UUID) -> str:
    """The IANA zone of an active location of the organisation (404 otherwise)."""
    with unit_of_work(ctx) as session:
        return service.location_zone(session, ctx, location_id)


def team_suggestions(ctx: Context) -> list[str]:
    """Names the care-plan editor suggests for team members: the signed-in person and the
    organisation's practitioners (free text stays allowed: dietitians, pharmacists, family)."""
    names = [ctx.actor_name] if ctx.actor_name else []
    with suppress(ProblemError):  # without scheduling:read: suggest only oneself
        names += [p.display_name for p, _locs in setup.list_providers(ctx)]
    return list(dict.fromkeys(names))

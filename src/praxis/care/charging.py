"""An approved care month becomes one billing encounter (issue 16 item 7).

Runs after the approval's commit (billing's `record_ehr_charges` owns its own unit of work), so
it is idempotent: the encounter is keyed `care:{enrolment}:{YYYY-MM}` with source `care`, and a
month already charged is skipped. Whatever billing refuses is kept on the month as the reason
no charge was created; the approval itself stands (docs/decisions.md section 34).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from praxis.billing import charges
from praxis.billing import reference as billing_reference
from praxis.billing.schemas import EhrChargeIn, LineIn
from praxis.care import months
from praxis.care.models import CareEnrolment, CareMonth, CareProblem
from praxis.platform import audit
from praxis.platform.context import Context, system_context
from praxis.platform.errors import ProblemError
from praxis.platform.uow import unit_of_work

SOURCE = "care"
MAX_DIAGNOSES = 12


def encounter_key(enrolment_id: uuid.UUID, month: str) -> str:
    return f"{SOURCE}:{enrolment_id}:{month}"


def _build(ctx: Context, month_id: uuid.UUID) -> EhrChargeIn | str | None:
    """The charge for one approved month, the reason none can be made, or None when done."""
    with unit_of_work(ctx) as session:
        cm = session.scalars(select(CareMonth).where(CareMonth.id == month_id)).first()
        if cm is None or cm.charges_created or not cm.codes:
            return None
        e = session.scalars(select(CareEnrolment).where(CareEnrolment.id == cm.enrolment_id)).one()
        if billing_reference.profile_for(session, e.location_id) is None:
            return "No billing profile at the enrolment's location"
        last = months.last_day(cm.month)
        dx: list[str] = []
        for p in session.scalars(select(CareProblem).where(CareProblem.patient_id == e.patient_id)
                                 .order_by(CareProblem.created_at)):
            if (p.resolved_on is None or p.resolved_on > last) and p.icd10 not in dx:
                dx.append(p.icd10)
        if not dx:
            return "The patient's problem list has no current diagnosis"
        dx = dx[:MAX_DIAGNOSES]
        pointers = list(range(1, min(len(dx), 4) + 1))
        try:
            return EhrChargeIn(
                source=SOURCE, encounter_id=encounter_key(e.id, cm.month), patient_id=e.patient_id,
                location_id=e.location_id, date_of_service=last, rendering_provider_id=e.provider_id,
                diagnoses=dx, lines=[LineIn(code=code, units=int(units), dx_pointers=pointers)
                                     for code, units in sorted(cm.codes.items())])
        except ValueError as exc:  # pydantic: a code billing does not accept
            return f"Billing refused the charge: {str(exc).splitlines()[0]}"[:500]


def _record(ctx: Context, month_id: uuid.UUID, encounter_id: uuid.UUID | None, problem: str) -> None:
    with unit_of_work(ctx) as session:
        cm = session.scalars(select(CareMonth).where(CareMonth.id == month_id)).first()
        if cm is None or cm.charges_created:
            return
        cm.charges_created = encounter_id is not None
        cm.charge_encounter_id = encounter_id
        cm.charge_problem = problem[:500]
        audit.record(session, ctx, "care.month.charge", "care_month", cm.id, patient_id=cm.patient_id,
                     detail={"month": cm.month, "encounter_id": str(encounter_id) if encounter_id else None,
                             "problem": cm.charge_problem})


def create_charges(ctx: Context, month_ids: list[uuid.UUID]) -> None:
    """Create the billing encounter of each approved month not yet charged (idempotent).

    Billing is called with a system context named for the approval: approving a month is the
    decision to bill it, and the approver need not hold billing:charge."""
    billing_ctx = system_context(ctx.org_id, f"care.approve:{ctx.actor_name or 'system'}")
    for month_id in month_ids:
        built = _build(ctx, month_id)
        if built is None:
            continue
        if isinstance(built, str):
            _record(ctx, month_id, None, built)
            continue
        try:
            out, _created = charges.record_ehr_charges(billing_ctx, built)
        except ProblemError as exc:
            _record(ctx, month_id, None, f"Billing refused the charge: {exc.detail}")
            continue
        _record(ctx, month_id, out.id, "")

"""Intake read models for the desk: the intake of one appointment, and the review queue
(submissions waiting for a person), newest first, within the caller's locations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from praxis.intake.apply import payer_answer
from praxis.intake.models import IntakeSubmission, IntakeWorkflow
from praxis.intake.permissions import INTAKE_FILL, INTAKE_READ, INTAKE_REVIEW
from praxis.intake.service import STATUS_LABELS
from praxis.patients.coverage import find_payer_in
from praxis.patients.models import Patient
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.errors import Forbidden
from praxis.platform.uow import unit_of_work

QUEUE_LIMIT = 200


@dataclass(frozen=True)
class AppointmentIntake:
    submission_id: uuid.UUID
    status: str
    status_words: str
    channel: str
    submitted_at: datetime | None
    apply_notes: list[str]


@dataclass(frozen=True)
class QueueItem:
    submission_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    mrn: str
    workflow: str
    location_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    channel: str
    submitted_at: datetime | None


def for_appointment(ctx: Context, appointment_id: uuid.UUID, location_id: uuid.UUID | None) -> AppointmentIntake | None:
    """The intake opened for this appointment, if any (None too for an actor who may not read
    intake at the location). The caller has already audited reading the appointment's patient."""
    if not (ctx.can(INTAKE_READ, location_id) or ctx.can(INTAKE_FILL, location_id)):
        return None
    with unit_of_work(ctx) as session:
        sub = session.scalars(select(IntakeSubmission).where(IntakeSubmission.appointment_id == appointment_id)).first()
        if sub is None:
            return None
        return AppointmentIntake(sub.id, sub.status, STATUS_LABELS.get(sub.status, sub.status), sub.channel,
                                 sub.submitted_at, [str(n) for n in (sub.apply_notes or [])])


def review_queue(ctx: Context, location_id: uuid.UUID | None = None) -> list[QueueItem]:
    """Submitted intakes waiting for review (oldest first: first come, first served), at the
    locations where the actor may review; one audit record per patient listed."""
    if not ctx.has(INTAKE_REVIEW):
        raise Forbidden(f"Permission {INTAKE_REVIEW} required")
    with unit_of_work(ctx) as session:
        q = (select(IntakeSubmission, Patient.first_name, Patient.last_name, Patient.mrn, IntakeWorkflow.name)
             .join(Patient, (Patient.org_id == IntakeSubmission.org_id) & (Patient.id == IntakeSubmission.patient_id))
             .join(IntakeWorkflow, (IntakeWorkflow.org_id == IntakeSubmission.org_id)
                   & (IntakeWorkflow.id == IntakeSubmission.workflow_id))
             .where(IntakeSubmission.status == "submitted"))
        if location_id is not None:
            q = q.where(IntakeSubmission.location_id == location_id)
        rows = session.execute(q.order_by(IntakeSubmission.submitted_at, IntakeSubmission.id).limit(QUEUE_LIMIT)).all()
        out = [QueueItem(s.id, s.patient_id, f"{last}, {first}", mrn, name, s.location_id, s.appointment_id, s.channel,
                         s.submitted_at)
               for s, first, last, mrn, name in rows
               if ctx.can(INTAKE_REVIEW, s.location_id)]
        audit.record_many(session, ctx, "intake.review_queue", "intake_submission",
                          [(i.submission_id, i.patient_id) for i in out])
        return out


def unknown_payer(ctx: Context, definition: dict[str, Any], answers: dict[str, Any]) -> str | None:
    """The insurance company a submission names that the payer directory does not know (what
    approving would fail to apply), or None when there is nothing to fix."""
    values = payer_answer(definition, answers)
    named = values.get("payer_code") or values.get("payer_name")
    if not named:
        return None
    with unit_of_work(ctx) as session:
        payer = find_payer_in(session, values)
    return None if payer is not None and payer.active else str(named)

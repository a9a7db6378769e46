"""Patient alerts: findings a person must see and acknowledge (a positive PHQ-9 item 9, …).

The domain that finds something raises the alert inside its own unit of work (`raise_alert_in`,
idempotent per source), so the finding and the alert commit together. Acknowledging is a
command of its own: it records who and when (and an optional note) on the alert and in the
audit log; an acknowledged alert stays visible in the patient's history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.patients.access import load_patient
from praxis.patients.models import Patient, PatientAlert
from praxis.patients.permissions import PATIENTS_ALERTS
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import Conflict, NotFound
from praxis.platform.uow import unit_of_work, write_lock

Severity = Literal["high", "medium", "info"]


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    kind: str
    severity: str
    message: str
    source_type: str
    source_id: uuid.UUID | None
    created_at: datetime
    acknowledged_by: uuid.UUID | None
    acknowledged_by_name: str
    acknowledged_at: datetime | None
    acknowledgement_note: str
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")

    @property
    def open(self) -> bool:
        return self.acknowledged_at is None


def raise_alert_in(session: Session, ctx: Context, patient_id: uuid.UUID, *, kind: str, message: str,
                   severity: Severity = "high", source_type: str = "", source_id: uuid.UUID | None = None,
                   ) -> PatientAlert:
    """Raise an alert in the caller's unit of work; the same (source, kind) raises it once."""
    if source_id is not None:
        existing = session.scalars(select(PatientAlert).where(
            PatientAlert.source_type == source_type, PatientAlert.source_id == source_id,
            PatientAlert.kind == kind)).first()
        if existing is not None:
            return existing
    alert = PatientAlert(org_id=ctx.org_id, patient_id=patient_id, kind=kind, severity=severity,
                         message=message[:500], source_type=source_type, source_id=source_id)
    session.add(alert)
    session.flush()
    audit.record(session, ctx, "patient_alert.raise", "patient_alert", alert.id, patient_id=patient_id,
                 detail={"kind": kind, "source_type": source_type})
    return alert


def alerts_in(session: Session, patient: Patient) -> list[AlertOut]:
    """A patient's alerts for a caller that loaded (and audited the read of) the patient: open ones
    first, newest first."""
    rows = session.scalars(select(PatientAlert).where(PatientAlert.patient_id == patient.id)
                           .order_by(PatientAlert.created_at.desc()))
    out = [AlertOut.model_validate(a) for a in rows]
    return sorted(out, key=lambda a: a.acknowledged_at is not None)


def list_alerts(ctx: Context, patient_id: uuid.UUID) -> list[AlertOut]:
    """A patient's alerts, open first (404 when the patient is not visible)."""
    with unit_of_work(ctx) as session:
        write_lock(session)  # read, then the audit write (SQLite: no read-then-write collision)
        patient = load_patient(session, ctx, patient_id)
        audit.record(session, ctx, "patient_alert.list", "patient", patient.id, patient_id=patient.id)
        return alerts_in(session, patient)


def acknowledge_alert(ctx: Context, patient_id: uuid.UUID, alert_id: uuid.UUID, note: str = "") -> AlertOut:
    """A person acknowledges an open alert of this patient: who, when and the note are kept on the
    alert and in the audit log. An alert of another patient answers 404; a second acknowledgement
    is refused (409) so the first one's record stands."""
    with unit_of_work(ctx) as session:
        write_lock(session)
        patient = load_patient(session, ctx, patient_id, PATIENTS_ALERTS)
        alert = session.scalars(select(PatientAlert).where(PatientAlert.id == alert_id,
                                                           PatientAlert.patient_id == patient.id)).first()
        if alert is None:
            raise NotFound("No such alert")
        if alert.acknowledged_at is not None:
            raise Conflict(f"This alert was already acknowledged by {alert.acknowledged_by_name}", field="alert_id")
        alert.acknowledged_at = now()
        alert.acknowledged_by = ctx.actor_id
        alert.acknowledged_by_name = (ctx.actor_name or "unknown")[:200]
        alert.acknowledgement_note = note.strip()[:500]
        audit.record(session, ctx, "patient_alert.acknowledge", "patient_alert", alert.id, patient_id=patient.id,
                     detail={"kind": alert.kind})
        return AlertOut.model_validate(alert)


__all__ = ["AlertOut", "acknowledge_alert", "alerts_in", "list_alerts", "raise_alert_in"]

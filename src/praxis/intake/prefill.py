"""What a patient link shows already filled in: the answers the record already holds for the
fields that map to the patient (name, date of birth, phone, e-mail, address, contact consents).

The link is single-use, expiring and sent only to the patient's own consented phone or e-mail;
the values shown are the ones the patient gave the clinic. Nothing is stored until the patient
submits the step (then it goes through the normal answer checks and staff review)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.intake.definition import all_fields
from praxis.intake.models import IntakeSubmission
from praxis.patients.models import Patient

# Never pre-filled: identifiers a forwarded link should not reveal.
_WITHHELD = frozenset({"ssn", "ssn_last4"})


def known_answers(session: Session, sub: IntakeSubmission, definition: dict[str, Any]) -> dict[str, Any]:
    """Answers for the patient-mapped fields from the record, as the form expects them."""
    patient = session.scalars(select(Patient).where(Patient.id == sub.patient_id)).first()
    if patient is None:
        return {}
    out: dict[str, Any] = {}
    for f in all_fields(definition):
        target = str(f.get("maps_to") or "")
        if not target.startswith("patient."):
            continue
        attr = target.split(".", 1)[1]
        if attr in _WITHHELD:
            continue
        value = getattr(patient, attr, None)
        if value in (None, ""):
            continue
        if isinstance(value, date):
            value = value.isoformat()
        if f["type"] == "checkbox":
            value = bool(value)
        elif f["type"] == "select" and value not in (f.get("options") or []):
            continue
        out[f["key"]] = value
    return out

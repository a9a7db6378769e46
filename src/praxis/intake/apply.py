"""Applying intake answers to the registry (after staff review, or at once when no review)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from praxis.intake.definition import all_fields
from praxis.intake.models import IntakeSubmission
from praxis.patients.schemas import PatientUpdate
from praxis.patients.service import apply_coverage_card_in, update_patient_in
from praxis.platform import audit
from praxis.platform.context import Context


def apply_submission(session: Session, ctx: Context, sub: IntakeSubmission, defn: dict[str, Any], *,
                     payer_id: uuid.UUID | None = None) -> list[str]:
    """Write mapped answers to the patient, coverage and documents; returns notes for staff.
    `payer_id` is the reviewer's choice of payer when the answer does not name one in the
    directory."""
    notes: list[str] = []
    patient_values: dict[str, Any] = {}
    coverage_values: dict[str, Any] = {}
    documents: dict[str, str] = {}
    for f in all_fields(defn):
        target = f.get("maps_to")
        if not target or f["key"] not in sub.answers:
            continue
        value = sub.answers[f["key"]]
        if value in (None, "", []):
            continue
        area, _, attr = target.partition(".")
        if area == "patient":
            patient_values[attr] = value
        elif area == "coverage":
            coverage_values[attr] = value
        elif area == "document":
            documents[attr] = value
    if patient_values:
        try:
            update = PatientUpdate.model_validate(patient_values)
        except ValidationError as exc:
            bad = ", ".join(str(e["loc"][0]) for e in exc.errors())
            notes.append(f"demographics not applied: invalid {bad}")
        else:
            update_patient_in(
                session,
                ctx,
                sub.patient_id,
                update,
                action="patient.update_from_intake",
                detail={"submission_id": str(sub.id)},
            )
    if coverage_values:
        if payer_id is not None:
            coverage_values["payer_id"] = payer_id  # the reviewer's choice of payer
        # The card's images are the patient's own documents uploaded with this submission.
        cards = [uuid.UUID(doc_id) for kind, doc_id in documents.items() if kind.startswith("card")]
        applied = apply_coverage_card_in(session, ctx, sub.patient_id, coverage_values, card_document_ids=cards)
        notes.extend(applied.notes)
    audit.record(
        session,
        ctx,
        "intake.apply",
        "intake_submission",
        sub.id,
        patient_id=sub.patient_id,
        detail={"notes": notes},
    )
    return notes


def payer_answer(defn: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The coverage answers of a submission by target (payer_code, payer_name, member_id, ...)."""
    out: dict[str, Any] = {}
    for f in all_fields(defn):
        target = str(f.get("maps_to") or "")
        if target.startswith("coverage.") and answers.get(f["key"]) not in (None, "", []):
            out[target.split(".", 1)[1]] = answers[f["key"]]
    return out

"""Applying intake answers to the registry (after staff review, or at once when no review)."""

from __future__ import annotations

import uuid
from typing import Any, get_args

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.intake.definition import all_fields
from praxis.intake.models import IntakeSubmission
from praxis.patients.coverage import add_coverage_in, coverage_in, payer_by_code, update_coverage_in
from praxis.patients.models import Coverage, Document, Payer
from praxis.patients.schemas import CoverageIn, PatientUpdate, Relationship
from praxis.patients.service import update_patient_in
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
    if payer_id is not None and coverage_values:
        coverage_values["payer_id"] = payer_id
    coverage_id = _apply_coverage(session, ctx, sub.patient_id, coverage_values, notes) if coverage_values else None
    for kind, doc_id in documents.items():
        doc = session.scalars(
            select(Document).where(Document.id == uuid.UUID(doc_id), Document.patient_id == sub.patient_id)
        ).first()
        if doc is not None and coverage_id is not None and kind.startswith("card"):
            doc.coverage_id = coverage_id
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


def _apply_coverage(
    session: Session, ctx: Context, patient_id: uuid.UUID, values: dict[str, Any], notes: list[str]
) -> uuid.UUID | None:
    member = values.get("member_id")
    named = values.get("payer_code") or values.get("payer_name")
    if not (named or values.get("payer_id")) or not member:
        notes.append("insurance not applied: payer and member id are both needed")
        return None
    payer = find_payer(session, values)
    if payer is None or not payer.active:
        notes.append(f"insurance not applied: payer '{named}' is not in the payer directory")
        return None
    active = list(session.scalars(select(Coverage).where(Coverage.patient_id == patient_id, Coverage.active.is_(True))))
    same_payer = next((cov for cov in active if cov.payer_id == payer.id), None)
    free = [p for p in (1, 2, 3) if p not in {c.priority for c in active}]
    if same_payer is None and not free:
        notes.append("insurance not applied: the patient already has three active coverages")
        return None
    card = {"member_id": str(member)}
    card.update({k: str(values[k]) for k in ("group_number", "plan_name") if values.get(k)})
    try:
        if same_payer is not None:
            # Same payer: the card may show a new member id or group; update in place.
            data = coverage_in(same_payer, **card)
        else:
            relationship = values.get("relationship")
            data = CoverageIn(
                payer_id=payer.id,
                relationship=relationship if relationship in get_args(Relationship) else "18",
                priority=free[0],
                **card,
            )
    except ValidationError as exc:
        bad = ", ".join(str(e["loc"][0]) for e in exc.errors())
        notes.append(f"insurance not applied: invalid {bad}")
        return None
    if same_payer is not None:
        return update_coverage_in(session, ctx, same_payer, data, detail={"via": "intake"}).id
    return add_coverage_in(session, ctx, patient_id, data, source="intake").id


def find_payer(session: Session, values: dict[str, Any]) -> Payer | None:
    """The directory's payer for a coverage answer: the reviewer's choice (`payer_id`), else the
    code, else the name as the patient wrote it (case, spaces and punctuation ignored)."""
    if values.get("payer_id"):
        return session.scalars(select(Payer).where(Payer.id == values["payer_id"])).first()
    if values.get("payer_code"):
        return payer_by_code(session, str(values["payer_code"]))
    wanted = _name_key(str(values.get("payer_name") or ""))
    if not wanted:
        return None
    payers = list(session.scalars(select(Payer).where(Payer.active.is_(True))))
    return next((p for p in payers if _name_key(p.name) == wanted or _name_key(p.payer_code) == wanted), None)


def _name_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def payer_answer(defn: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The coverage answers of a submission by target (payer_code, payer_name, member_id, ...)."""
    out: dict[str, Any] = {}
    for f in all_fields(defn):
        target = str(f.get("maps_to") or "")
        if target.startswith("coverage.") and answers.get(f["key"]) not in (None, "", []):
            out[target.split(".", 1)[1]] = answers[f["key"]]
    return out

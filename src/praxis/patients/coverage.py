"""Payer directory and patients' insurance coverages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.patients import normalise as n
from praxis.patients.access import load_patient
from praxis.patients.models import Coverage, Document, Patient, Payer
from praxis.patients.permissions import PATIENTS_READ, PATIENTS_WRITE, PAYERS_MANAGE
from praxis.patients.schemas import CoverageIn, CoverageOut, PayerIn, PayerOut, Relationship
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Conflict, Forbidden, NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work, write_lock

PRIORITY_NAMES = {1: "primary", 2: "secondary", 3: "tertiary"}

# --- payers -------------------------------------------------------------------------------------


def create_payer(ctx: Context, data: PayerIn) -> PayerOut:
    """Add a payer to the organisation's directory (payer codes are unique per organisation)."""
    ctx.require(PAYERS_MANAGE)
    with unit_of_work(ctx) as session:
        code = data.payer_code.upper()
        if session.scalars(select(Payer.id).where(Payer.payer_code == code)).first():
            raise Conflict(f"A payer with id {code} already exists", field="payer_code")
        payer = Payer(org_id=ctx.org_id, **{**data.model_dump(), "payer_code": code})
        session.add(payer)
        session.flush()
        audit.record(session, ctx, "payer.create", "payer", payer.id)
        return PayerOut.model_validate(payer)


def set_payer_active(ctx: Context, payer_id: uuid.UUID, active: bool) -> PayerOut:
    """Deactivate (or reactivate) a payer; existing coverages keep pointing at it."""
    ctx.require(PAYERS_MANAGE)
    with unit_of_work(ctx) as session:
        payer = get_or_404(session, Payer, payer_id, "payer")
        payer.active = active
        audit.record(session, ctx, "payer.update", "payer", payer.id, detail={"active": active})
        return PayerOut.model_validate(payer)


def update_payer(ctx: Context, payer_id: uuid.UUID, data: PayerIn) -> PayerOut:
    """Change a payer's details (its code stays unique in the organisation); coverages keep
    pointing at it."""
    ctx.require(PAYERS_MANAGE)
    with unit_of_work(ctx) as session:
        payer = get_or_404(session, Payer, payer_id, "payer")
        code = data.payer_code.upper()
        clash = session.scalars(select(Payer.id).where(Payer.payer_code == code, Payer.id != payer.id)).first()
        if clash is not None:
            raise Conflict(f"A payer with id {code} already exists", field="payer_code")
        values = {**data.model_dump(), "payer_code": code}
        changed = sorted(k for k, v in values.items() if getattr(payer, k) != v)
        for key, value in values.items():
            setattr(payer, key, value)
        audit.record(session, ctx, "payer.update", "payer", payer.id, detail={"fields": changed})
        return PayerOut.model_validate(payer)


def get_payer(ctx: Context, payer_id: uuid.UUID) -> PayerOut:
    """One payer of the directory (inactive ones too)."""
    if not (ctx.has(PATIENTS_READ) or ctx.has(PAYERS_MANAGE)):
        raise Forbidden(f"Permission {PATIENTS_READ} required")
    with unit_of_work(ctx) as session:
        return PayerOut.model_validate(get_or_404(session, Payer, payer_id, "payer"))


def list_payers(ctx: Context, *, include_inactive: bool = False) -> list[PayerOut]:
    """The payer directory, by name. Anyone who reads patients may pick a payer."""
    if not (ctx.has(PATIENTS_READ) or ctx.has(PAYERS_MANAGE)):
        raise Forbidden(f"Permission {PATIENTS_READ} required")
    with unit_of_work(ctx) as session:
        return payers_in(session, include_inactive=include_inactive)


def payers_in(session: Session, *, include_inactive: bool = False) -> list[PayerOut]:
    """`list_payers` in the caller's unit of work."""
    stmt = select(Payer).order_by(Payer.name)
    if not include_inactive:
        stmt = stmt.where(Payer.active.is_(True))
    return [PayerOut.model_validate(p) for p in session.scalars(stmt)]


def payer_by_code(session: Session, code: str) -> Payer | None:
    return session.scalars(select(Payer).where(Payer.payer_code == code.strip().upper())).first()


# --- coverages ----------------------------------------------------------------------------------


def _check_coverage(
    session: Session, patient_id: uuid.UUID, data: CoverageIn, exclude_id: uuid.UUID | None = None
) -> Payer:
    payer = session.scalars(select(Payer).where(Payer.id == data.payer_id)).first()
    if payer is None:
        raise ValidationProblem("Unknown payer", field="payer_id")
    if not payer.active:
        raise ValidationProblem(f"Payer {payer.name} is inactive", field="payer_id")
    if data.effective_from and data.effective_to and data.effective_to < data.effective_from:
        raise ValidationProblem("effective_to is before effective_from", field="effective_to")
    clash = session.scalars(
        select(Coverage.id).where(
            Coverage.patient_id == patient_id,
            Coverage.active.is_(True),
            Coverage.priority == data.priority,
            Coverage.id != exclude_id if exclude_id else Coverage.id.is_not(None),
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"The patient already has an active {PRIORITY_NAMES[data.priority]} coverage; "
            "end it or choose another order",
            field="priority",
        )
    return payer


def add_coverage(ctx: Context, patient_id: uuid.UUID, data: CoverageIn, *, source: str | None = None) -> CoverageOut:
    """Add an insurance coverage (primary/secondary/tertiary unique among active coverages)."""
    with unit_of_work(ctx) as session:
        patient = load_patient(session, ctx, patient_id, PATIENTS_WRITE)
        cov = add_coverage_in(session, ctx, patient.id, data, source=source)
        return CoverageOut.model_validate(cov)


def add_coverage_in(
    session: Session, ctx: Context, patient_id: uuid.UUID, data: CoverageIn, *, source: str | None = None
) -> Coverage:
    """Add a coverage in the caller's unit of work (intake review uses this)."""
    _check_coverage(session, patient_id, data)
    cov = Coverage(
        org_id=ctx.org_id,
        patient_id=patient_id,
        member_id_norm=n.normalise_member_id(data.member_id),
        external_source=source,
        **data.model_dump(),
    )
    session.add(cov)
    session.flush()
    audit.record(
        session,
        ctx,
        "coverage.create",
        "coverage",
        cov.id,
        patient_id=patient_id,
        detail={"priority": cov.priority},
    )
    return cov


def _coverage_of(session: Session, coverage_id: uuid.UUID, patient_id: uuid.UUID | None) -> Coverage:
    """The coverage; 404 when it is missing or, with `patient_id`, another patient's."""
    cov = get_or_404(session, Coverage, coverage_id, "coverage")
    if patient_id is not None and cov.patient_id != patient_id:
        raise NotFound("No such coverage")
    return cov


def update_coverage(ctx: Context, coverage_id: uuid.UUID, data: CoverageIn, *,
                    patient_id: uuid.UUID | None = None) -> CoverageOut:
    """Replace a coverage's details (with `patient_id`: only a coverage of that patient)."""
    with unit_of_work(ctx) as session:
        cov = _coverage_of(session, coverage_id, patient_id)
        load_patient(session, ctx, cov.patient_id, PATIENTS_WRITE)
        return CoverageOut.model_validate(update_coverage_in(session, ctx, cov, data))


def update_coverage_in(
    session: Session, ctx: Context, cov: Coverage, data: CoverageIn, *, detail: dict[str, Any] | None = None
) -> Coverage:
    """Replace a coverage's details in the caller's unit of work (intake review uses this); the
    caller has loaded the coverage through its patient. The same rules as adding one apply."""
    if cov.active:
        _check_coverage(session, cov.patient_id, data, exclude_id=cov.id)
    for key, value in data.model_dump().items():
        setattr(cov, key, value)
    cov.member_id_norm = n.normalise_member_id(data.member_id)
    audit.record(session, ctx, "coverage.update", "coverage", cov.id, patient_id=cov.patient_id, detail=detail)
    return cov


def coverage_in(cov: Coverage, **changes: Any) -> CoverageIn:
    """A coverage's current details as input, with `changes` applied (validated)."""
    return CoverageIn.model_validate({**{f: getattr(cov, f) for f in CoverageIn.model_fields}, **changes})


def end_coverage(ctx: Context, coverage_id: uuid.UUID, *, patient_id: uuid.UUID | None = None) -> CoverageOut:
    """Deactivate a coverage (history stays; its order becomes free); with `patient_id`, only a
    coverage of that patient."""
    with unit_of_work(ctx) as session:
        cov = _coverage_of(session, coverage_id, patient_id)
        load_patient(session, ctx, cov.patient_id, PATIENTS_WRITE)
        cov.active = False
        audit.record(session, ctx, "coverage.end", "coverage", cov.id, patient_id=cov.patient_id)
        return CoverageOut.model_validate(cov)


def list_coverages(ctx: Context, patient_id: uuid.UUID) -> list[CoverageOut]:
    """A patient's coverages (ended ones too), active first, by order."""
    with unit_of_work(ctx) as session:
        write_lock(session)  # an audited read: SQLite write lock first (docs/decisions.md)
        return coverages_in(session, ctx, load_patient(session, ctx, patient_id))


def coverages_in(session: Session, ctx: Context, patient: Patient) -> list[CoverageOut]:
    """`list_coverages` for a patient the caller loaded (and may see), audited, in its unit of work."""
    stmt = select(Coverage).where(Coverage.patient_id == patient.id)
    rows = list(session.scalars(stmt.order_by(Coverage.active.desc(), Coverage.priority, Coverage.created_at)))
    audit.record(session, ctx, "coverage.list", "patient", patient.id, patient_id=patient.id)
    return [CoverageOut.model_validate(c) for c in rows]


def get_coverage(ctx: Context, coverage_id: uuid.UUID) -> CoverageOut:
    """One coverage (through its patient's visibility)."""
    with unit_of_work(ctx) as session:
        write_lock(session)
        cov = session.scalars(select(Coverage).where(Coverage.id == coverage_id)).first()
        if cov is None:
            raise NotFound("No such coverage")
        load_patient(session, ctx, cov.patient_id)
        audit.record(session, ctx, "coverage.read", "coverage", cov.id, patient_id=cov.patient_id)
        return CoverageOut.model_validate(cov)


# --- insurance cards (intake) --------------------------------------------------------------------

@dataclass
class CardApplied:
    """What applying a card did: the coverage written (None when nothing was), notes for staff."""

    coverage_id: uuid.UUID | None = None
    notes: list[str] = field(default_factory=list)


def find_payer_in(session: Session, values: Mapping[str, Any]) -> Payer | None:
    """The directory's payer for an insurance card: the reviewer's choice (`payer_id`), else the
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


def apply_coverage_card_in(
    session: Session,
    ctx: Context,
    patient_id: uuid.UUID,
    values: Mapping[str, Any],
    *,
    card_document_ids: Sequence[uuid.UUID] = (),
    source: str = "intake",
) -> CardApplied:
    """Apply an insurance card a patient typed in (payer code, member id, group, plan, relationship)
    in the caller's unit of work, and attach the card's images (`card_document_ids`, the patient's
    own documents) to the coverage.

    The coverage rules live here: the same payer's active coverage is updated in place (a new card
    shows a new member id or group); otherwise the card becomes a new coverage in the first free
    order (primary, secondary, tertiary); with three active coverages nothing is written. What
    cannot be applied is returned as a note for staff, never raised: the patient's other answers
    still apply."""
    out = CardApplied()
    named, member = values.get("payer_code") or values.get("payer_name"), values.get("member_id")
    if not (named or values.get("payer_id")) or not member:
        out.notes.append("insurance not applied: payer and member id are both needed")
        return out
    payer = find_payer_in(session, values)
    if payer is None or not payer.active:
        out.notes.append(f"insurance not applied: payer '{named}' is not in the payer directory")
        return out
    active = list(session.scalars(select(Coverage).where(Coverage.patient_id == patient_id,
                                                         Coverage.active.is_(True))))
    same_payer = next((cov for cov in active if cov.payer_id == payer.id), None)
    free = [p for p in PRIORITY_NAMES if p not in {c.priority for c in active}]
    if same_payer is None and not free:
        out.notes.append("insurance not applied: the patient already has three active coverages")
        return out
    card = {"member_id": str(member)}
    card.update({k: str(values[k]) for k in ("group_number", "plan_name") if values.get(k)})
    try:
        if same_payer is not None:
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
        out.notes.append(f"insurance not applied: invalid {bad}")
        return out
    if same_payer is not None:
        cov = update_coverage_in(session, ctx, same_payer, data, detail={"via": source})
    else:
        cov = add_coverage_in(session, ctx, patient_id, data, source=source)
    out.coverage_id = cov.id
    if card_document_ids:
        for doc in session.scalars(select(Document).where(Document.patient_id == patient_id,
                                                          Document.id.in_(list(card_document_ids)))):
            doc.coverage_id = cov.id
    return out

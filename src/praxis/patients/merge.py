"""Merging duplicate patients, and undoing a merge.

Patients does not know who points at a patient: the references other domains hold are declared
in `praxis.wiring.MERGE_REFERENCES` and registered (`register_reference("appointments",
"patient_id")`) when the app is wired, so scheduling, billing and care add theirs without
patients importing them. A merge moves every registered reference from
the merged record to the survivor and writes down exactly which rows moved (a MergeRecord), so
an unmerge moves precisely those rows back, even after new rows were added to the survivor.

Referencing tables must be tenant tables with an `(org_id, id)` key. The statements are
SQLAlchemy Core over the shared metadata (no raw SQL), always filtered by `org_id`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from praxis.patients.access import load_patient
from praxis.patients.models import MergeRecord, Patient, PatientAlias, PatientLocation
from praxis.patients.permissions import PATIENTS_MERGE
from praxis.patients.schemas import MergeOut
from praxis.platform import audit, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import Base, get_or_404
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work


@dataclass(frozen=True)
class Reference:
    table: str
    column: str


REFERENCES: list[Reference] = []


def register_reference(table: str, column: str) -> None:
    """Declare that `table.column` holds a patient id that must follow a merge."""
    ref = Reference(table, column)
    if ref not in REFERENCES:
        REFERENCES.append(ref)


# The patients domain's own references. patient_locations is handled separately (its links
# may collide with the survivor's), and patient_aliases moves like any other row.
register_reference("coverages", "patient_id")
register_reference("patient_documents", "patient_id")
register_reference("patient_aliases", "patient_id")
register_reference("patient_alerts", "patient_id")


def _table(name: str) -> Table:
    try:
        return Base.metadata.tables[name]
    except KeyError:
        raise RuntimeError(f"patient reference to unknown table {name!r} (is its models module imported?)") from None


def _move(
    session: Session,
    org_id: uuid.UUID,
    ref: Reference,
    src: uuid.UUID,
    dst: uuid.UUID,
    ids: list[Any] | None = None,
) -> list[str]:
    t = _table(ref.table)
    col = t.c[ref.column]
    if ids is None:
        ids = list(session.execute(select(t.c.id).where(t.c.org_id == org_id, col == src)).scalars())
    else:
        ids = [uuid.UUID(str(i)) for i in ids]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(update(t).where(t.c.org_id == org_id, col == src, t.c.id.in_(chunk)).values({col: dst}))
    return [str(i) for i in ids]


def merge_patients(ctx: Context, survivor_id: uuid.UUID, merged_id: uuid.UUID, reason: str) -> MergeOut:
    """Merge `merged_id` into `survivor_id`: move every reference, keep the merged MRN as an alias.

    The merged record stays (status "merged", pointing at the survivor) so old MRNs, links and
    audit history still resolve. Emits `patient.merged` for domains holding copies or caches.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationProblem("Give a reason for the merge", field="reason")
    if survivor_id == merged_id:
        raise ValidationProblem("A patient cannot be merged into itself", field="merged_id")
    with unit_of_work(ctx) as session:
        survivor = load_patient(session, ctx, survivor_id, PATIENTS_MERGE)
        merged = load_patient(session, ctx, merged_id, PATIENTS_MERGE)
        for p, name in ((survivor, "survivor_id"), (merged, "merged_id")):
            if p.status == "merged":
                raise Conflict(f"Patient {p.mrn} is already merged into another record", field=name)
        moved: dict[str, Any] = {}
        for ref in REFERENCES:
            ids = _move(session, ctx.org_id, ref, merged.id, survivor.id)
            if ids:
                moved[f"{ref.table}.{ref.column}"] = ids
        moved.update(_merge_locations(session, merged.id, survivor.id))
        alias = PatientAlias(
            org_id=ctx.org_id,
            patient_id=survivor.id,
            kind="merged_mrn",
            value=merged.mrn,
            source=str(merged.id),
        )
        session.add(alias)
        merged.status = "merged"
        merged.merged_into_id = survivor.id
        session.flush()
        moved["_alias_id"] = str(alias.id)
        record = MergeRecord(
            org_id=ctx.org_id,
            survivor_id=survivor.id,
            merged_id=merged.id,
            moved=moved,
            merged_by=ctx.actor_id,
            reason=reason,
        )
        session.add(record)
        session.flush()
        counts = {k: len(v) for k, v in moved.items() if isinstance(v, list)}
        for pid, role in ((survivor.id, "survivor"), (merged.id, "merged")):
            audit.record(
                session,
                ctx,
                "patient.merge",
                "patient",
                pid,
                patient_id=pid,
                detail={
                    "role": role,
                    "merge_id": str(record.id),
                    "survivor_id": str(survivor.id),
                    "merged_id": str(merged.id),
                    "moved": counts,
                    "reason": reason,
                },
            )
        outbox.emit(
            session,
            "patient.merged",
            {"merge_id": str(record.id), "survivor_id": str(survivor.id), "merged_id": str(merged.id),
             "origin": ctx.origin},
        )
        return MergeOut.model_validate(record)


def _merge_locations(session: Session, merged_id: uuid.UUID, survivor_id: uuid.UUID) -> dict[str, Any]:
    """Move location links; a link the survivor already has is deleted (and remembered)."""
    have = set(session.scalars(select(PatientLocation.location_id).where(PatientLocation.patient_id == survivor_id)))
    moved: list[str] = []
    deleted: list[dict[str, str]] = []
    for link in session.scalars(select(PatientLocation).where(PatientLocation.patient_id == merged_id)).all():
        if link.location_id in have:
            deleted.append({"id": str(link.id), "location_id": str(link.location_id)})
            session.delete(link)
        else:
            link.patient_id = survivor_id
            moved.append(str(link.id))
    session.flush()
    out: dict[str, Any] = {}
    if moved:
        out["patient_locations.patient_id"] = moved
    if deleted:
        out["_deleted_patient_locations"] = deleted
    return out


def unmerge(ctx: Context, merge_id: uuid.UUID, reason: str, *, patient_id: uuid.UUID | None = None) -> MergeOut:
    """Undo a merge: move exactly the rows the merge moved back to the merged record.

    With `patient_id` (a merge undone from a patient's page) the merge must be one of that
    patient's, as survivor or merged record; any other answers 404 like a missing one.
    """
    with unit_of_work(ctx) as session:
        record = get_or_404(session, MergeRecord, merge_id, "merge")
        if patient_id is not None and patient_id not in (record.survivor_id, record.merged_id):
            raise NotFound("No such merge", field="merge_id")
        survivor = load_patient(session, ctx, record.survivor_id, PATIENTS_MERGE)
        merged = load_patient(session, ctx, record.merged_id, PATIENTS_MERGE)
        if record.status != "merged":
            raise Conflict("This merge was already undone")
        later = session.scalars(
            select(MergeRecord.id).where(MergeRecord.merged_id == survivor.id, MergeRecord.status == "merged")
        ).first()
        if later is not None:
            raise Conflict("The survivor was itself merged later; undo that merge first")
        moved = dict(record.moved)
        alias_id = moved.pop("_alias_id", None)
        if alias_id:
            session.execute(delete(PatientAlias).where(PatientAlias.id == uuid.UUID(alias_id)))
        deleted = moved.pop("_deleted_patient_locations", [])
        for key, ids in moved.items():
            table, _, column = key.partition(".")
            _move(session, ctx.org_id, Reference(table, column), survivor.id, merged.id, ids)
        if deleted:
            session.execute(
                insert(PatientLocation),
                [
                    {
                        "org_id": ctx.org_id,
                        "id": uuid.UUID(d["id"]),
                        "patient_id": merged.id,
                        "location_id": uuid.UUID(d["location_id"]),
                        "created_at": now(),
                    }
                    for d in deleted
                ],
            )
        merged.status = "active"
        merged.merged_into_id = None
        record.status = "unmerged"
        record.unmerged_at = now()
        record.unmerged_by = ctx.actor_id
        session.flush()
        for pid, role in ((survivor.id, "survivor"), (merged.id, "merged")):
            audit.record(
                session,
                ctx,
                "patient.unmerge",
                "patient",
                pid,
                patient_id=pid,
                detail={"role": role, "merge_id": str(record.id), "reason": reason},
            )
        outbox.emit(
            session,
            "patient.unmerged",
            {"merge_id": str(record.id), "survivor_id": str(survivor.id), "merged_id": str(merged.id)},
        )
        return MergeOut.model_validate(record)


def list_merges(ctx: Context, patient_id: uuid.UUID) -> list[MergeOut]:
    """Merges in which the patient was survivor or merged record, newest first."""
    with unit_of_work(ctx) as session:
        return merges_in(session, ctx, load_patient(session, ctx, patient_id))


def merges_in(session: Session, ctx: Context, patient: Patient) -> list[MergeOut]:
    """`list_merges` for a patient the caller loaded (and may see), audited, in its unit of work."""
    rows = session.scalars(
        select(MergeRecord)
        .where((MergeRecord.survivor_id == patient.id) | (MergeRecord.merged_id == patient.id))
        .order_by(MergeRecord.merged_at.desc())
    )
    audit.record(session, ctx, "patient.merges.read", "patient", patient.id, patient_id=patient.id)
    return [MergeOut.model_validate(r) for r in rows]


__all__ = ["REFERENCES", "Patient", "list_merges", "merge_patients", "merges_in", "register_reference", "unmerge"]

"""The patient page's data in one read: the patient, coverages, payers, documents and merge history.

One unit of work loads the patient once (`access.load_patient`: visibility under `patients:read`)
and reads the rest beside it; the records on the other side of the merges come in one query
under the same visibility rule, however many merges there are. The audit trail is the one the
separate reads (`get_patient`, `list_coverages`, `list_documents`, `list_merges` and a
`get_patient` per merge) leave: one record per disclosure, in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from praxis.patients.access import load_patient, visibility_clause, visible_locations
from praxis.patients.alerts import AlertOut, alerts_in
from praxis.patients.coverage import coverages_in, payers_in
from praxis.patients.documents import documents_in
from praxis.patients.merge import merges_in
from praxis.patients.models import Patient
from praxis.patients.permissions import DOCUMENTS_READ, PATIENTS_MERGE, PATIENTS_READ
from praxis.patients.schemas import CoverageOut, DocumentOut, MergeOut, PatientOut, PatientSummary, PayerOut
from praxis.patients.service import to_out
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.uow import unit_of_work, write_lock


@dataclass(frozen=True)
class MergeEntry:
    merge: MergeOut
    survivor: bool  # this patient is the merge's survivor (else it is the merged record)
    other_id: uuid.UUID
    other: PatientSummary | None  # None when the caller may not see the other record


@dataclass(frozen=True)
class PatientOverview:
    patient: PatientOut
    coverages: list[CoverageOut]  # ended ones too, active first, by order
    payers: list[PayerOut]  # the whole directory (inactive too), by name
    documents: list[DocumentOut]  # newest first; empty without documents:read
    merges: list[MergeEntry]  # newest first; empty without patients:merge
    alerts: list[AlertOut]  # open first, newest first (part of reading the patient)


def patient_overview(ctx: Context, patient_id: uuid.UUID) -> PatientOverview:
    """Everything the patient page shows (404 when the patient is missing or out of scope)."""
    with unit_of_work(ctx) as session:
        write_lock(session)  # an audited read: SQLite write lock first (docs/decisions.md)
        patient = load_patient(session, ctx, patient_id)
        audit.record(session, ctx, "patient.read", "patient", patient.id, patient_id=patient.id)
        out = to_out(session, patient)

        coverages = coverages_in(session, ctx, patient)
        payers = payers_in(session, include_inactive=True)  # names of ended payers' coverages too

        docs: list[DocumentOut] = []
        if ctx.has(DOCUMENTS_READ):
            if ctx.scope(DOCUMENTS_READ) != ctx.scope(PATIENTS_READ):
                load_patient(session, ctx, patient.id, DOCUMENTS_READ)  # as list_documents: 404 out of scope
            docs = documents_in(session, ctx, patient)

        merges: list[MergeEntry] = []
        if ctx.has(PATIENTS_MERGE):
            records = merges_in(session, ctx, patient)
            other_ids = list(
                dict.fromkeys(m.merged_id if m.survivor_id == patient.id else m.survivor_id for m in records)
            )
            others: dict[uuid.UUID, PatientSummary] = {}
            if other_ids:
                stmt = select(Patient).where(Patient.id.in_(other_ids))
                locations = visible_locations(session, ctx)
                if locations is not None:
                    stmt = stmt.where(visibility_clause(locations))
                others = {p.id: PatientSummary.model_validate(p) for p in session.scalars(stmt)}
                # Each other record the page names is a read of that patient.
                audit.record_many(
                    session, ctx, "patient.read", "patient", [(i, i) for i in other_ids if i in others]
                )
            for m in records:
                survivor = m.survivor_id == patient.id
                other_id = m.merged_id if survivor else m.survivor_id
                merges.append(MergeEntry(m, survivor, other_id, others.get(other_id)))

        return PatientOverview(out, coverages, payers, docs, merges, alerts_in(session, patient))


__all__ = ["MergeEntry", "PatientOverview", "patient_overview"]

"""Patients as other screens name them: the adapter behind `web.lookups` (the audit log finds a
patient by name or MRN and shows names instead of ids). Names are PHI: only an actor who reads
patients gets them, only for patients they may see, and each disclosure is audited."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from praxis.patients import service
from praxis.patients.access import visibility_clause, visible_locations
from praxis.patients.models import Patient
from praxis.patients.permissions import PATIENTS_READ
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.uow import unit_of_work, write_lock
from praxis.web.lookups import PatientMatch


def _label(last: str, first: str, dob: object, mrn: str) -> str:
    when = dob.strftime("%m/%d/%Y") if hasattr(dob, "strftime") else str(dob)
    return f"{last}, {first} · DOB {when} · MRN {mrn}"


def find(ctx: Context, q: str) -> list[PatientMatch]:
    """By exact MRN first, else the registry's search (name, "last, first", DOB, phone)."""
    q = q.strip()[:100]
    if not q or not ctx.has(PATIENTS_READ):
        return []
    try:
        p = service.get_patient_by_mrn(ctx, q)
        return [PatientMatch(p.id, _label(p.last_name, p.first_name, p.dob, p.mrn))]
    except ProblemError:
        pass
    try:
        found = service.find_patients(ctx, q=q, limit=10)
    except ProblemError:
        return []
    return [PatientMatch(p.id, _label(p.last_name, p.first_name, p.dob, p.mrn)) for p in found]


def names(ctx: Context, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Labels of the patients among `ids` the actor may see (one audit record per patient named)."""
    if not ids or not ctx.has(PATIENTS_READ):
        return {}
    wanted = list(dict.fromkeys(ids))[:500]
    with unit_of_work(ctx) as session:
        write_lock(session)
        stmt = select(Patient.id, Patient.last_name, Patient.first_name, Patient.dob, Patient.mrn).where(
            Patient.id.in_(wanted))
        locations = visible_locations(session, ctx)
        if locations is not None:
            stmt = stmt.where(visibility_clause(locations))
        rows = session.execute(stmt).all()
        audit.record_many(session, ctx, "patient.name", "patient", [(r.id, r.id) for r in rows])
        return {r.id: _label(r.last_name, r.first_name, r.dob, r.mrn) for r in rows}

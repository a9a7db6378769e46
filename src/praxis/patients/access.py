"""Who may see which patient: the one place the location-scope rule for patients lives.

A patient belongs to the organisation, not to one location. By default anyone holding
`patients:read` finds any patient of the organisation (patients move between sister clinics).
When the organisation sets `restrict_patient_search_to_locations`, a location-scoped actor sees
only patients linked to one of their locations; everything else answers 404, never 403.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, select
from sqlalchemy.orm import Session

from praxis.patients.models import Patient, PatientLocation
from praxis.patients.permissions import PATIENTS_READ
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Forbidden, NotFound
from praxis.platform.hotsql import HotStatement
from praxis.platform.ids import new_id
from praxis.practice.schemas import OrgSettings
from praxis.practice.service import org_settings


def visible_locations(session: Session, ctx: Context, permission: str = PATIENTS_READ) -> frozenset[uuid.UUID] | None:
    """None when the actor sees every patient; otherwise the locations that bound what they see."""
    if ctx.scope(permission) is None:
        return None
    return visible_under(ctx, org_settings(session, ctx.org_id), permission)


def visible_under(ctx: Context, settings: OrgSettings, permission: str = PATIENTS_READ
                  ) -> frozenset[uuid.UUID] | None:
    """`visible_locations` for a caller that already holds the organisation's settings."""
    scope = ctx.scope(permission)
    if scope is None or not settings.restrict_patient_search_to_locations:
        return None
    return scope


def visibility_clause(locations: frozenset[uuid.UUID] | Any) -> ColumnElement[bool]:
    """SQL condition: the patient is linked to one of `locations` (a set, or an expanding bind
    parameter for a statement built once)."""
    return exists(
        select(PatientLocation.id).where(
            PatientLocation.org_id == Patient.org_id,
            PatientLocation.patient_id == Patient.id,
            PatientLocation.location_id.in_(locations),
        )
    )


def load_patient(
    session: Session, ctx: Context, patient_id: uuid.UUID | None, permission: str = PATIENTS_READ
) -> Patient:
    """Load a patient the actor may see under `permission` (404 when missing or out of scope)."""
    if not ctx.has(permission):
        raise Forbidden(f"Permission {permission} required")
    patient = get_or_404(session, Patient, patient_id, "patient")
    locations = visible_locations(session, ctx, permission)
    if locations is not None:
        linked = session.scalars(
            select(PatientLocation.location_id).where(PatientLocation.patient_id == patient.id)
        ).all()
        if not any(loc in locations for loc in linked):
            raise NotFound("No such patient")
    return patient


def patient_location_ids(session: Session, patient_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(PatientLocation.location_id)
            .where(PatientLocation.patient_id == patient_id)
            .order_by(PatientLocation.created_at)
        )
    )


def insert_location_link(conn: Connection, org_id: uuid.UUID, patient_id: uuid.UUID, location_id: uuid.UUID
                         ) -> None:
    """`link_location` with Core in one statement (an existing link is kept), for hot paths that
    already know the patient is not linked there, such as booking."""
    _link_statement(conn.dialect.name).run(conn, {"org_id": org_id, "id": new_id(), "patient_id": patient_id,
                                                 "location_id": location_id, "created_at": now()})


@cache
def _link_statement(dialect: str) -> HotStatement:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return HotStatement(insert(PatientLocation.__table__).on_conflict_do_nothing())


def link_location(session: Session, patient_id: uuid.UUID, location_id: uuid.UUID | None, *,
                  new_patient: bool = False) -> bool:
    """Link the patient to a location in the caller's transaction; True when a link was added.

    Other domains call this when they create something location-bound for the patient (an
    appointment, an intake) so location-scoped search finds the patient there afterwards.
    `new_patient`: the patient was created in this transaction, so has no link to look for. The
    link is flushed at once when the session autoflushes, because Core reads on the same
    connection (booking's probe asks whether the patient is linked) do not trigger autoflush and
    would add it a second time; a unit of work that turned autoflush off (an HL7 batch) writes it
    with its next flush.
    """
    if location_id is None:
        return False
    if new_patient:
        session.add(PatientLocation(patient_id=patient_id, location_id=location_id))
        if session.autoflush:
            session.flush()
        return True
    found = session.scalars(
        select(PatientLocation.id).where(
            PatientLocation.patient_id == patient_id, PatientLocation.location_id == location_id
        )
    ).first()
    if found is not None:
        return False
    session.add(PatientLocation(patient_id=patient_id, location_id=location_id))  # the flush hook stamps org_id
    session.flush()
    return True

"""Appointment search across days and locations (the FHIR facade's Appointment search).

The day sheet (`service.list_day`) answers one location's days; integrations ask by patient or by
a date range over every location they may see. Scoped and audited like every read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select

from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.errors import Forbidden, ValidationProblem
from praxis.platform.uow import unit_of_work
from praxis.scheduling.models import Appointment
from praxis.scheduling.permissions import SCHEDULING_READ


def conditions(*, patient_id: uuid.UUID | None = None, location_ids: Sequence[uuid.UUID] | None = None,
               provider_id: uuid.UUID | None = None, since: datetime | None = None,
               until: datetime | None = None, statuses: Sequence[str] | None = None) -> list[ColumnElement[bool]]:
    """The SQL conditions of `find_appointments`' criteria, without the location scope (a bulk
    export's `_typeFilter` applies them to its own scoped reads)."""
    out: list[ColumnElement[bool]] = []
    if location_ids is not None:
        out.append(Appointment.location_id.in_(list(location_ids)))
    if patient_id is not None:
        out.append(Appointment.patient_id == patient_id)
    if provider_id is not None:
        out.append(Appointment.provider_id == provider_id)
    if since is not None:
        out.append(Appointment.start_at >= since)
    if until is not None:
        out.append(Appointment.start_at < until)
    if statuses:
        out.append(Appointment.status.in_(list(statuses)))
    return out


def find_appointments(ctx: Context, *, patient_id: uuid.UUID | None = None,
                      location_ids: Sequence[uuid.UUID] | None = None,
                      provider_id: uuid.UUID | None = None, since: datetime | None = None,
                      until: datetime | None = None, statuses: Sequence[str] | None = None,
                      limit: int = 50, offset: int = 0) -> list[Appointment]:
    """Appointments matching every criterion given, by start time, within the actor's locations.

    At least a patient or a start range must be given (never the whole calendar at once). One
    audit row per appointment returned."""
    if not ctx.has(SCHEDULING_READ):  # held at some location is enough: the query keeps to the scope
        raise Forbidden(f"Permission {SCHEDULING_READ} required")
    if patient_id is None and since is None and until is None:
        raise ValidationProblem("Give a patient or a date range", field="patient")
    limit = max(1, min(limit, 200))
    q = select(Appointment).where(*conditions(patient_id=patient_id, location_ids=location_ids,
                                              provider_id=provider_id, since=since, until=until,
                                              statuses=statuses))
    scope = ctx.scope(SCHEDULING_READ)
    if scope is not None:
        q = q.where(Appointment.location_id.in_(list(scope)))
    with unit_of_work(ctx) as session:
        rows = list(session.scalars(q.order_by(Appointment.start_at, Appointment.id).limit(limit)
                                    .offset(max(offset, 0))))
        audit.record_many(session, ctx, "appointment.search_result", "appointment",
                          [(a.id, a.patient_id) for a in rows])
        return rows

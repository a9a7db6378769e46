"""The staff screens' one door to scheduling's commands (book, reschedule, visit type,
cancel, status).

Every screen that changes an appointment (the booking page, the schedule grid, the day sheet,
check-in) calls these, so a change in where the booking internals live touches one file."""

from __future__ import annotations

import uuid
from datetime import datetime

from praxis.platform.context import Context
from praxis.scheduling import service
from praxis.scheduling.models import Appointment
from praxis.scheduling.service import StatusAction


def book(ctx: Context, *, patient_id: uuid.UUID, visit_type_id: uuid.UUID, provider_id: uuid.UUID,
         location_id: uuid.UUID, start_at: datetime, reason_for_visit: str = "") -> Appointment:
    """Book from a staff screen (source "staff")."""
    return service.book(ctx, patient_id=patient_id, visit_type_id=visit_type_id, provider_id=provider_id,
                        location_id=location_id, start_at=start_at, reason_for_visit=reason_for_visit[:200])


def reschedule(ctx: Context, appointment_id: uuid.UUID, *, start_at: datetime, provider_id: uuid.UUID,
               location_id: uuid.UUID) -> Appointment:
    return service.reschedule(ctx, appointment_id, start_at=start_at, provider_id=provider_id,
                              location_id=location_id)


def change_visit_type(ctx: Context, appointment_id: uuid.UUID, *, visit_type_id: uuid.UUID,
                      expected_version: int | None = None) -> Appointment:
    return service.change_visit_type(ctx, appointment_id, visit_type_id=visit_type_id,
                                     expected_version=expected_version)


def cancel(ctx: Context, appointment_id: uuid.UUID, *, reason: str) -> Appointment:
    return service.cancel(ctx, appointment_id, reason=reason)


def change_status(ctx: Context, appointment_id: uuid.UUID, action: StatusAction, *,
                  room_id: uuid.UUID | None = None) -> Appointment:
    return service.change_status(ctx, appointment_id, action, room_id=room_id)

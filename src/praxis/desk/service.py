"""The front desk's day sheet: every provider's visits at one location for one day, composed from
scheduling (appointments), patients (names) and intake (status), read through their services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from praxis.intake import service as intake_service
from praxis.platform.context import Context
from praxis.scheduling import service as scheduling


@dataclass(frozen=True)
class DeskRow:
    appointment_id: uuid.UUID
    local_start: datetime
    provider_id: uuid.UUID
    provider_name: str
    patient_id: uuid.UUID
    patient_name: str
    mrn: str
    dob: date | None
    visit_type: str
    visit_colour: str
    status: str
    telehealth: bool
    overbooked: bool
    room: str
    intake_status: str  # intake.service.STATUS_LABELS, or "—" when the visit has no intake
    balance_due_cents: int | None  # placeholder until billing exists
    eligibility: str  # placeholder until eligibility checks exist


@dataclass(frozen=True)
class DaySheet:
    location_id: uuid.UUID
    day: date
    rows: list[DeskRow]
    providers: list[tuple[uuid.UUID, str]]


def day_sheet(ctx: Context, location_id: uuid.UUID, day: date) -> DaySheet:
    view = scheduling.list_day_view(ctx, location_id, day, audit_action="appointment.day_sheet")
    intake = intake_service.status_by_appointment(ctx, [r.id for r in view.rows])
    out = []
    for r in view.rows:
        first, last, mrn, dob = view.patients.get(r.patient_id, ("?", "?", "", None))
        vt = view.visit_types.get(r.visit_type_id)
        out.append(DeskRow(
            r.id, r.local_start, r.provider_id, view.providers.get(r.provider_id, "—"), r.patient_id,
            f"{last}, {first}", mrn, dob, vt.name if vt else "—", vt.colour if vt else "#999999", r.status,
            r.telehealth, r.overbooked, ", ".join(view.rooms.get(x, "") for x in r.room_ids),
            intake.get(r.id, "—"), None, "not checked"))
    return DaySheet(location_id, day, out, sorted(view.providers.items(), key=lambda kv: kv[1]))


def set_status(ctx: Context, appointment_id: uuid.UUID, action: scheduling.StatusAction) -> str:
    return scheduling.change_status(ctx, appointment_id, action).status

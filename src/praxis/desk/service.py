"""The front desk's day sheet: every provider's visits at one location for one day, composed from
scheduling (appointments), patients (names) and intake (status), read through their services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from praxis.intake import service as intake_service
from praxis.platform.context import Context
from praxis.platform.uow import unit_of_work
from praxis.scheduling import patients_port
from praxis.scheduling import service as scheduling
from praxis.scheduling import setup as scheduling_setup


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
    rows = scheduling.list_day(ctx, location_id, day, audit_action="appointment.day_sheet")
    providers = {p.id: p.display_name for p, _ in scheduling_setup.list_providers(ctx, location_id=location_id)}
    visit_types = {v.id: v for v in scheduling_setup.list_visit_types(ctx, active_only=False)}
    rooms = {r.id: r.name for r in scheduling_setup.list_resources(ctx, location_id)}
    patient_ids = list(dict.fromkeys(r.patient_id for r in rows))
    with unit_of_work(ctx) as session:
        names = patients_port.names(session.connection(), ctx.org_id, patient_ids)
    intake = intake_service.status_by_appointment(ctx, [r.id for r in rows])
    out = []
    for r in rows:
        first, last, mrn, dob = names.get(r.patient_id, ("?", "?", "", None))
        vt: Any = visit_types.get(r.visit_type_id)
        out.append(DeskRow(
            r.id, r.local_start, r.provider_id, providers.get(r.provider_id, "—"), r.patient_id,
            f"{last}, {first}", mrn, dob, vt.name if vt else "—", vt.colour if vt else "#999999", r.status,
            r.telehealth, r.overbooked, ", ".join(rooms.get(x, "") for x in r.room_ids),
            intake.get(r.id, "—"), None, "not checked"))
    return DaySheet(location_id, day, out, sorted(providers.items(), key=lambda kv: kv[1]))


def set_status(ctx: Context, appointment_id: uuid.UUID, action: scheduling.StatusAction) -> str:
    return scheduling.change_status(ctx, appointment_id, action).status

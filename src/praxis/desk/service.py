"""The front desk's day sheet: every provider's visits at one location for one day, composed from
scheduling (appointments), patients (names) and intake (status), read through their services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from praxis.intake import links
from praxis.intake import service as intake_service
from praxis.intake.schemas import LinkOut
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.settings import get_settings
from praxis.platform.uow import unit_of_work
from praxis.scheduling import patients_port, reminders, ui_commands
from praxis.scheduling import service as scheduling
from praxis.scheduling import setup as scheduling_setup
from praxis.scheduling.grid import block_actions


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
    balance_due_cents: int | None  # placeholder until billing exists (the column is hidden until then)
    eligibility: str  # placeholder until eligibility checks exist (the column is hidden until then)
    arrived: datetime | None = None  # local arrival (check-in) time
    actions: tuple[str, ...] = ()  # what the desk may do now (scheduling.grid.block_actions)

    def wait_minutes(self, moment: datetime) -> int | None:
        """Minutes since arrival while the patient waits to be roomed or seen."""
        if self.arrived is None or self.status != "checked_in":
            return None
        return max(0, int((moment - self.arrived).total_seconds() // 60))


@dataclass(frozen=True)
class DaySheet:
    location_id: uuid.UUID
    day: date
    rows: list[DeskRow]
    providers: list[tuple[uuid.UUID, str]]
    rooms: dict[uuid.UUID, str] = field(default_factory=dict)
    now: datetime | None = None  # the moment the sheet was read (wait times count from it)


def day_sheet(ctx: Context, location_id: uuid.UUID, day: date) -> DaySheet:
    view = scheduling.list_day_view(ctx, location_id, day, audit_action="appointment.day_sheet")
    intake = intake_service.status_by_appointment(ctx, location_id, [r.id for r in view.rows])
    moment = now()
    out = []
    for r in view.rows:
        tz = r.local_start.tzinfo
        on_the_day = r.local_start.date() == moment.astimezone(tz).date()
        first, last, mrn, dob = view.patients.get(r.patient_id, ("?", "?", "", None))
        vt = view.visit_types.get(r.visit_type_id)
        out.append(DeskRow(
            r.id, r.local_start, r.provider_id, view.providers.get(r.provider_id, "—"), r.patient_id,
            f"{last}, {first}", mrn, dob, vt.name if vt else "—", vt.colour if vt else "#999999", r.status,
            r.telehealth, r.overbooked, ", ".join(view.rooms.get(x, "") for x in r.room_ids),
            intake.get(r.id, "—"), None, "not checked",
            r.checked_in_at.astimezone(tz) if r.checked_in_at else None,
            tuple(a for a in block_actions(r.status, r.start_at, moment, on_the_day) if a in DESK_ACTIONS)))
    return DaySheet(location_id, day, out, sorted(view.providers.items(), key=lambda kv: kv[1]), dict(view.rooms),
                    moment.astimezone(out[0].local_start.tzinfo) if out else moment)


# What the day sheet offers (the grid's menu adds reschedule and cancel).
DESK_ACTIONS = ("check_in", "room", "check_out", "undo_check_in", "no_show")


def set_status(ctx: Context, appointment_id: uuid.UUID, action: scheduling.StatusAction,
               room_id: uuid.UUID | None = None) -> str:
    return ui_commands.change_status(ctx, appointment_id, action, room_id=room_id).status


# Bookings that send the intake link by themselves.
INTAKE_SOURCES = ("online", "staff")


def send_intake_link_for_online_booking(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """`scheduling.appointment_booked` from online or staff booking -> open the visit's intake and
    send its link by the patient's preferred consented channel, then mark the appointment.
    (API and import bookings are left alone: their caller decides about intake.)

    The desk composes scheduling and intake (siblings). Idempotent: intake keeps one submission per
    appointment (a second run finds it and sends nothing); the message is sent inside intake's
    transaction, so a failed send leaves nothing behind and the outbox retries. Reading the
    patient's contact details is audited, as for reminders."""
    if org_id is None or payload.get("source") not in INTAKE_SOURCES:
        return
    ctx = system_context(org_id, f"{payload.get('source')} booking intake")
    appt = scheduling.get_appointment(ctx, uuid.UUID(str(payload["appointment_id"])))
    if appt.status not in ("booked", "confirmed"):
        return
    codes = {v.id: v.code for v in scheduling_setup.list_visit_types(ctx, active_only=False)}
    visit_type = codes.get(appt.visit_type_id, "").strip().lower()
    with unit_of_work(ctx) as session:
        who = patients_port.contact(session.connection(), org_id, appt.patient_id)
        audit.record(session, ctx, "appointment.intake_link_contact", "appointment", appt.id,
                     patient_id=appt.patient_id, location_id=appt.location_id)
    route = who.channel("preferred") if who else None

    def deliver(link: LinkOut) -> bool:
        if route is None or who is None:
            return False  # no consented channel: the desk sends the link or fills it at check-in
        url = get_settings().public_base_url.rstrip("/") + link.path
        expires = link.expires_at.strftime("%d %b %Y")
        reminders.get_sender().send(
            channel=route[0], to=route[1], subject="Your forms before your visit",
            body=f"Hello {who.first_name}, please fill in your forms before your visit: {url} "
                 f"(the link works until {expires}).")
        return True

    outcome = links.open_for_appointment(ctx, appt.id, appt.patient_id, appt.location_id, visit_type, deliver)
    if outcome == "opened" and route is not None:
        scheduling.mark_intake_link_sent(ctx, appt.id, channel=route[0])

"""The patient page's visit actions: the one place the desk calls scheduling's commands for a
patient (cancel, reschedule, no-show, waitlist), each checked against that patient first.

Every function takes the patient the page is about and answers 404 when the appointment, entry
or offer belongs to someone else (exactly as for a missing one), so a crafted form on one
patient's page cannot act on another patient's visit. Permissions, location scope, audit and
events are scheduling's own, in its services.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from praxis.platform.context import Context
from praxis.platform.errors import NotFound
from praxis.scheduling import patient_visits, setup, waitlist
from praxis.scheduling import service as scheduling
from praxis.scheduling.availability import SlotFilter, to_local
from praxis.scheduling.models import Appointment
from praxis.scheduling.permissions import SCHEDULING_BOOK


def schedule(ctx: Context, patient_id: uuid.UUID) -> patient_visits.PatientSchedule:
    """Upcoming and past visits and waitlist entries of the patient (404 when not visible)."""
    return patient_visits.patient_schedule(ctx, patient_id)


def _appointment_of(ctx: Context, patient_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
    appt = scheduling.get_appointment(ctx, appointment_id)
    if appt.patient_id != patient_id:
        raise NotFound("No such appointment")
    return appt


def cancel(ctx: Context, patient_id: uuid.UUID, appointment_id: uuid.UUID, reason: str) -> Appointment:
    """Cancel the patient's visit with a reason (required)."""
    _appointment_of(ctx, patient_id, appointment_id)
    return scheduling.cancel(ctx, appointment_id, reason=reason)


def no_show(ctx: Context, patient_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
    """Mark the patient's visit a no-show (only once its start time has passed)."""
    _appointment_of(ctx, patient_id, appointment_id)
    return scheduling.change_status(ctx, appointment_id, "no_show")


@dataclass(frozen=True)
class RescheduleOptions:
    appointment: Appointment
    current_local: datetime  # the visit's time now, in its location's zone
    visit_type: str
    slots: list[tuple[scheduling.SlotView, str, str]]  # slot, provider name, location name
    locations: list[tuple[uuid.UUID, str]]


def reschedule_options(ctx: Context, patient_id: uuid.UUID, appointment_id: uuid.UUID, *,
                       from_date: date | None = None, location_ids: list[uuid.UUID] | None = None,
                       limit: int = 20) -> RescheduleOptions:
    """The first open slots for the visit's type (at the chosen locations, or where the actor books)."""
    from praxis.practice.service import list_locations

    appt = _appointment_of(ctx, patient_id, appointment_id)
    locations = list_locations(ctx, permission=SCHEDULING_BOOK)
    wanted = location_ids or [loc.id for loc in locations]
    slots = scheduling.search_slots(ctx, appt.visit_type_id, from_date=from_date, days=30, location_ids=wanted,
                                    limit=limit, permission=SCHEDULING_BOOK, slot_filter=SlotFilter())
    providers = {p.id: p.display_name for p, _ in setup.list_providers(ctx)}
    names = {loc.id: loc.name for loc in locations}
    vt = next((v.name for v in setup.list_visit_types(ctx, active_only=False) if v.id == appt.visit_type_id), "")
    zone = next((loc.timezone for loc in locations if loc.id == appt.location_id), "UTC")
    choices = [(s, providers.get(s.provider_id, ""), names.get(s.location_id, "")) for s in slots
               if s.start_at != appt.start_at or s.provider_id != appt.provider_id]
    return RescheduleOptions(appt, to_local(appt.start_at, zone), vt, choices,
                             [(loc.id, loc.name) for loc in locations])


def reschedule(ctx: Context, patient_id: uuid.UUID, appointment_id: uuid.UUID, *, start_at: datetime,
               provider_id: uuid.UUID, location_id: uuid.UUID) -> Appointment:
    """Move the patient's visit to the chosen slot (same appointment id)."""
    _appointment_of(ctx, patient_id, appointment_id)
    return scheduling.reschedule(ctx, appointment_id, start_at=start_at, provider_id=provider_id,
                                 location_id=location_id)


def visit_types(ctx: Context) -> list[tuple[uuid.UUID, str]]:
    return [(v.id, v.name) for v in setup.list_visit_types(ctx)]


def providers(ctx: Context) -> list[tuple[uuid.UUID, str]]:
    return sorted(((p.id, p.display_name) for p, _ in setup.list_providers(ctx)), key=lambda x: x[1])


def add_to_waitlist(ctx: Context, patient_id: uuid.UUID, *, visit_type_id: uuid.UUID,
                    provider_id: uuid.UUID | None, location_id: uuid.UUID | None, priority: int,
                    time_of_day: waitlist.TimeOfDay, earliest_date: date | None, latest_date: date | None,
                    notes: str) -> uuid.UUID:
    """Put the patient on the waitlist for an earlier visit; returns the entry id."""
    entry = waitlist.add_entry(ctx, patient_id=patient_id, visit_type_id=visit_type_id, provider_id=provider_id,
                               location_id=location_id, priority=priority, time_of_day=time_of_day,
                               earliest_date=earliest_date, latest_date=latest_date, notes=notes)
    return entry.id


def _entry_ids(ctx: Context, patient_id: uuid.UUID) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The patient's waitlist entries visible to the actor -> their offers' ids."""
    return {e.id: {o.id for o in e.offers} for e in schedule(ctx, patient_id).waitlist}


def remove_from_waitlist(ctx: Context, patient_id: uuid.UUID, entry_id: uuid.UUID) -> None:
    if entry_id not in _entry_ids(ctx, patient_id):
        raise NotFound("No such waitlist entry")
    waitlist.remove_entry(ctx, entry_id)


def accept_offer(ctx: Context, patient_id: uuid.UUID, offer_id: uuid.UUID) -> uuid.UUID:
    """Book the offered slot for the patient; returns the new appointment's id."""
    if not any(offer_id in offers for offers in _entry_ids(ctx, patient_id).values()):
        raise NotFound("No such offer")
    return waitlist.accept_offer(ctx, offer_id)


def decline_offer(ctx: Context, patient_id: uuid.UUID, offer_id: uuid.UUID) -> None:
    if not any(offer_id in offers for offers in _entry_ids(ctx, patient_id).values()):
        raise NotFound("No such offer")
    waitlist.decline_offer(ctx, offer_id)

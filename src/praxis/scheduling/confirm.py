"""What a booking will be, in the words the desk reads back to the caller before confirming:
the visit type, provider, location, local time with the zone's abbreviation, and the reminders
that will go out (by which channel, to which address, how long before)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work
from praxis.practice.models import Location
from praxis.scheduling import patients_port, reference
from praxis.scheduling.availability import to_local
from praxis.scheduling.models import Provider
from praxis.scheduling.permissions import SCHEDULING_BOOK

CHANNEL_WORDS = {"sms": "text message", "email": "e-mail"}


@dataclass(frozen=True)
class BookingPreview:
    visit_type: str
    duration_minutes: int
    telehealth: bool
    provider: str
    location: str
    timezone: str
    local_start: datetime
    local_end: datetime
    reminders: str  # one sentence: what goes out, how, to whom, when
    reachable: bool  # the patient consented to a channel we can use (reminders and intake links)


def when(local: datetime) -> str:
    """`Mon 07 Dec 2026 · 09:00 CST`: the local time with the zone's abbreviation."""
    return local.strftime("%a %d %b %Y · %H:%M %Z")


def reminder_sentence(route: tuple[str, str] | None, hours: list[int]) -> str:
    if route is None:
        return ("No reminder will go out: the patient has not agreed to text messages or e-mail "
                "(or has opted out). Tell them the time on the phone.")
    if not hours:
        return "No reminder will go out: the organisation has no reminder rules."
    spans = " and ".join(f"{h} h" if h % 24 else (f"{h // 24} day" + ("s" if h // 24 > 1 else ""))
                         for h in sorted(hours, reverse=True))
    return f"A reminder by {CHANNEL_WORDS.get(route[0], route[0])} to {route[1]}, {spans} before the visit."


def preview_booking(ctx: Context, *, patient_id: uuid.UUID, visit_type_id: uuid.UUID, provider_id: uuid.UUID,
                    location_id: uuid.UUID, start_at: datetime | None) -> BookingPreview:
    """The confirmation step's facts for one candidate booking. Reads the patient's contact
    preferences (audited as `appointment.booking_preview`); books nothing. The identifiers are
    checked before the time (another organisation's object answers 404 whatever else is wrong)."""
    ctx.require(SCHEDULING_BOOK, location_id, what="location")
    with unit_of_work(ctx) as session:
        conn = session.connection()
        patients_port.require_patient(session, ctx, patient_id)
        ref = reference.current(conn, ctx.org_id)
        vt = ref.visit_types.get(visit_type_id)
        if vt is None or not vt.active:
            raise NotFound("No such visit type", field="visit_type_id")
        provider = get_or_404(session, Provider, provider_id, "provider")
        location = get_or_404(session, Location, location_id, "location")
        if not provider.active or location_id not in ref.zones or (provider_id, location_id) not in ref.pairs:
            raise NotFound("No such provider at this location", field="provider_id")
        if start_at is None or start_at.tzinfo is None:
            raise ValidationProblem("Pick one of the times shown", field="start_at")
        who = patients_port.contact(conn, ctx.org_id, patient_id)
        route = who.channel("preferred") if who else None
        audit.record(session, ctx, "appointment.booking_preview", "patient", patient_id, patient_id=patient_id,
                     location_id=location_id)
        local = to_local(start_at, location.timezone)
        return BookingPreview(
            visit_type=vt.name, duration_minutes=vt.duration_minutes, telehealth=vt.modality == "telehealth",
            provider=provider.display_name, location=location.name, timezone=location.timezone,
            local_start=local, local_end=local + timedelta(minutes=vt.duration_minutes),
            reminders=reminder_sentence(route, [h for _rule, h in ref.reminder_rules]),
            reachable=route is not None)

"""The waitlist: patients wanting an earlier visit; freed slots are offered to the best match.

Best match = the entry for the same visit type whose provider/location/date/time-of-day wishes
fit the freed slot, highest `priority` first, then the longest waiting. One open offer per freed
slot at a time; an offer expires after OFFER_TTL (or at the slot's start, if sooner) through an
outbox job, and the slot then goes to the next match.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from praxis.platform import audit, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work, write_lock
from praxis.scheduling import booking, patients_port, reference
from praxis.scheduling.availability import SlotFilter, to_local
from praxis.scheduling.booking import BookingRequest
from praxis.scheduling.calendars import LOC, location_zones
from praxis.scheduling.models import WaitlistEntry, WaitlistOffer
from praxis.scheduling.permissions import SCHEDULING_BOOK, WAITLIST_MANAGE

OFFER_TTL = timedelta(hours=2)
EXPIRE_TOPIC = "scheduling.offer_expire"
TimeOfDay = Literal["any", "morning", "afternoon", "evening"]


def _require(ctx: Context, location_id: uuid.UUID | None) -> None:
    """An entry for one location needs the grant there; an any-location entry needs it anywhere."""
    if location_id is not None:
        ctx.require(WAITLIST_MANAGE, location_id, what="location")
    elif not ctx.has(WAITLIST_MANAGE):
        ctx.require(WAITLIST_MANAGE)


def _require_refs(session: Session, ctx: Context, visit_type_id: uuid.UUID, provider_id: uuid.UUID | None,
                  location_id: uuid.UUID | None) -> None:
    """404 for a visit type, provider or location that is not this organisation's."""
    ref = reference.current(session.connection(), ctx.org_id)
    if visit_type_id not in ref.visit_types:
        raise NotFound("No such visit type", field="visit_type_id")
    if location_id is not None and location_id not in ref.zones:
        raise NotFound("No such location", field="location_id")
    # An any-location entry may name a provider of the caller's locations only (else it would
    # reserve slots at a location outside the caller's scope); same answer as a missing provider.
    scope = ctx.scope(WAITLIST_MANAGE)
    locations = {location_id} if location_id else scope
    if provider_id is not None and not any(p == provider_id and (locations is None or loc in locations)
                                           for p, loc in ref.pairs):
        raise NotFound("No such provider", field="provider_id")


def add_entry(ctx: Context, *, patient_id: uuid.UUID, visit_type_id: uuid.UUID,
              provider_id: uuid.UUID | None = None, location_id: uuid.UUID | None = None,
              priority: int = 0, time_of_day: TimeOfDay = "any", earliest_date: date | None = None,
              latest_date: date | None = None, notes: str = "") -> WaitlistEntry:
    _require(ctx, location_id)
    if not 0 <= priority <= 9:
        raise ValidationProblem("priority must be 0 (routine) to 9 (urgent)", field="priority")
    if earliest_date and latest_date and latest_date < earliest_date:
        raise ValidationProblem("latest_date is before earliest_date", field="latest_date")
    with unit_of_work(ctx) as session:
        patients_port.require_patient(session, ctx, patient_id)
        _require_refs(session, ctx, visit_type_id, provider_id, location_id)
        entry = WaitlistEntry(org_id=ctx.org_id, patient_id=patient_id, visit_type_id=visit_type_id,
                              provider_id=provider_id, location_id=location_id, priority=priority,
                              time_of_day=time_of_day, earliest_date=earliest_date, latest_date=latest_date,
                              notes=notes)
        session.add(entry)
        session.flush()
        audit.record(session, ctx, "waitlist.add", "waitlist_entry", entry.id, patient_id=patient_id,
                     location_id=location_id)
        return entry


def list_entries(ctx: Context, *, location_id: uuid.UUID | None = None,
                 status: Literal["waiting", "offered", "booked", "removed"] = "waiting",
                 sort: Literal["priority", "created"] = "priority") -> list[WaitlistEntry]:
    if not ctx.has(WAITLIST_MANAGE):
        ctx.require(WAITLIST_MANAGE)
    scope = ctx.scope(WAITLIST_MANAGE)
    with unit_of_work(ctx) as session:
        q = select(WaitlistEntry).where(WaitlistEntry.status == status)
        if location_id is not None:
            ctx.require(WAITLIST_MANAGE, location_id, what="location")
            q = q.where(or_(WaitlistEntry.location_id == location_id, WaitlistEntry.location_id.is_(None)))
        elif scope is not None:
            q = q.where(or_(WaitlistEntry.location_id.in_(list(scope)), WaitlistEntry.location_id.is_(None)))
        order = ((WaitlistEntry.priority.desc(), WaitlistEntry.created_at) if sort == "priority"
                 else (WaitlistEntry.created_at,))
        entries = list(session.scalars(q.order_by(*order).limit(500)))
        audit.record_many(session, ctx, "waitlist.view", "waitlist_entry", [(e.id, e.patient_id) for e in entries])
        return entries


def remove_entry(ctx: Context, entry_id: uuid.UUID) -> None:
    with unit_of_work(ctx) as session:
        entry = get_or_404(session, WaitlistEntry, entry_id, "waitlist entry")
        _require(ctx, entry.location_id)
        entry.status = "removed"
        audit.record(session, ctx, "waitlist.remove", "waitlist_entry", entry.id, patient_id=entry.patient_id)


def _matches(entry: WaitlistEntry, provider_id: uuid.UUID, location_id: uuid.UUID, local_start: datetime
             ) -> bool:
    if entry.provider_id is not None and entry.provider_id != provider_id:
        return False
    if entry.location_id is not None and entry.location_id != location_id:
        return False
    day = local_start.date()
    if entry.earliest_date and day < entry.earliest_date:
        return False
    if entry.latest_date and day > entry.latest_date:
        return False
    return SlotFilter(time_of_day=entry.time_of_day).accepts(local_start)  # type: ignore[arg-type]


def handle_slot_freed(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler for `scheduling.slot_freed`: offer the slot to the best waiting match."""
    if org_id is None:
        return
    offer_slot(org_id, payload)


def offer_slot(org_id: uuid.UUID, slot: dict[str, Any]) -> WaitlistOffer | None:
    ctx = system_context(org_id, "waitlist")
    start = datetime.fromisoformat(slot["start_at"])
    if start <= now():
        return None
    provider_id, location_id = uuid.UUID(slot["provider_id"]), uuid.UUID(slot["location_id"])
    with unit_of_work(ctx) as session:
        conn = session.connection()
        # Already an open offer for this slot (a retried job): nothing to do.
        open_offer = session.scalars(select(WaitlistOffer.id).where(
            WaitlistOffer.provider_id == provider_id, WaitlistOffer.start_at == start,
            WaitlistOffer.status == "open")).first()
        if open_offer is not None:
            return None
        tried = set(session.scalars(select(WaitlistOffer.entry_id).where(
            WaitlistOffer.provider_id == provider_id, WaitlistOffer.start_at == start)))
        tz = location_zones(conn, org_id, [location_id]).get(location_id, "UTC")
        local = to_local(start, tz)
        candidates = session.scalars(
            select(WaitlistEntry).where(WaitlistEntry.status == "waiting",
                                        WaitlistEntry.visit_type_id == uuid.UUID(slot["visit_type_id"]))
            .order_by(WaitlistEntry.priority.desc(), WaitlistEntry.created_at, WaitlistEntry.id))
        best = next((e for e in candidates if e.id not in tried and _matches(e, provider_id, location_id, local)),
                    None)
        if best is None:
            return None
        expires = min(now() + OFFER_TTL, start - timedelta(minutes=30))
        if expires <= now():
            return None
        offer = WaitlistOffer(org_id=org_id, entry_id=best.id, location_id=location_id, provider_id=provider_id,
                              start_at=start, end_at=datetime.fromisoformat(slot["end_at"]), expires_at=expires)
        session.add(offer)
        best.status = "offered"
        session.flush()
        outbox.emit(session, EXPIRE_TOPIC, {"offer_id": str(offer.id)}, org_id=org_id, at=expires)
        audit.record(session, ctx, "waitlist.offer", "waitlist_offer", offer.id, patient_id=best.patient_id,
                     location_id=location_id)
        who = patients_port.contact(conn, org_id, best.patient_id)
        route = who.channel() if who else None
        if route is not None:
            from praxis.scheduling.reminders import get_sender

            name = conn.scalar(select(LOC.c.name).where(LOC.c.org_id == org_id, LOC.c.id == location_id))
            get_sender().send(channel=route[0], to=route[1], subject="An earlier appointment is available",
                              body=f"An earlier visit is available at {name} on "
                                   f"{local:%a %d %b %H:%M}. Call us to take it before "
                                   f"{to_local(expires, tz):%H:%M}.")
        return offer


def handle_offer_expire(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler for `scheduling.offer_expire`: an unanswered offer lapses; next match."""
    if org_id is None:
        return
    ctx = system_context(org_id, "waitlist")
    with unit_of_work(ctx) as session:
        offer = session.scalars(select(WaitlistOffer).where(
            WaitlistOffer.id == uuid.UUID(payload["offer_id"]))).first()
        if offer is None or offer.status != "open":
            return
        offer.status = "expired"
        entry = session.scalars(select(WaitlistEntry).where(WaitlistEntry.id == offer.entry_id)).one()
        if entry.status == "offered":
            entry.status = "waiting"
        visit_type_id = entry.visit_type_id
        slot = {"provider_id": str(offer.provider_id), "location_id": str(offer.location_id),
                "visit_type_id": str(visit_type_id), "start_at": offer.start_at.isoformat(),
                "end_at": offer.end_at.isoformat()}
    offer_slot(org_id, slot)


def list_offers(ctx: Context, *, status: Literal["open", "accepted", "expired", "declined"] = "open"
                ) -> list[WaitlistOffer]:
    if not ctx.has(WAITLIST_MANAGE):
        ctx.require(WAITLIST_MANAGE)
    scope = ctx.scope(WAITLIST_MANAGE)
    with unit_of_work(ctx) as session:
        q = select(WaitlistOffer).where(WaitlistOffer.status == status)
        if scope is not None:
            q = q.where(WaitlistOffer.location_id.in_(list(scope)))
        return list(session.scalars(q.order_by(WaitlistOffer.start_at).limit(500)))


def accept_offer(ctx: Context, offer_id: uuid.UUID) -> uuid.UUID:
    """Book the offered slot for the entry's patient and close the offer, in one transaction;
    returns the appointment id."""
    def accept() -> uuid.UUID:
        with unit_of_work(ctx) as session:
            write_lock(session)
            offer = get_or_404(session, WaitlistOffer, offer_id, "offer")
            ctx.require(SCHEDULING_BOOK, offer.location_id, what="offer")
            if offer.status != "open" or offer.expires_at <= now():
                raise Conflict("This offer is no longer open", field="offer_id", type="offer-closed")
            entry = session.scalars(select(WaitlistEntry).where(WaitlistEntry.id == offer.entry_id)).one()
            appt = booking.book_in(session.connection(), ctx, BookingRequest(
                entry.patient_id, entry.visit_type_id, offer.provider_id, offer.location_id, offer.start_at))
            offer.status, offer.appointment_id, entry.status = "accepted", appt.id, "booked"
            audit.record(session, ctx, "waitlist.accept", "waitlist_offer", offer.id, patient_id=entry.patient_id,
                         location_id=offer.location_id)
            return appt.id

    return booking.retrying(accept)


def decline_offer(ctx: Context, offer_id: uuid.UUID) -> None:
    from praxis.scheduling import service

    with unit_of_work(ctx) as session:
        offer = get_or_404(session, WaitlistOffer, offer_id, "offer")
        ctx.require(WAITLIST_MANAGE, offer.location_id, what="offer")
        if offer.status != "open":
            raise Conflict("This offer is no longer open", field="offer_id", type="offer-closed")
        offer.status = "declined"
        entry = session.scalars(select(WaitlistEntry).where(WaitlistEntry.id == offer.entry_id)).one()
        entry.status = "waiting"
        audit.record(session, ctx, "waitlist.decline", "waitlist_offer", offer.id, patient_id=entry.patient_id)
        # The slot moves on to the next match.
        service.emit_slot_freed(session, provider_id=offer.provider_id, location_id=offer.location_id,
                                visit_type_id=entry.visit_type_id, start_at=offer.start_at, end_at=offer.end_at)

"""Online self-booking: a public page/API per location, self-bookable visit types only,
confirmed by a one-time code sent to the patient's phone or email, rate limited.

Flow: `start()` checks the slot is still open, stores the request (encrypted) with a hash of a
6-digit code and sends the code; `verify()` checks the code (5 tries, 15 minutes), finds the
patient (patients' returning-patient rule) or registers a new one, and books through the normal
booking path (same double-booking protection), all in one unit of work: a lost race leaves no
patient behind and the code usable for another time. The intake link is sent by intake's
handler of `scheduling.appointment_booked` (source "online"); scheduling cannot import intake.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from praxis.patients import service as patients
from praxis.patients.normalise import parse_email, parse_phone
from praxis.patients.schemas import PatientCreate, PatientUpdate
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.crypto import keyring
from praxis.platform.db import session_scope
from praxis.platform.errors import NotFound, TooManyRequests, ValidationProblem
from praxis.platform.uow import unit_of_work, write_lock
from praxis.practice.models import Location, Organisation
from praxis.scheduling import booking, service, setup
from praxis.scheduling.availability import to_local
from praxis.scheduling.booking import BookingRequest
from praxis.scheduling.models import Appointment, BookingVerification, Provider, VisitType
from praxis.scheduling.reminders import get_sender
from praxis.scheduling.schemas import OnlineBookingIn

CODE_TTL = timedelta(minutes=15)
MAX_ATTEMPTS = 5
PER_IP_PER_HOUR = 10
PER_CONTACT_PER_HOUR = 5


@dataclass(frozen=True)
class PublicLocation:
    org_id: uuid.UUID
    location_id: uuid.UUID
    name: str
    timezone: str
    org_name: str


def find_location(org_slug: str, location_code: str) -> PublicLocation:
    with session_scope(None, system=True, reason="online booking: the public address names the organisation") as s:
        row = s.execute(select(Organisation.id, Organisation.name, Location.id, Location.name, Location.timezone)
                        .join(Location, Location.org_id == Organisation.id)
                        .where(Organisation.slug == org_slug, Location.code == location_code,
                               Location.active.is_(True))).first()
    if row is None:
        raise NotFound("No such location")
    return PublicLocation(row[0], row[2], row[3], row[4], row[1])


def _ctx(loc: PublicLocation) -> Context:
    return system_context(loc.org_id, "online booking")


def visit_types(loc: PublicLocation) -> list[VisitType]:
    return setup.list_visit_types(_ctx(loc), self_bookable=True)


def providers(loc: PublicLocation) -> dict[uuid.UUID, str]:
    with unit_of_work(_ctx(loc)) as session:
        return {p.id: p.display_name for p in session.scalars(select(Provider).where(Provider.active.is_(True)))}


def slots(loc: PublicLocation, visit_type_id: uuid.UUID, from_date: date | None, days: int = 14,
          limit: int = 20, provider_id: uuid.UUID | None = None) -> list[service.SlotView]:
    return service.search_slots(_ctx(loc), visit_type_id, from_date=from_date, days=days,
                                provider_ids=[provider_id] if provider_id else None,
                                location_ids=[loc.location_id], limit=limit, self_bookable_only=True)


def _code_hash(verification_id: uuid.UUID, code: str) -> str:
    return hmac.new(keyring().index_key, f"otp:{verification_id}:{code}".encode(), hashlib.sha256).hexdigest()


def start(loc: PublicLocation, data: OnlineBookingIn, *, client_ip: str | None
          ) -> tuple[uuid.UUID, datetime, str]:
    """Check the request, store it and send a one-time code. Returns (id, expires_at, masked)."""
    ctx = _ctx(loc)
    if data.channel == "sms":
        address = parse_phone(data.phone) if data.phone else None
        if not address:
            raise ValidationProblem("A valid mobile number is needed to text the code", field="phone")
    else:
        address = parse_email(data.email) if data.email else None
        if not address:
            raise ValidationProblem("A valid email address is needed to send the code", field="email")
    contact_index = keyring().blind_index(address, "online-booking")
    ip = (client_ip or "")[:64]
    since = now() - timedelta(hours=1)
    with unit_of_work(ctx) as session:  # the session scopes the counts to the organisation
        recent = select(func.count()).select_from(BookingVerification).where(BookingVerification.created_at > since)
        by_ip = session.scalar(recent.where(BookingVerification.client_ip == ip))
        by_contact = session.scalar(recent.where(BookingVerification.contact_index == contact_index))
        if (by_ip or 0) >= PER_IP_PER_HOUR or (by_contact or 0) >= PER_CONTACT_PER_HOUR:
            raise TooManyRequests("Too many booking requests; try again in an hour or call the clinic")
    # That provider's open times that day (a day holds at most 96 quarter-hour starts).
    offered = {s.start_at for s in slots(loc, data.visit_type_id, to_local(data.start_at, loc.timezone).date(),
                                         days=1, limit=96, provider_id=data.provider_id)}
    if data.start_at not in offered:
        raise ValidationProblem("That time is no longer available; pick another", field="start_at")
    code = f"{secrets.randbelow(1_000_000):06d}"
    payload = data.model_dump(mode="json")
    payload["address"] = address
    with unit_of_work(ctx) as session:
        v = BookingVerification(org_id=loc.org_id, location_id=loc.location_id, contact_index=contact_index,
                                client_ip=ip, code_hash="", payload=json.dumps(payload),
                                expires_at=now() + CODE_TTL)
        session.add(v)
        session.flush()
        v.code_hash = _code_hash(v.id, code)
        vid, expires = v.id, v.expires_at
    get_sender().send(channel=data.channel, to=address, subject=f"{loc.org_name} booking code",
                      body=f"Your booking code is {code}. It expires in 15 minutes.")
    masked = address[:3] + "***" + address[-2:] if data.channel == "sms" else address[:1] + "***" + \
        address[address.find("@"):]
    return vid, expires, masked


@dataclass(frozen=True)
class _WrongCode:
    tries_left: int


@dataclass(frozen=True)
class _Booked:
    appointment: Appointment
    data: OnlineBookingIn


def verify(loc: PublicLocation, verification_id: uuid.UUID, code: str, *, start_at: datetime | None = None,
           provider_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Check the code and book. Returns what the confirmation page shows.

    One unit of work: the code check, the returning patient's match (or the new patient's
    registration), the booking and the request's link to the appointment commit together or not
    at all. A booking that loses a race answers 409 and changes nothing: no patient is left behind
    and the code stays usable, for another time (`start_at`, and `provider_id` when another provider,
    both as the slot search offers them) or the same one if it comes free. A wrong code counts
    against the request's tries and nothing else happens."""
    ctx = _ctx(loc)
    if start_at is not None or provider_id is not None:
        _check_other_time(loc, ctx, verification_id, start_at, provider_id)
    outcome = booking.retrying(lambda: _verify_once(ctx, loc, verification_id, code, start_at, provider_id))
    if isinstance(outcome, _WrongCode):
        raise ValidationProblem(f"That code is not right ({outcome.tries_left} tries left)", field="code")
    appt, data = outcome.appointment, outcome.data
    names = providers(loc)
    return {"appointment_id": appt.id, "start_at": appt.start_at, "local_start": to_local(appt.start_at,
                                                                                           loc.timezone),
            "location_name": loc.name, "provider_name": names.get(appt.provider_id, ""),
            "intake_link_sent": False, "contact_consent": data.contact_consent}


def _open_request(session: Session, loc: PublicLocation, verification_id: uuid.UUID, *, lock: bool
                  ) -> BookingVerification:
    """The request, unused (404 otherwise); `lock`: held until commit (PostgreSQL row lock), so a
    double submit waits for the first and then finds the request used."""
    q = select(BookingVerification).where(BookingVerification.id == verification_id,
                                          BookingVerification.location_id == loc.location_id)
    v = session.scalars(q.with_for_update() if lock else q).first()
    if v is None or v.used_at is not None:
        raise NotFound("No such booking request")
    return v


def _check_other_time(loc: PublicLocation, ctx: Context, verification_id: uuid.UUID, start_at: datetime | None,
                      provider_id: uuid.UUID | None) -> None:
    """Another time for a request is held to what `start` holds the first one to: a time the slot
    search offers for the request's visit type (the booking itself re-checks it under its lock)."""
    if start_at is None:
        raise ValidationProblem("Choose the new time", field="start_at")
    with unit_of_work(ctx) as session:
        wanted = _request_data(_open_request(session, loc, verification_id, lock=False))
    provider = provider_id or wanted.provider_id
    offered = {s.start_at for s in slots(loc, wanted.visit_type_id, to_local(start_at, loc.timezone).date(),
                                         days=1, limit=96, provider_id=provider)}
    if start_at not in offered:
        raise ValidationProblem("That time is no longer available; pick another", field="start_at")


def _request_data(v: BookingVerification) -> OnlineBookingIn:
    payload = json.loads(v.payload)
    return OnlineBookingIn.model_validate({k: val for k, val in payload.items() if k != "address"})


def _verify_once(ctx: Context, loc: PublicLocation, verification_id: uuid.UUID, code: str,
                 start_at: datetime | None, provider_id: uuid.UUID | None) -> _Booked | _WrongCode:
    with unit_of_work(ctx) as session:
        write_lock(session)  # SQLite: the write lock first, as every booking takes it
        v = _open_request(session, loc, verification_id, lock=True)
        if v.expires_at <= now() or v.attempts >= MAX_ATTEMPTS:
            raise ValidationProblem("The code has expired; start again", field="code")
        if not hmac.compare_digest(v.code_hash, _code_hash(v.id, code)):
            v.attempts += 1  # committed: the caller raises after this unit of work
            return _WrongCode(MAX_ATTEMPTS - v.attempts)
        data = _request_data(v)
        if start_at is not None:
            data = data.model_copy(update={"start_at": start_at, "provider_id": provider_id or data.provider_id})
        patient_id = _find_or_register(session, ctx, loc, data, json.loads(v.payload)["address"])
        appt = booking.book_in(session.connection(), ctx, BookingRequest(
            patient_id, data.visit_type_id, data.provider_id, loc.location_id, data.start_at,
            reason_for_visit=data.reason_for_visit, source="online"))
        v.used_at, v.appointment_id = now(), appt.id
        audit.record(session, ctx, "appointment.online_booked", "appointment", appt.id, patient_id=patient_id,
                     location_id=loc.location_id)
        return _Booked(appt, data)


def _find_or_register(session: Session, ctx: Context, loc: PublicLocation, data: OnlineBookingIn,
                      address: str) -> uuid.UUID:
    """The returning patient (patients' matching rule) or a newly registered one, in the caller's
    unit of work; the contact consent given with the request is recorded on the record either way."""
    found = patients.find_returning_patient_in(session, ctx, first_name=data.first_name,
                                               last_name=data.last_name, dob=data.dob, address=address)
    consent = {"consent_sms" if data.channel == "sms" else "consent_email": True} if data.contact_consent else {}
    if found is not None:
        if consent:  # recorded on the returning patient's record too (audited like any update)
            patients.update_patient_in(session, ctx, found, PatientUpdate(**consent))
        return found
    fields: dict[str, Any] = {"first_name": data.first_name, "last_name": data.last_name, "dob": data.dob,
                              "preferred_location_id": loc.location_id, "confirm_duplicate": True,
                              "preferred_channel": data.channel, **consent}
    if data.channel == "sms":
        fields["phone_mobile"] = address
    else:
        fields["email"] = address
    return patients.register_patient_in(session, ctx, PatientCreate(**fields), location_id=loc.location_id).id

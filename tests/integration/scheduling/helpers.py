"""Builders for scheduling tests: a provider working at both of an org's locations, visit types,
patients, and a way to run the outbox jobs a command queued."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from praxis.patients.models import Patient
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.db import session_scope
from praxis.platform.outbox import OutboxMessage
from praxis.scheduling import setup

ALL_WEEK_9_TO_5 = [{"weekday": w, "start_minute": 9 * 60, "end_minute": 17 * 60} for w in range(7)]


@dataclass
class World:
    org: Any
    ctx: Context
    provider_id: uuid.UUID
    provider2_id: uuid.UUID
    visit_id: uuid.UUID
    new_visit_id: uuid.UUID
    room_visit_id: uuid.UUID

    def local(self, day: date, hh: int, mm: int = 0, tz: str = "America/New_York") -> datetime:
        return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(tz))


def future_weekday(days_ahead: int = 7) -> date:
    return (now() + timedelta(days=days_ahead)).date()


def make_world(org: Any) -> World:
    ctx = system_context(org.id, "test")
    a, b = org.loc_a.id, org.loc_b.id
    p1 = setup.create_provider(ctx, first_name="Ada", last_name=f"Lovelace{secrets.token_hex(2)}",
                               credentials="MD", npi=None, location_ids=[a, b], specialties=["family"])
    p2 = setup.create_provider(ctx, first_name="Grace", last_name="Hopper", credentials="NP",
                               location_ids=[b])
    code = secrets.token_hex(3)
    v = setup.create_visit_type(ctx, code=f"FU{code}", name="Follow-up", duration_minutes=30)
    vn = setup.create_visit_type(ctx, code=f"NP{code}", name="New patient", duration_minutes=60,
                                 patient_kind="new", self_bookable=True, buffer_after_minutes=10)
    vr = setup.create_visit_type(ctx, code=f"PR{code}", name="Procedure", duration_minutes=30,
                                 required_resource_kinds=["room"])
    start = now().date() - timedelta(days=1)
    setup.create_template(ctx, provider_id=p1.id, location_id=a, effective_from=start, effective_to=None,
                          blocks=ALL_WEEK_9_TO_5)
    setup.create_template(ctx, provider_id=p1.id, location_id=b, effective_from=start, effective_to=None,
                          blocks=[{"weekday": w, "start_minute": 13 * 60, "end_minute": 15 * 60} for w in range(7)])
    setup.create_template(ctx, provider_id=p2.id, location_id=b, effective_from=start, effective_to=None,
                          blocks=ALL_WEEK_9_TO_5)
    return World(org, ctx, p1.id, p2.id, v.id, vn.id, vr.id)


def book(w: World, patient: uuid.UUID, start: datetime, **kw: Any) -> Any:
    """Book through the scheduling service with the world's visit type, provider and first location
    unless `kw` says otherwise."""
    from praxis.scheduling import service

    kw.setdefault("visit_type_id", w.visit_id)
    kw.setdefault("provider_id", w.provider_id)
    kw.setdefault("location_id", w.org.loc_a.id)
    return service.book(w.ctx, patient_id=patient, start_at=start, **kw)


def make_patient(org: Any, *, sms: bool = True, opted_out: bool = False, email: bool = False,
                 first: str | None = None, last: str | None = None) -> uuid.UUID:
    from praxis.patients.normalise import normalise_name

    first = first or "Pat"
    last = last or f"Ient{secrets.token_hex(3)}"
    with session_scope(org.id) as s:
        p = Patient(org_id=org.id, mrn=f"T{secrets.token_hex(5)}", first_name=first, last_name=last,
                    first_name_norm=normalise_name(first), last_name_norm=normalise_name(last),
                    dob=date(1980, 5, 17),
                    phone_mobile="+12125550123", email="pat@example.org", preferred_channel="sms",
                    consent_sms=sms, consent_email=email, sms_opted_out=opted_out, email_opted_out=opted_out)
        s.add(p)
        s.flush()
        return p.id


def run_jobs(org: Any, topic: str, handler: Callable[[uuid.UUID | None, dict[str, Any]], None], *,
             due_only: bool = False) -> int:
    """Run (and mark done) the org's pending outbox messages of one topic with `handler`."""
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        q = select(OutboxMessage).where(OutboxMessage.org_id == org.id, OutboxMessage.topic == topic,
                                        OutboxMessage.status == "pending").order_by(OutboxMessage.created_at)
        if due_only:
            q = q.where(OutboxMessage.available_at <= now())
        msgs = [(m.id, m.payload) for m in s.scalars(q)]
    for mid, payload in msgs:
        handler(org.id, payload)
        with session_scope(None, system=True, reason="test: reads across organisations") as s:
            m = s.get(OutboxMessage, mid)
            assert m is not None
            m.status = "done"
    return len(msgs)


def signed_in(login: Callable[[Any], Any], user: Any) -> Any:
    """conftest's `login` files the session cookie under domain "testserver", which the cookie jar
    never sends back (it keys the host as "testserver.local"); move it, as identity's tests do."""
    from praxis.web.middleware import SESSION_COOKIE

    c = login(user)
    for ck in list(c.cookies.jar):
        if ck.name == SESSION_COOKIE and ck.domain == "testserver":
            c.cookies.jar.clear(ck.domain, ck.path, ck.name)
            c.cookies.set(SESSION_COOKIE, ck.value or "", domain="testserver.local")
    return c

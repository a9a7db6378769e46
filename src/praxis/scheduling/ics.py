"""A provider's calendar as an iCalendar feed at a signed URL (no PHI beyond initials)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, select

from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.crypto import keyring
from praxis.platform.db import get_or_404
from praxis.platform.errors import NotFound
from praxis.platform.uow import unit_of_work
from praxis.scheduling import patients_port, service
from praxis.scheduling.calendars import LOC, VT, A
from praxis.scheduling.models import ACTIVE_STATUSES, Provider
from praxis.scheduling.permissions import SCHEDULING_READ
from praxis.scheduling.setup import provider_location_ids

FEED_DAYS = 60


def _message(org_id: uuid.UUID, provider_id: uuid.UUID) -> str:
    return f"ics:{org_id.hex}:{provider_id.hex}"


def feed_token(org_id: uuid.UUID, provider_id: uuid.UUID) -> str:
    return f"{org_id.hex}.{provider_id.hex}.{keyring().sign(_message(org_id, provider_id))}"


def feed_url(ctx: Context, provider_id: uuid.UUID) -> str:
    with unit_of_work(ctx) as session:
        provider = get_or_404(session, Provider, provider_id, "provider")
        ctx.require_any_location(SCHEDULING_READ, provider_location_ids(session, provider.id), what="provider")
    return f"/api/v1/public/calendars/{feed_token(ctx.org_id, provider_id)}.ics"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%SZ")


def provider_feed(token: str) -> str:
    try:
        org_hex, prov_hex, sig = token.split(".", 2)
        org_id, provider_id = uuid.UUID(org_hex), uuid.UUID(prov_hex)
    except ValueError:
        raise NotFound("No such calendar") from None
    if not keyring().verify_signature(_message(org_id, provider_id), sig):
        raise NotFound("No such calendar")
    ctx = system_context(org_id, "ics feed")
    start = now() - timedelta(days=1)
    with unit_of_work(ctx) as session:
        # The signature only proves the server minted the pair: the provider must also be this
        # organisation's (an empty feed for anyone else's would still answer "it exists").
        get_or_404(session, Provider, provider_id, "calendar")
        conn = session.connection()
        rows = conn.execute(
            select(A.c.id, A.c.start_at, A.c.end_at, A.c.patient_id, A.c.status, A.c.telehealth,
                   VT.c.name.label("visit"), LOC.c.name.label("location"))
            .join(VT, and_(VT.c.org_id == A.c.org_id, VT.c.id == A.c.visit_type_id))
            .join(LOC, and_(LOC.c.org_id == A.c.org_id, LOC.c.id == A.c.location_id))
            .where(A.c.org_id == org_id, A.c.provider_id == provider_id, A.c.status.in_(ACTIVE_STATUSES),
                   A.c.start_at >= start, A.c.start_at < start + timedelta(days=FEED_DAYS))
            .order_by(A.c.start_at)).all()
        names = patients_port.names(conn, org_id, [r.patient_id for r in rows])
        # Initials and times are still about patients: each fetch leaves one record per patient shown.
        service.audit_many(session, ctx, "appointment.ics_feed", [(r.id, r.patient_id) for r in rows], None)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Praxis//Scheduling//EN", "CALSCALE:GREGORIAN",
             "X-WR-CALNAME:Praxis schedule"]
    stamp = _stamp(now())
    for r in rows:
        first, last = names.get(r.patient_id, ("?", "?", "", None))[:2]
        summary = f"{patients_port.initials(first, last)} · {r.visit}"
        lines += ["BEGIN:VEVENT", f"UID:{r.id}@praxis", f"DTSTAMP:{stamp}", f"DTSTART:{_stamp(r.start_at)}",
                  f"DTEND:{_stamp(r.end_at)}", f"SUMMARY:{_esc(summary)}",
                  f"LOCATION:{_esc('Telehealth' if r.telehealth else r.location)}", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"

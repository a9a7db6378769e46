"""One patient's visits and waitlist, for the patient page: upcoming and past appointments with
what each one may still do, and the patient's waitlist entries with their offers.

Reads only; the commands (cancel, reschedule, no-show, waitlist) stay in `service` and
`waitlist`. Visits at locations outside the actor's `scheduling:read` scope are left out (the
patient may be shared by sister clinics; their visits there are not this actor's business).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.uow import unit_of_work, write_lock
from praxis.scheduling import patients_port, reference
from praxis.scheduling.availability import to_local
from praxis.scheduling.models import Appointment, Provider, WaitlistEntry, WaitlistOffer
from praxis.scheduling.permissions import SCHEDULING_BOOK, SCHEDULING_CHECKIN, SCHEDULING_READ, WAITLIST_MANAGE
from praxis.scheduling.status import allowed_actions

UPCOMING = ("booked", "confirmed", "checked_in", "roomed")


@dataclass(frozen=True)
class PatientVisit:
    id: uuid.UUID
    start_at: datetime
    local_start: datetime
    zone: str
    location_id: uuid.UUID
    location_name: str
    provider_id: uuid.UUID
    provider_name: str
    visit_type_id: uuid.UUID
    visit_type: str
    status: str
    cancel_reason: str | None
    upcoming: bool
    actions: tuple[str, ...]  # of "cancel", "reschedule", "no_show" this actor may take now


@dataclass(frozen=True)
class WaitlistItem:
    id: uuid.UUID
    visit_type: str
    provider_name: str  # "" = any provider
    location_name: str  # "" = any location
    priority: int
    time_of_day: str
    earliest_date: date | None
    latest_date: date | None
    status: str
    notes: str
    created_at: datetime
    offers: tuple[WaitlistOfferItem, ...]


@dataclass(frozen=True)
class WaitlistOfferItem:
    id: uuid.UUID
    local_start: datetime
    zone: str
    location_name: str
    provider_name: str
    status: str
    expires_at: datetime
    may_accept: bool


@dataclass(frozen=True)
class PatientSchedule:
    upcoming: list[PatientVisit]
    past: list[PatientVisit]  # newest first
    waitlist: list[WaitlistItem]  # empty without waitlist:manage


def _visit_actions(ctx: Context, appt: Appointment, moment: datetime) -> tuple[str, ...]:
    allowed = set(allowed_actions(appt.status))
    out = []
    if ctx.can(SCHEDULING_BOOK, appt.location_id):
        if "cancel" in allowed and appt.start_at > moment:
            out.append("cancel")
        if "reschedule" in allowed and appt.start_at > moment:
            out.append("reschedule")
    # A no-show is recorded once the visit should have started, never before.
    if "no_show" in allowed and appt.start_at <= moment and ctx.can(SCHEDULING_CHECKIN, appt.location_id):
        out.append("no_show")
    return tuple(out)


def patient_schedule(ctx: Context, patient_id: uuid.UUID, *, past_limit: int = 20) -> PatientSchedule:
    """The patient's upcoming visits (soonest first), past ones (newest first, at most
    `past_limit`) and waitlist entries with their offers, at the locations the actor reads.
    404 when the patient is not visible. One audit record for the patient's visit list."""
    if not ctx.has(SCHEDULING_READ):
        ctx.require(SCHEDULING_READ)
    moment = now()
    with unit_of_work(ctx) as session:
        # It ends with an audit write: on SQLite take the write lock first, so a page loading
        # several panels at once does not fail one of them on a read-then-write collision.
        write_lock(session)
        patients_port.require_patient(session, ctx, patient_id)
        conn = session.connection()
        ref = reference.current(conn, ctx.org_id)
        scope = ctx.scope(SCHEDULING_READ)
        q = select(Appointment).where(Appointment.patient_id == patient_id)
        if scope is not None:
            q = q.where(Appointment.location_id.in_(list(scope)))
        appts = list(session.scalars(q.order_by(Appointment.start_at.desc()).limit(500)))
        provider_ids = {a.provider_id for a in appts}
        entries: list[WaitlistEntry] = []
        offers: dict[uuid.UUID, list[WaitlistOffer]] = {}
        if ctx.has(WAITLIST_MANAGE):
            wscope = ctx.scope(WAITLIST_MANAGE)
            entries = [e for e in session.scalars(
                select(WaitlistEntry).where(WaitlistEntry.patient_id == patient_id,
                                            WaitlistEntry.status.in_(("waiting", "offered", "booked")))
                .order_by(WaitlistEntry.created_at.desc()).limit(50))
                if e.location_id is None or wscope is None or e.location_id in wscope]
            if entries:
                for o in session.scalars(select(WaitlistOffer).where(
                        WaitlistOffer.entry_id.in_([e.id for e in entries])).order_by(WaitlistOffer.start_at)):
                    offers.setdefault(o.entry_id, []).append(o)
            provider_ids |= {e.provider_id for e in entries if e.provider_id}
            provider_ids |= {o.provider_id for os in offers.values() for o in os}
        providers = {p.id: p.display_name for p in session.scalars(
            select(Provider).where(Provider.id.in_(list(provider_ids))))} if provider_ids else {}
        names = _location_names(session, ctx)

        def visit(a: Appointment) -> PatientVisit:
            tz = ref.zones.get(a.location_id, "UTC")
            vt = ref.visit_types.get(a.visit_type_id)
            return PatientVisit(a.id, a.start_at, to_local(a.start_at, tz), tz, a.location_id,
                                names.get(a.location_id, ""), a.provider_id, providers.get(a.provider_id, ""),
                                a.visit_type_id, vt.name if vt else "", a.status, a.cancel_reason,
                                a.status in UPCOMING and a.end_at > moment, _visit_actions(ctx, a, moment))

        visits = [visit(a) for a in appts]
        upcoming = sorted((v for v in visits if v.upcoming), key=lambda v: v.start_at)
        past = [v for v in visits if not v.upcoming][:past_limit]

        def offer(o: WaitlistOffer) -> WaitlistOfferItem:
            tz = ref.zones.get(o.location_id, "UTC")
            return WaitlistOfferItem(o.id, to_local(o.start_at, tz), tz, names.get(o.location_id, ""),
                                     providers.get(o.provider_id, ""), o.status, o.expires_at,
                                     o.status == "open" and o.expires_at > moment
                                     and ctx.can(SCHEDULING_BOOK, o.location_id))

        waitlist = []
        for e in entries:
            vt = ref.visit_types.get(e.visit_type_id)
            waitlist.append(WaitlistItem(
                e.id, vt.name if vt else "", providers.get(e.provider_id, "") if e.provider_id else "",
                names.get(e.location_id, "") if e.location_id else "", e.priority, e.time_of_day,
                e.earliest_date, e.latest_date, e.status, e.notes, e.created_at,
                tuple(offer(o) for o in offers.get(e.id, []))))
        audit.record(session, ctx, "appointment.patient_list", "patient", patient_id, patient_id=patient_id)
        return PatientSchedule(upcoming, past, waitlist)


def _location_names(session: object, ctx: Context) -> dict[uuid.UUID, str]:
    from praxis.scheduling.calendars import LOC

    conn = session.connection()  # type: ignore[attr-defined]
    return {r.id: r.name for r in conn.execute(select(LOC.c.id, LOC.c.name).where(LOC.c.org_id == ctx.org_id))}


__all__ = ["PatientSchedule", "PatientVisit", "WaitlistItem", "WaitlistOfferItem", "patient_schedule"]

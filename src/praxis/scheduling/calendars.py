"""Load availability inputs with SQLAlchemy Core (the hot path of slot search and booking).

Core statements are not scoped by the tenant hook, so every query here names `org_id`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, and_, literal, null, select, type_coerce, union_all

from praxis.practice.models import Location
from praxis.scheduling.availability import (
    BusyIndex,
    Interval,
    Template,
    VisitSpec,
    WeeklyBlock,
    local_day_bounds,
)
from praxis.scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentResource,
    BusinessHours,
    Closure,
    Provider,
    ProviderLocation,
    Resource,
    ScheduleBlockVisitType,
    ScheduleException,
    ScheduleTemplate,
    ScheduleTemplateBlock,
    VisitType,
)

A = Appointment.__table__
AR = AppointmentResource.__table__
BH = BusinessHours.__table__
CL = Closure.__table__
EX = ScheduleException.__table__
LOC = Location.__table__
PL = ProviderLocation.__table__
PR = Provider.__table__
RS = Resource.__table__
ST = ScheduleTemplate.__table__
STB = ScheduleTemplateBlock.__table__
SBVT = ScheduleBlockVisitType.__table__
VT = VisitType.__table__

# Longest possible appointment block: visit types allow 480 minutes plus 120 + 120 of buffers
# (schemas.VisitTypeIn); a day leaves room. Used to bound index scans on block_start.
MAX_BLOCK = timedelta(days=1)


@dataclass(frozen=True)
class VisitTypeRow:
    id: uuid.UUID
    code: str
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    required_resource_kinds: tuple[str, ...]
    modality: str
    self_bookable: bool
    active: bool
    colour: str
    patient_kind: str

    @property
    def spec(self) -> VisitSpec:
        return VisitSpec(self.id, self.duration_minutes, self.buffer_before_minutes,
                         self.buffer_after_minutes, self.required_resource_kinds)


def _visit_type_row(row: Any) -> VisitTypeRow:
    return VisitTypeRow(row.id, row.code, row.name, row.duration_minutes, row.buffer_before_minutes,
                        row.buffer_after_minutes, tuple(row.required_resource_kinds or ()), row.modality,
                        row.self_bookable, row.active, row.colour, row.patient_kind)


def load_visit_types(conn: Connection, org_id: uuid.UUID) -> list[VisitTypeRow]:
    return [_visit_type_row(r) for r in conn.execute(select(VT).where(VT.c.org_id == org_id))]


def location_zones(conn: Connection, org_id: uuid.UUID, location_ids: Iterable[uuid.UUID] | None
                   ) -> dict[uuid.UUID, str]:
    q = select(LOC.c.id, LOC.c.timezone).where(LOC.c.org_id == org_id, LOC.c.active.is_(True))
    if location_ids is not None:
        q = q.where(LOC.c.id.in_(list(location_ids)))
    return {r.id: r.timezone for r in conn.execute(q)}


def provider_pairs(conn: Connection, org_id: uuid.UUID, *, provider_ids: Iterable[uuid.UUID] | None,
                   location_ids: Iterable[uuid.UUID] | None) -> list[tuple[uuid.UUID, uuid.UUID]]:
    q = (select(PL.c.provider_id, PL.c.location_id)
         .join(PR, and_(PR.c.org_id == PL.c.org_id, PR.c.id == PL.c.provider_id))
         .where(PL.c.org_id == org_id, PR.c.active.is_(True)))
    if provider_ids is not None:
        q = q.where(PL.c.provider_id.in_(list(provider_ids)))
    if location_ids is not None:
        q = q.where(PL.c.location_id.in_(list(location_ids)))
    return [(r.provider_id, r.location_id) for r in conn.execute(q)]


def utc_range(first_day: date, days: int, zones: Iterable[str]) -> Interval:
    """A UTC interval covering `days` local days from `first_day` in every given zone."""
    zs = list(zones) or ["UTC"]
    start = min(local_day_bounds(first_day, z).start for z in zs)
    end = max(local_day_bounds(first_day + timedelta(days=days - 1), z).end for z in zs)
    return Interval(start, end)


def load_templates(conn: Connection, org_id: uuid.UUID) -> dict[tuple[uuid.UUID, uuid.UUID], list[Template]]:
    """(provider, location) -> the organisation's schedule templates with their weekly blocks and
    each block's visit types, in two round trips (outer join: a template may have no blocks)."""
    q = (select(ST.c.id, ST.c.provider_id, ST.c.location_id, ST.c.effective_from, ST.c.effective_to,
                STB.c.weekday, STB.c.start_minute, STB.c.end_minute, STB.c.id.label("block_id"))
         .select_from(ST.outerjoin(STB, and_(STB.c.org_id == ST.c.org_id, STB.c.template_id == ST.c.id)))
         .where(ST.c.org_id == org_id))
    limits: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for block_id, vt_id in conn.execute(select(SBVT.c.block_id, SBVT.c.visit_type_id).where(SBVT.c.org_id == org_id)):
        limits[block_id].add(vt_id)
    tpl_rows: dict[uuid.UUID, Any] = {}
    blocks: dict[uuid.UUID, list[WeeklyBlock]] = defaultdict(list)
    for r in conn.execute(q):
        tpl_rows.setdefault(r.id, r)
        if r.block_id is not None:
            ids = frozenset(limits.get(r.block_id, ()))
            blocks[r.id].append(WeeklyBlock(r.weekday, r.start_minute, r.end_minute, ids))
    templates: dict[tuple[uuid.UUID, uuid.UUID], list[Template]] = defaultdict(list)
    for t in tpl_rows.values():
        templates[(t.provider_id, t.location_id)].append(
            Template(t.effective_from, t.effective_to, tuple(blocks.get(t.id, ()))))
    return templates


def load_hours(conn: Connection, org_id: uuid.UUID) -> dict[uuid.UUID, dict[int, list[tuple[int, int]]]]:
    """location -> weekday -> opening hours; a location without rows sets no limit."""
    q = select(BH.c.location_id, BH.c.weekday, BH.c.open_minute, BH.c.close_minute).where(BH.c.org_id == org_id)
    hours: dict[uuid.UUID, dict[int, list[tuple[int, int]]]] = {}
    for h in conn.execute(q):
        hours.setdefault(h.location_id, defaultdict(list))[h.weekday].append((h.open_minute, h.close_minute))
    return {loc: dict(days) for loc, days in hours.items()}


def load_closures(conn: Connection, org_id: uuid.UUID) -> dict[uuid.UUID, set[date]]:
    """location -> the days it is closed."""
    closures: dict[uuid.UUID, set[date]] = defaultdict(set)
    for c in conn.execute(select(CL.c.location_id, CL.c.day).where(CL.c.org_id == org_id)):
        closures[c.location_id].add(c.day)
    return closures


def load_busy(conn: Connection, org_id: uuid.UUID, provider_ids: list[uuid.UUID], window: Interval
              ) -> tuple[dict[uuid.UUID, list[Interval]], dict[uuid.UUID, list[tuple[uuid.UUID | None, Interval]]]]:
    """Provider busy time in `window`: active appointments anywhere (a provider is in one place at a
    time) and schedule exceptions (time off; location None = everywhere), in one round trip.

    The lower bound on block_start lets the (org, provider, block_start) index scan only the window
    instead of the provider's whole history; a block never exceeds MAX_BLOCK."""
    busy: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    exceptions: dict[uuid.UUID, list[tuple[uuid.UUID | None, Interval]]] = defaultdict(list)
    q_ex = (select(EX.c.provider_id, EX.c.location_id, EX.c.starts_at.label("starts"),
                   EX.c.ends_at.label("ends"), literal(True).label("is_exception"))
            .where(EX.c.org_id == org_id, EX.c.provider_id.in_(provider_ids),
                   EX.c.starts_at < window.end, EX.c.ends_at > window.start))
    q_appt = (select(A.c.provider_id, type_coerce(null(), EX.c.location_id.type), A.c.block_start, A.c.block_end,
                     literal(False))
              .where(A.c.org_id == org_id, A.c.provider_id.in_(provider_ids), A.c.status.in_(ACTIVE_STATUSES),
                     A.c.block_start < window.end, A.c.block_start > window.start - MAX_BLOCK,
                     A.c.block_end > window.start))
    for r in conn.execute(union_all(q_ex, q_appt)):
        if r.is_exception:
            exceptions[r.provider_id].append((r.location_id, Interval(r.starts, r.ends)))
        else:
            busy[r.provider_id].append(Interval(r.starts, r.ends))
    return busy, exceptions


def own_busy(provider_id: uuid.UUID, location_id: uuid.UUID, busy: dict[uuid.UUID, list[Interval]],
             exceptions: dict[uuid.UUID, list[tuple[uuid.UUID | None, Interval]]]) -> BusyIndex:
    """The provider's busy index at one location: appointments plus exceptions there or everywhere."""
    return BusyIndex(busy.get(provider_id, []) + [iv for loc, iv in exceptions.get(provider_id, [])
                                                  if loc is None or loc == location_id])


def active_resources(conn: Connection, org_id: uuid.UUID, location_ids: list[uuid.UUID], kinds: Iterable[str]
                     ) -> list[Any]:
    """The active rooms and equipment of the given kinds at the locations (id, location_id, kind)."""
    kinds = list(kinds)
    if not kinds:
        return []
    return list(conn.execute(select(RS.c.id, RS.c.location_id, RS.c.kind)
                             .where(RS.c.org_id == org_id, RS.c.location_id.in_(location_ids),
                                    RS.c.kind.in_(kinds), RS.c.active.is_(True))))


def load_resource_pools(conn: Connection, org_id: uuid.UUID, resources: list[Any], window: Interval, *,
                        exclude_appointment: uuid.UUID | None = None
                        ) -> dict[uuid.UUID, dict[str, dict[uuid.UUID, BusyIndex]]]:
    """location -> kind -> resource -> its busy time in `window`, for `active_resources` rows."""
    pools: dict[uuid.UUID, dict[str, dict[uuid.UUID, list[Interval]]]] = defaultdict(lambda: defaultdict(dict))
    by_id = {r.id: r for r in resources}
    for r in resources:
        pools[r.location_id][r.kind][r.id] = []
    if by_id:
        rq = (select(AR.c.resource_id, AR.c.start_at, AR.c.end_at)
              .where(AR.c.org_id == org_id, AR.c.resource_id.in_(list(by_id)), AR.c.active.is_(True),
                     AR.c.start_at < window.end, AR.c.end_at > window.start))
        if exclude_appointment is not None:
            rq = rq.where(AR.c.appointment_id != exclude_appointment)
        for r in conn.execute(rq):
            row = by_id[r.resource_id]
            pools[row.location_id][row.kind][r.resource_id].append(Interval(r.start_at, r.end_at))
    return {loc: {k: {rid: BusyIndex(ivs) for rid, ivs in pool.items()} for k, pool in by_kind.items()}
            for loc, by_kind in pools.items()}

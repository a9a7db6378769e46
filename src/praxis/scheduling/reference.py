"""Per-process cache of an organisation's scheduling reference data, for booking.

Booking needs visit types, the provider's link to the location, the location's time zone,
templates, business hours, closures, reminder rules and two overbooking flags. They change a
few times a day and are read on every booking, so each process keeps one snapshot per
organisation and checks it against `scheduling_reference_versions` inside the booking's own
transaction (the version rides in the booking's first query). Database triggers bump the version
on every write to those tables (migration scheduling_0002), so no write path can forget to.

Busy time (appointments, schedule exceptions, room bookings) is never cached: booking reads it
fresh under its lock, and the PostgreSQL exclusion constraint stays the last guard.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, select

from praxis.platform.db import session_on
from praxis.practice.schemas import OrgSettings
from praxis.practice.service import org_settings
from praxis.scheduling import calendars as cal
from praxis.scheduling.availability import BusyIndex, Calendar, Template
from praxis.scheduling.models import ReferenceVersion, ReminderRule

RV = ReferenceVersion.__table__
RR = ReminderRule.__table__

MAX_ORGS = 256  # snapshots kept per process (least recently used dropped first)


@dataclass(frozen=True)
class Reference:
    version: int
    visit_types: Mapping[uuid.UUID, cal.VisitTypeRow]
    zones: Mapping[uuid.UUID, str]  # active locations
    pairs: frozenset[tuple[uuid.UUID, uuid.UUID]]  # (active provider, active location) links
    templates: Mapping[tuple[uuid.UUID, uuid.UUID], Sequence[Template]]
    hours: Mapping[uuid.UUID, Mapping[int, Sequence[tuple[int, int]]]]
    closures: Mapping[uuid.UUID, frozenset[date]]
    reminder_rules: tuple[tuple[uuid.UUID, int], ...]  # (rule id, hours before)
    settings: OrgSettings
    overbooking_providers: frozenset[uuid.UUID]

    def calendar(self, provider_id: uuid.UUID, location_id: uuid.UUID, *, busy: BusyIndex | None = None,
                 resources: Mapping[str, Mapping[uuid.UUID, BusyIndex]] | None = None) -> Calendar | None:
        """The provider's calendar at the location (None without a template there)."""
        templates = self.templates.get((provider_id, location_id))
        if not templates:
            return None
        return Calendar(provider_id=provider_id, location_id=location_id, timezone=self.zones[location_id],
                        templates=templates, hours=self.hours.get(location_id),
                        closures=self.closures.get(location_id, frozenset()),
                        busy=busy or BusyIndex(), resources=resources or {})

    def may_overbook(self, provider_id: uuid.UUID) -> bool:
        return self.settings.allow_overbooking and provider_id in self.overbooking_providers


def version_column(org_id: Any) -> ColumnElement[int]:
    """The organisation's current reference version (0 before its first setup write), as an
    expression to put in the caller's first statement (`org_id`: a value or bind parameter)."""
    return func.coalesce(select(RV.c.version).where(RV.c.org_id == org_id).scalar_subquery(), 0)


_VERSION = select(version_column(bindparam("org")))


def current(conn: Connection, org_id: uuid.UUID) -> Reference:
    """The organisation's snapshot checked against its version now (one query when cached)."""
    return get(conn, org_id, int(conn.scalar(_VERSION, {"org": org_id}) or 0))


_cache: OrderedDict[uuid.UUID, Reference] = OrderedDict()
_lock = threading.Lock()


def get(conn: Connection, org_id: uuid.UUID, version: int) -> Reference:
    """The organisation's snapshot at `version` (read in the caller's transaction), loading it
    through the caller's connection when the cached one is older or missing."""
    with _lock:
        ref = _cache.get(org_id)
        if ref is not None and ref.version == version:
            _cache.move_to_end(org_id)
            return ref
    ref = _load(conn, org_id, version)
    with _lock:
        _cache[org_id] = ref
        _cache.move_to_end(org_id)
        while len(_cache) > MAX_ORGS:
            _cache.popitem(last=False)
    return ref


def cached(org_id: uuid.UUID) -> Reference | None:
    """The snapshot in hand, unchecked: the booking's first guess, confirmed by its first query."""
    with _lock:
        return _cache.get(org_id)



def _load(conn: Connection, org_id: uuid.UUID, version: int) -> Reference:
    visit_types = {vt.id: vt for vt in cal.load_visit_types(conn, org_id)}
    zones = cal.location_zones(conn, org_id, None)
    pairs = frozenset(cal.provider_pairs(conn, org_id, provider_ids=None, location_ids=None))
    templates = {k: tuple(v) for k, v in cal.load_templates(conn, org_id).items()}
    closures = {loc: frozenset(days) for loc, days in cal.load_closures(conn, org_id).items()}
    rules = tuple((r.id, r.hours_before) for r in conn.execute(
        select(RR.c.id, RR.c.hours_before).where(RR.c.org_id == org_id, RR.c.active.is_(True))
        .order_by(RR.c.hours_before.desc(), RR.c.id)))
    overbook = frozenset(conn.scalars(select(cal.PR.c.id).where(
        and_(cal.PR.c.org_id == org_id, cal.PR.c.allow_overbooking.is_(True)))))
    return Reference(version=version, visit_types=visit_types, zones=zones, pairs=pairs, templates=templates,
                     hours=cal.load_hours(conn, org_id), closures=closures, reminder_rules=rules,
                     settings=_settings(conn, org_id), overbooking_providers=overbook)


def _settings(conn: Connection, org_id: uuid.UUID) -> OrgSettings:
    with session_on(conn, org_id) as session:
        return org_settings(session, org_id)

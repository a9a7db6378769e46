"""Scheduling reference data: providers, rooms/equipment, visit types, hours, closures,
weekly templates and exceptions (the things a location manager sets up once)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import holidays as holiday_calendars
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.deletions import record_deletion
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work
from praxis.practice.models import Location
from praxis.practice.schemas import luhn_npi_ok
from praxis.scheduling.models import (
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
from praxis.scheduling.permissions import (
    PROVIDER_LOCATIONS,
    SCHEDULE_TEMPLATES,
    SCHEDULING_MANAGE,
    SCHEDULING_READ,
)


def _location(session: Session, ctx: Context, location_id: uuid.UUID, permission: str = SCHEDULING_MANAGE
              ) -> Location:
    ctx.require(permission, location_id, what="location")
    return get_or_404(session, Location, location_id, "location")


def _minutes(start: int, end: int, field: str) -> None:
    if not (0 <= start < end <= 1440):
        raise ValidationProblem("times must be within the day and end after they start", field=field)


# --- providers -----------------------------------------------------------------------------------


def create_provider(ctx: Context, *, first_name: str, last_name: str, location_ids: Sequence[uuid.UUID],
                    credentials: str = "", npi: str | None = None, specialties: Sequence[str] = (),
                    colour: str = "#4a6fa5", allow_overbooking: bool = False,
                    user_id: uuid.UUID | None = None) -> Provider:
    if not location_ids:
        raise ValidationProblem("A provider works at one location at least", field="location_ids")
    if npi and not luhn_npi_ok(npi):
        raise ValidationProblem("NPI must be 10 digits with a valid check digit", field="npi")
    with unit_of_work(ctx) as session:
        for loc in location_ids:
            _location(session, ctx, loc)
        provider = Provider(org_id=ctx.org_id, first_name=first_name, last_name=last_name,
                            credentials=credentials, npi=npi or None, specialties=list(specialties),
                            colour=colour, allow_overbooking=allow_overbooking, user_id=user_id)
        session.add(provider)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("Another provider has this NPI", field="npi") from None
        for loc in dict.fromkeys(location_ids):
            session.add(ProviderLocation(org_id=ctx.org_id, provider_id=provider.id, location_id=loc))
        audit.record(session, ctx, "provider.create", "provider", provider.id)
        return provider


def update_provider(ctx: Context, provider_id: uuid.UUID, *, changes: dict[str, object],
                    location_ids: Sequence[uuid.UUID] | None = None) -> Provider:
    with unit_of_work(ctx) as session:
        provider = get_or_404(session, Provider, provider_id, "provider")
        current = provider_location_ids(session, provider.id)
        ctx.require_any_location(SCHEDULING_MANAGE, current, what="provider")
        npi = changes.get("npi")
        if isinstance(npi, str) and npi and not luhn_npi_ok(npi):
            raise ValidationProblem("NPI must be 10 digits with a valid check digit", field="npi")
        for key, value in changes.items():
            setattr(provider, key, value)
        if location_ids is not None:
            if not location_ids:
                raise ValidationProblem("A provider works at one location at least", field="location_ids")
            for loc in set(location_ids) ^ set(current):
                _location(session, ctx, loc)
            gone = list(session.scalars(select(ProviderLocation).where(
                ProviderLocation.provider_id == provider.id, ProviderLocation.location_id.not_in(location_ids))))
            for link in gone:
                # The FHIR Schedule of this provider and location disappears (export's `deleted`).
                record_deletion(session, ctx.org_id, PROVIDER_LOCATIONS, link.id, location_id=link.location_id,
                                parent_id=provider.id)
            session.execute(delete(ProviderLocation).where(ProviderLocation.provider_id == provider.id,
                                                           ProviderLocation.location_id.not_in(location_ids)))
            for loc in set(location_ids) - set(current):
                session.add(ProviderLocation(org_id=ctx.org_id, provider_id=provider.id, location_id=loc))
            if set(location_ids) != set(current):
                # Where a provider works is part of it for `updated_since` and FHIR `_since`
                # (PractitionerRole.location, the Schedules).
                provider.updated_at = now()
        audit.record(session, ctx, "provider.update", "provider", provider.id,
                     detail={"fields": sorted(changes)})
        return provider


def provider_location_ids(session: Session, provider_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(ProviderLocation.location_id)
                                .where(ProviderLocation.provider_id == provider_id)))


def list_providers(ctx: Context, *, location_id: uuid.UUID | None = None, active_only: bool = True
                   ) -> list[tuple[Provider, list[uuid.UUID]]]:
    """Providers with the locations they work at (limited to what the actor may see)."""
    ctx.require(SCHEDULING_READ, location_id, what="location") if location_id else None
    if not ctx.has(SCHEDULING_READ):
        ctx.require(SCHEDULING_READ)
    scope = ctx.scope(SCHEDULING_READ)
    with unit_of_work(ctx) as session:
        links: dict[uuid.UUID, list[uuid.UUID]] = {}
        for pl in session.scalars(select(ProviderLocation)):
            links.setdefault(pl.provider_id, []).append(pl.location_id)
        q = select(Provider).order_by(Provider.last_name, Provider.first_name)
        if active_only:
            q = q.where(Provider.active.is_(True))
        out = []
        for p in session.scalars(q):
            locs = links.get(p.id, [])
            if location_id is not None and location_id not in locs:
                continue
            if scope is not None and not any(loc in scope for loc in locs):
                continue
            out.append((p, locs))
        return out


# --- rooms and equipment -------------------------------------------------------------------------


def create_resource(ctx: Context, *, location_id: uuid.UUID, kind: str, name: str) -> Resource:
    with unit_of_work(ctx) as session:
        _location(session, ctx, location_id)
        res = Resource(org_id=ctx.org_id, location_id=location_id, kind=kind.strip().lower(), name=name.strip())
        session.add(res)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("A room or equipment with that name exists at this location", field="name") from None
        audit.record(session, ctx, "resource.create", "resource", res.id, location_id=location_id)
        return res


def list_resources(ctx: Context, location_id: uuid.UUID) -> list[Resource]:
    with unit_of_work(ctx) as session:
        _location(session, ctx, location_id, SCHEDULING_READ)
        return active_resources(session, location_id)


def active_resources(session: Session, location_id: uuid.UUID) -> list[Resource]:
    """The location's active rooms and equipment, by kind and name (the caller checked access)."""
    return list(session.scalars(select(Resource).where(Resource.location_id == location_id,
                                                       Resource.active.is_(True))
                                .order_by(Resource.kind, Resource.name)))


# --- visit types ---------------------------------------------------------------------------------


def create_visit_type(ctx: Context, **fields: object) -> VisitType:
    """An organisation-wide visit type (needs scheduling:manage org-wide)."""
    ctx.require(SCHEDULING_MANAGE, None, what="visit type")
    with unit_of_work(ctx) as session:
        vt = VisitType(org_id=ctx.org_id, **fields)
        session.add(vt)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("A visit type with that code exists", field="code") from None
        audit.record(session, ctx, "visit_type.create", "visit_type", vt.id)
        return vt


def update_visit_type(ctx: Context, visit_type_id: uuid.UUID, changes: dict[str, object]) -> VisitType:
    ctx.require(SCHEDULING_MANAGE, None, what="visit type")
    with unit_of_work(ctx) as session:
        vt = get_or_404(session, VisitType, visit_type_id, "visit type")
        for k, v in changes.items():
            setattr(vt, k, v)
        audit.record(session, ctx, "visit_type.update", "visit_type", vt.id, detail={"fields": sorted(changes)})
        return vt


def list_visit_types(ctx: Context, *, self_bookable: bool | None = None, active_only: bool = True
                     ) -> list[VisitType]:
    with unit_of_work(ctx) as session:
        q = select(VisitType).order_by(VisitType.name)
        if active_only:
            q = q.where(VisitType.active.is_(True))
        if self_bookable is not None:
            q = q.where(VisitType.self_bookable.is_(self_bookable))
        return list(session.scalars(q))


# --- hours and closures --------------------------------------------------------------------------


def set_business_hours(ctx: Context, location_id: uuid.UUID, hours: dict[int, list[tuple[int, int]]]
                       ) -> None:
    """Replace the location's weekly opening hours (weekday 0 = Monday; local minutes)."""
    with unit_of_work(ctx) as session:
        _location(session, ctx, location_id)
        session.execute(delete(BusinessHours).where(BusinessHours.location_id == location_id))
        for weekday, spans in hours.items():
            if not 0 <= weekday <= 6:
                raise ValidationProblem("weekday must be 0 (Monday) to 6 (Sunday)", field="weekday")
            for open_m, close_m in spans:
                _minutes(open_m, close_m, f"hours.{weekday}")
                session.add(BusinessHours(org_id=ctx.org_id, location_id=location_id, weekday=weekday,
                                          open_minute=open_m, close_minute=close_m))
        audit.record(session, ctx, "business_hours.set", "location", location_id, location_id=location_id)


def get_business_hours(ctx: Context, location_id: uuid.UUID) -> dict[int, list[tuple[int, int]]]:
    with unit_of_work(ctx) as session:
        _location(session, ctx, location_id, SCHEDULING_READ)
        out: dict[int, list[tuple[int, int]]] = {}
        for h in session.scalars(select(BusinessHours).where(BusinessHours.location_id == location_id)
                                 .order_by(BusinessHours.weekday, BusinessHours.open_minute)):
            out.setdefault(h.weekday, []).append((h.open_minute, h.close_minute))
        return out


def add_closure(ctx: Context, location_id: uuid.UUID, day: date, reason: str = "") -> Closure:
    with unit_of_work(ctx) as session:
        _location(session, ctx, location_id)
        closure = Closure(org_id=ctx.org_id, location_id=location_id, day=day, reason=reason[:200])
        session.add(closure)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("The location is already closed that day", field="day") from None
        audit.record(session, ctx, "closure.add", "location", location_id, location_id=location_id)
        return closure


def seed_holidays(ctx: Context, location_id: uuid.UUID, years: Sequence[int], *, country: str = "US",
                  subdiv: str | None = None) -> int:
    """Close the location on the public holidays of `years` (python-holidays). Returns days added.

    An unknown country or subdivision is a ValidationProblem naming it (python-holidays raises
    NotImplementedError for them); a US location's state is used as the subdivision when it is one."""
    supported = holiday_calendars.list_supported_countries()
    if country not in supported:
        raise ValidationProblem(f"No public-holiday calendar for country {country!r}", field="country")
    if subdiv and subdiv not in supported[country]:
        raise ValidationProblem(f"{country} has no subdivision {subdiv!r} (known: {', '.join(supported[country])})",
                                field="subdiv")
    cal = holiday_calendars.country_holidays(country, subdiv=subdiv or None, years=list(years))
    with unit_of_work(ctx) as session:
        loc = _location(session, ctx, location_id)
        if subdiv is None and country == "US" and loc.state in supported[country]:
            cal = holiday_calendars.country_holidays(country, subdiv=loc.state, years=list(years))
        existing = set(session.scalars(select(Closure.day).where(Closure.location_id == location_id)))
        added = 0
        for day, name in sorted(cal.items()):
            if day in existing:
                continue
            session.add(Closure(org_id=ctx.org_id, location_id=location_id, day=day, reason=str(name)[:200]))
            added += 1
        audit.record(session, ctx, "closure.seed_holidays", "location", location_id, location_id=location_id,
                     detail={"years": list(years), "added": added})
        return added


def list_closures(ctx: Context, location_id: uuid.UUID, *, since: date | None = None) -> list[Closure]:
    with unit_of_work(ctx) as session:
        _location(session, ctx, location_id, SCHEDULING_READ)
        q = select(Closure).where(Closure.location_id == location_id)
        if since:
            q = q.where(Closure.day >= since)
        return list(session.scalars(q.order_by(Closure.day)))


# --- templates and exceptions --------------------------------------------------------------------


def _provider_at(session: Session, ctx: Context, provider_id: uuid.UUID, location_id: uuid.UUID) -> None:
    _location(session, ctx, location_id)
    ok = session.scalars(select(ProviderLocation.id).where(ProviderLocation.provider_id == provider_id,
                                                           ProviderLocation.location_id == location_id)).first()
    if ok is None:
        raise NotFound("No such provider at this location", field="provider_id")


@dataclass(frozen=True)
class BlockView:
    """A template block as read back: its visit types (none = any visit type)."""

    weekday: int
    start_minute: int
    end_minute: int
    visit_type_ids: list[uuid.UUID] = field(default_factory=list)


def _visit_type_ids(block: dict[str, object], i: int) -> list[uuid.UUID]:
    out: list[uuid.UUID] = []
    for j, v in enumerate(block.get("visit_type_ids") or []):  # type: ignore[attr-defined]
        try:
            vid = v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))
        except ValueError:
            raise ValidationProblem("not a visit type id", field=f"blocks.{i}.visit_type_ids.{j}") from None
        if vid not in out:
            out.append(vid)
    return out


def create_template(ctx: Context, *, provider_id: uuid.UUID, location_id: uuid.UUID, effective_from: date,
                    effective_to: date | None, blocks: Sequence[dict[str, object]], name: str = ""
                    ) -> ScheduleTemplate:
    """A weekly pattern: blocks of {weekday, start_minute, end_minute, visit_type_ids?}."""
    if effective_to is not None and effective_to < effective_from:
        raise ValidationProblem("effective_to is before effective_from", field="effective_to")
    if not blocks:
        raise ValidationProblem("A template needs at least one block", field="blocks")
    with unit_of_work(ctx) as session:
        _provider_at(session, ctx, provider_id, location_id)
        tpl = ScheduleTemplate(org_id=ctx.org_id, provider_id=provider_id, location_id=location_id, name=name,
                               effective_from=effective_from, effective_to=effective_to)
        session.add(tpl)
        session.flush()
        wanted = [_visit_type_ids(b, i) for i, b in enumerate(blocks)]
        # One query for every block: the tenant-scoped session sees only this organisation's visit
        # types, so another organisation's id is unknown here exactly like an invented one (404).
        all_ids = {v for ids in wanted for v in ids}
        known = set(session.scalars(select(VisitType.id).where(VisitType.id.in_(all_ids)))) if all_ids else set()
        for i, (b, ids) in enumerate(zip(blocks, wanted, strict=True)):
            weekday, start, end = int(b["weekday"]), int(b["start_minute"]), int(b["end_minute"])  # type: ignore[call-overload]
            if not 0 <= weekday <= 6:
                raise ValidationProblem("weekday must be 0 (Monday) to 6 (Sunday)", field=f"blocks.{i}.weekday")
            _minutes(start, end, f"blocks.{i}")
            for j, v in enumerate(ids):
                if v not in known:
                    raise NotFound("No such visit type", field=f"blocks.{i}.visit_type_ids.{j}")
            block = ScheduleTemplateBlock(org_id=ctx.org_id, template_id=tpl.id, weekday=weekday,
                                          start_minute=start, end_minute=end)
            session.add(block)
            session.flush()
            session.add_all(ScheduleBlockVisitType(org_id=ctx.org_id, block_id=block.id, visit_type_id=v)
                            for v in ids)
        audit.record(session, ctx, "template.create", "schedule_template", tpl.id, location_id=location_id)
        return tpl


def list_templates(ctx: Context, *, location_id: uuid.UUID, provider_id: uuid.UUID | None = None
                   ) -> list[tuple[ScheduleTemplate, list[ScheduleTemplateBlock]]]:
    with unit_of_work(ctx) as session:
        _location(session, ctx, location_id, SCHEDULING_READ)
        q = select(ScheduleTemplate).where(ScheduleTemplate.location_id == location_id)
        if provider_id:
            q = q.where(ScheduleTemplate.provider_id == provider_id)
        tpls = list(session.scalars(q.order_by(ScheduleTemplate.effective_from)))
        blocks: dict[uuid.UUID, list[BlockView]] = {}
        if tpls:
            rows = list(session.scalars(select(ScheduleTemplateBlock)
                                        .where(ScheduleTemplateBlock.template_id.in_([t.id for t in tpls]))
                                        .order_by(ScheduleTemplateBlock.weekday,
                                                  ScheduleTemplateBlock.start_minute)))
            limits: dict[uuid.UUID, list[uuid.UUID]] = {}
            if rows:
                for block_id, vt_id in session.execute(
                        select(ScheduleBlockVisitType.block_id, ScheduleBlockVisitType.visit_type_id)
                        .where(ScheduleBlockVisitType.block_id.in_([b.id for b in rows]))):
                    limits.setdefault(block_id, []).append(vt_id)
            for b in rows:
                blocks.setdefault(b.template_id, []).append(
                    BlockView(b.weekday, b.start_minute, b.end_minute, sorted(limits.get(b.id, []), key=str)))
        return [(t, blocks.get(t.id, [])) for t in tpls]


def end_template(ctx: Context, template_id: uuid.UUID, effective_to: date) -> ScheduleTemplate:
    with unit_of_work(ctx) as session:
        tpl = get_or_404(session, ScheduleTemplate, template_id, "template")
        ctx.require(SCHEDULING_MANAGE, tpl.location_id, what="template")
        if effective_to < tpl.effective_from:
            session.delete(tpl)
            record_deletion(session, ctx.org_id, SCHEDULE_TEMPLATES, tpl.id, location_id=tpl.location_id)
        else:
            tpl.effective_to = effective_to
        audit.record(session, ctx, "template.end", "schedule_template", tpl.id, location_id=tpl.location_id)
        return tpl


def add_exception(ctx: Context, *, provider_id: uuid.UUID, starts_at: datetime, ends_at: datetime,
                  location_id: uuid.UUID | None = None, kind: str = "time_off", reason: str = ""
                  ) -> ScheduleException:
    with unit_of_work(ctx) as session:
        provider = get_or_404(session, Provider, provider_id, "provider")
        if location_id is not None:
            _provider_at(session, ctx, provider.id, location_id)
        else:
            ctx.require_any_location(SCHEDULING_MANAGE, provider_location_ids(session, provider.id),
                                     what="provider")
        if ends_at <= starts_at:
            raise ValidationProblem("ends_at must be after starts_at", field="ends_at")
        if kind not in ("time_off", "block"):
            raise ValidationProblem("kind must be time_off or block", field="kind")
        ex = ScheduleException(org_id=ctx.org_id, provider_id=provider_id, location_id=location_id, kind=kind,
                               starts_at=starts_at, ends_at=ends_at, reason=reason[:200])
        session.add(ex)
        session.flush()
        audit.record(session, ctx, "schedule_exception.add", "schedule_exception", ex.id,
                     location_id=location_id)
        return ex

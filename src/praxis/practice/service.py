"""Organisations and locations."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.db import get_or_404, session_scope
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work
from praxis.practice.models import Location, Organisation
from praxis.practice.permissions import LOCATIONS_CREATE, LOCATIONS_MANAGE, LOCATIONS_READ, ORG_MANAGE
from praxis.practice.schemas import LocationIn, LocationUpdate, OrganisationUpdate, OrgSettings

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,58}[a-z0-9]$")


def create_organisation(name: str, slug: str, settings: OrgSettings | None = None) -> Organisation:
    """Create a tenant (CLI/installer only: no actor exists yet). Domains seed their defaults
    by handling the `org.created` event (identity seeds the built-in roles)."""
    from praxis.platform import outbox

    if not _SLUG.match(slug):
        raise ValidationProblem("slug must be 3-60 lowercase letters, digits or dashes", field="slug")
    if not name.strip():
        raise ValidationProblem("name is required", field="name")
    org = Organisation(name=name.strip(), slug=slug, settings=(settings or OrgSettings()).model_dump())
    try:
        with session_scope(None, system=True, reason="creating an organisation: none exists yet") as s:
            s.add(org)
            s.flush()
            outbox.emit(s, "org.created", {"org_id": str(org.id)}, org_id=org.id)
    except IntegrityError:
        raise Conflict(f"An organisation with slug {slug!r} exists", field="slug") from None
    return org


def get_organisation(ctx: Context) -> Organisation:
    with unit_of_work(ctx) as s:
        return _org(s, ctx.org_id)


def _org(s: Session, org_id: uuid.UUID) -> Organisation:
    org = s.get(Organisation, org_id)
    if org is None:
        raise NotFound("No such organisation")
    return org


def org_settings(session: Session, org_id: uuid.UUID) -> OrgSettings:
    """The organisation's settings, validated: the one reader other domains use for their rules
    (MRN format, patient visibility, overbooking, idle timeout)."""
    return settings_of(_org(session, org_id))


def settings_of(org: Organisation) -> OrgSettings:
    """The settings of an organisation already loaded, validated (what org_settings reads)."""
    return OrgSettings.model_validate(org.settings or {})


def find_organisation_by_slug(slug: str) -> Organisation | None:
    with session_scope(None, system=True, reason="organisation lookup by its public slug") as s:
        return s.scalars(select(Organisation).where(Organisation.slug == slug)).first()


def list_organisations(org_ids: list[uuid.UUID]) -> list[Organisation]:
    with session_scope(None, system=True, reason="the user's organisations, for the switcher") as s:
        return list(s.scalars(select(Organisation).where(Organisation.id.in_(org_ids))
                              .order_by(Organisation.name)))


def update_organisation(ctx: Context, data: OrganisationUpdate) -> Organisation:
    """Change the organisation's name or settings (org-wide permission)."""
    ctx.require(ORG_MANAGE)
    with unit_of_work(ctx) as s:
        org = _org(s, ctx.org_id)
        changed = data.model_dump(exclude_unset=True)
        if data.name is not None:
            org.name = data.name
        if data.settings is not None:
            org.settings = data.settings.model_dump()
        audit.record(s, ctx, "update", "organisation", org.id, detail={"fields": sorted(changed)})
        return org


def add_location(ctx: Context, data: LocationIn) -> Location:
    """Add a location to the organisation."""
    ctx.require(LOCATIONS_CREATE)
    with unit_of_work(ctx) as s:
        loc = Location(org_id=ctx.org_id, **data.model_dump())
        s.add(loc)
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"Location code {data.code!r} is already used", field="code") from None
        audit.record(s, ctx, "create", "location", loc.id, location_id=loc.id)
        return loc


def list_locations(ctx: Context, *, permission: str = LOCATIONS_READ, include_inactive: bool = False
                   ) -> list[Location]:
    """Locations the actor may see under `permission`."""
    scope = ctx.scope(permission)
    with unit_of_work(ctx) as s:
        q = select(Location).order_by(Location.name)
        if not include_inactive:
            q = q.where(Location.active.is_(True))
        if scope is not None:
            q = q.where(Location.id.in_(list(scope)))
        return list(s.scalars(q))


def get_location(ctx: Context, location_id: uuid.UUID) -> Location:
    ctx.require(LOCATIONS_READ, location_id, what="location")
    with unit_of_work(ctx) as s:
        return get_or_404(s, Location, location_id, "location")


def find_location_by_code(session: Session, code: str) -> Location | None:
    return session.scalars(select(Location).where(Location.code == code)).first()


def update_location(ctx: Context, location_id: uuid.UUID, data: LocationUpdate) -> Location:
    """Change a location's details; a manager may only change locations in scope."""
    ctx.require(LOCATIONS_MANAGE, location_id, what="location")
    with unit_of_work(ctx) as s:
        loc = get_or_404(s, Location, location_id, "location")
        changes = data.model_dump(exclude_unset=True)
        for key, value in changes.items():
            setattr(loc, key, value)
        audit.record(s, ctx, "update", "location", loc.id, location_id=loc.id,
                     detail={"fields": sorted(changes)})
        return loc

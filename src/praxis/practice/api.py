"""JSON API: the organisation and its locations."""

from __future__ import annotations

from fastapi import Depends

from praxis.platform.context import Context
from praxis.platform.ids import parse_id
from praxis.practice import service
from praxis.practice.models import Organisation
from praxis.practice.permissions import LOCATIONS_CREATE, LOCATIONS_MANAGE, LOCATIONS_READ, ORG_MANAGE
from praxis.practice.schemas import (
    LocationIn,
    LocationOut,
    LocationUpdate,
    OrganisationOut,
    OrganisationUpdate,
)
from praxis.web.deps import authenticated, permission
from praxis.web.paging import PAGED, Pager, by
from praxis.web.routes import Router

router = Router(prefix="/api/v1", tags=["organisation"])


def _org_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(id=org.id, slug=org.slug, name=org.name, settings=service.settings_of(org),
                           created_at=org.created_at)


@router.get("/organisation", response_model=OrganisationOut)
def get_organisation(ctx: Context = Depends(authenticated)) -> OrganisationOut:
    """The caller's organisation."""
    return _org_out(service.get_organisation(ctx))


@router.patch("/organisation", response_model=OrganisationOut)
def update_organisation(data: OrganisationUpdate, ctx: Context = Depends(permission(ORG_MANAGE))
                        ) -> OrganisationOut:
    return _org_out(service.update_organisation(ctx, data))


@router.get("/locations", response_model=list[LocationOut])
def list_locations(ctx: Context = Depends(permission(LOCATIONS_READ)), page: Pager = PAGED
                   ) -> list[LocationOut]:
    """Locations within the caller's scope."""
    return page.of([LocationOut.model_validate(x) for x in service.list_locations(ctx)], key=by("name"))


@router.post("/locations", response_model=LocationOut, status_code=201)
def add_location(data: LocationIn, ctx: Context = Depends(permission(LOCATIONS_CREATE))) -> LocationOut:
    return LocationOut.model_validate(service.add_location(ctx, data))


@router.get("/locations/{location_id}", response_model=LocationOut)
def get_location(location_id: str, ctx: Context = Depends(permission(LOCATIONS_READ))) -> LocationOut:
    return LocationOut.model_validate(service.get_location(ctx, parse_id(location_id, "location")))


@router.patch("/locations/{location_id}", response_model=LocationOut)
def update_location(location_id: str, data: LocationUpdate,
                    ctx: Context = Depends(permission(LOCATIONS_MANAGE))) -> LocationOut:
    return LocationOut.model_validate(service.update_location(ctx, parse_id(location_id, "location"), data))



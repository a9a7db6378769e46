from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from praxis.platform.schemas import PatchModel, StrictModel
from praxis.practice.mrn import MrnFormat

_TZ = available_timezones()


def npi_check_digit(first_nine: str) -> int:
    """The NPI check digit: Luhn over the prefix 80840 + the first nine digits."""
    total = 0
    for i, d in enumerate(reversed([int(c) for c in "80840" + first_nine])):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def luhn_npi_ok(npi: str) -> bool:
    """NPI check digit: Luhn over '80840' + the first nine digits."""
    return bool(re.fullmatch(r"\d{10}", npi)) and npi_check_digit(npi[:9]) == int(npi[9])


def check_timezone(v: str) -> str:
    if v not in _TZ:
        raise ValueError(f"unknown time zone {v!r} (use an IANA name such as America/New_York)")
    return v


def check_npi(v: str | None) -> str | None:
    if v and not luhn_npi_ok(v):
        raise ValueError("NPI must be 10 digits with a valid check digit")
    return v or None


class OrgSettings(StrictModel):
    mfa_required: bool = False
    # A declared grammar (prefix, zero-padded width, optional check digit), never a format string.
    mrn_format: MrnFormat = Field(default_factory=MrnFormat)
    # Limit location-scoped users' patient search to patients linked to their locations.
    restrict_patient_search_to_locations: bool = False
    allow_overbooking: bool = False
    idle_timeout_minutes: int | None = Field(default=None, ge=1, le=240)


class OrganisationOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    settings: OrgSettings
    created_at: datetime


class OrganisationUpdate(PatchModel):

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    settings: OrgSettings | None = None


class LocationIn(StrictModel):
    code: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    timezone: str = "America/New_York"
    address_line1: str = Field(default="", max_length=200)
    address_line2: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    state: str = Field(default="", max_length=2, pattern=r"^([A-Z]{2})?$")
    postal_code: str = Field(default="", max_length=10, pattern=r"^(\d{5}(-?\d{4})?)?$")
    phone: str = Field(default="", max_length=20)
    npi: str | None = None
    tax_id: str | None = Field(default=None, pattern=r"^\d{2}-?\d{7}$")
    place_of_service: str = Field(default="11", pattern=r"^\d{2}$")

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))
    _npi = field_validator("npi")(classmethod(lambda cls, v: check_npi(v)))


class LocationUpdate(PatchModel):
    nullable = frozenset({"npi", "tax_id"})

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: str | None = None
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, pattern=r"^([A-Z]{2})?$")
    postal_code: str | None = Field(default=None, pattern=r"^(\d{5}(-?\d{4})?)?$")
    phone: str | None = Field(default=None, max_length=20)
    npi: str | None = None
    tax_id: str | None = Field(default=None, pattern=r"^\d{2}-?\d{7}$")
    place_of_service: str | None = Field(default=None, pattern=r"^\d{2}$")
    active: bool | None = None

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v) if v else v))
    _npi = field_validator("npi")(classmethod(lambda cls, v: check_npi(v)))


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    timezone: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str
    npi: str | None
    tax_id: str | None
    place_of_service: str
    active: bool
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")

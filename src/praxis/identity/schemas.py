from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from praxis.platform.schemas import PatchModel, StrictModel


class GrantIn(StrictModel):
    role_id: uuid.UUID
    location_id: uuid.UUID | None = None


class GrantOut(BaseModel):
    id: uuid.UUID
    role_id: uuid.UUID
    role_key: str
    role_name: str
    location_id: uuid.UUID | None


class MemberIn(StrictModel):
    email: Annotated[str, Field(max_length=254)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=12, max_length=256)]
    grants: Annotated[list[GrantIn], Field(min_length=1, max_length=50)]


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    active: bool
    mfa_enabled: bool
    locked: bool
    grants: list[GrantOut]
    status: Literal["active", "invited"] = Field(description="invited until the person accepts")
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class MemberActive(StrictModel):
    active: bool


class RoleOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    description: str
    builtin: bool
    permissions: list[str]
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class RoleCopy(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]


class RoleUpdate(PatchModel):
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    permissions: list[Annotated[str, Field(max_length=80)]] | None = Field(default=None, max_length=200)


class ApiClientIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    scopes: Annotated[list[Annotated[str, Field(max_length=80)]], Field(min_length=1, max_length=100)]
    location_ids: list[uuid.UUID] | None = Field(default=None, max_length=200)
    expires_at: AwareDatetime | None = Field(default=None, description="with a UTC offset, e.g. 2030-01-01T00:00:00Z")
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=100_000, description=(
        "requests a minute; empty: the server's default (setting PRAXIS_API_RATE_LIMIT_PER_MINUTE)"))


class ApiClientLimit(StrictModel):
    rate_limit_per_minute: int | None = Field(ge=1, le=100_000, description="requests a minute; null: the default")


class ApiClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    token_prefix: str
    scopes: list[str]
    location_ids: list[uuid.UUID] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    rate_limit_per_minute: int | None = Field(default=None, description="the client's own limit; null: the default")
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class ApiClientCreated(ApiClientOut):
    token: str = Field(description="The bearer token. Shown once; store it in the client's secret store.")


class BreakGlassIn(StrictModel):
    reason: Annotated[str, Field(min_length=10, max_length=2000)]
    location_id: uuid.UUID | None = None
    minutes: Annotated[int, Field(ge=1, le=240)] | None = None


class BreakGlassOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    membership_id: uuid.UUID
    reason: str
    location_id: uuid.UUID | None
    starts_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int | None
    created_at: datetime
    actor_id: uuid.UUID | None
    actor_type: str
    actor_name: str
    role: str
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: uuid.UUID | None
    location_id: uuid.UUID | None
    client_ip: str | None
    request_id: str | None
    reason: str | None
    break_glass: bool
    detail: dict[str, Any] | None


class MeOut(BaseModel):
    actor_id: uuid.UUID | None
    actor_type: str
    name: str
    org_id: uuid.UUID
    roles: list[str]
    permissions: dict[str, list[uuid.UUID] | Literal["org"]]
    break_glass_until: datetime | None


class DeletionOut(BaseModel):
    """A tombstone: a record a list returned was deleted outright (decision 55)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str = Field(description="the list the record appeared in: schedule_templates (GET /scheduling/templates), "
                                  "provider_locations (a provider's location_ids in GET /scheduling/providers; "
                                  "FHIR Schedule), care_timers (GET /care/timers)")
    record_id: str = Field(description="the deleted record's id (a provider location's: see parent_id and location_id)")
    location_id: uuid.UUID | None = Field(description="the location the record belonged to, when location-bound")
    parent_id: uuid.UUID | None = Field(description="the record it was part of (the provider of a provider location)")
    deleted_at: datetime
    updated_at: datetime = Field(description="the same as deleted_at: the time `updated_since` compares")

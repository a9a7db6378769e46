"""Pydantic shapes at the scheduling API's edge. Inputs forbid unknown fields; nothing here
accepts org_id, and status only changes through the transition endpoints."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from praxis.platform.schemas import Day, Instant, PatchModel, StrictModel
from praxis.practice.schemas import check_npi

Out = ConfigDict(from_attributes=True)
Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
Minute = Annotated[int, Field(ge=0, le=1440)]


class ProviderIn(StrictModel):
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    last_name: Annotated[str, Field(min_length=1, max_length=100)]
    credentials: str = Field(default="", max_length=40)
    npi: str | None = None
    specialties: list[Annotated[str, Field(max_length=80)]] = Field(default_factory=list, max_length=20)
    location_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    colour: Colour = "#4a6fa5"
    allow_overbooking: bool = False

    _npi = field_validator("npi")(classmethod(lambda cls, v: check_npi(v)))


class ProviderUpdate(PatchModel):
    nullable = frozenset({"npi"})

    first_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    last_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    credentials: str | None = Field(default=None, max_length=40)
    npi: str | None = None
    specialties: list[Annotated[str, Field(max_length=80)]] | None = None
    location_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=100)
    colour: Colour | None = None
    allow_overbooking: bool | None = None
    active: bool | None = None

    _npi = field_validator("npi")(classmethod(lambda cls, v: check_npi(v)))


class ProviderOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    first_name: str
    last_name: str
    credentials: str
    display_name: str
    npi: str | None
    specialties: list[str]
    colour: str
    allow_overbooking: bool
    active: bool
    location_ids: list[uuid.UUID] = []
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class ResourceIn(StrictModel):
    kind: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-zA-Z0-9_-]+$")] = "room"
    name: Annotated[str, Field(min_length=1, max_length=100)]


class ResourceOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    location_id: uuid.UUID
    kind: str
    name: str
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class VisitTypeIn(StrictModel):
    code: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    duration_minutes: Annotated[int, Field(ge=5, le=480)]
    colour: Colour = "#6c8ebf"
    buffer_before_minutes: Annotated[int, Field(ge=0, le=120)] = 0
    buffer_after_minutes: Annotated[int, Field(ge=0, le=120)] = 0
    required_resource_kinds: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list,
                                                                                max_length=5)
    patient_kind: Literal["any", "new", "established"] = "any"
    modality: Literal["in_person", "telehealth"] = "in_person"
    self_bookable: bool = False


class VisitTypeUpdate(PatchModel):
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    duration_minutes: Annotated[int, Field(ge=5, le=480)] | None = None
    colour: Colour | None = None
    buffer_before_minutes: Annotated[int, Field(ge=0, le=120)] | None = None
    buffer_after_minutes: Annotated[int, Field(ge=0, le=120)] | None = None
    required_resource_kinds: list[Annotated[str, Field(max_length=40)]] | None = None
    patient_kind: Literal["any", "new", "established"] | None = None
    modality: Literal["in_person", "telehealth"] | None = None
    self_bookable: bool | None = None
    active: bool | None = None


class VisitTypeOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    code: str
    name: str
    duration_minutes: int
    colour: str
    buffer_before_minutes: int
    buffer_after_minutes: int
    required_resource_kinds: list[str]
    patient_kind: str
    modality: str
    self_bookable: bool
    active: bool
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class HoursSpan(StrictModel):
    weekday: Annotated[int, Field(ge=0, le=6)]
    open_minute: Minute
    close_minute: Minute


class HoursIn(StrictModel):
    hours: list[HoursSpan] = Field(max_length=50)


class ClosureIn(StrictModel):
    day: Day
    reason: str = Field(default="", max_length=200)


class HolidaysIn(StrictModel):
    years: list[Annotated[int, Field(ge=2000, le=2100)]] = Field(min_length=1, max_length=5)
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "US"
    subdiv: str | None = Field(default=None, max_length=10)


class ClosureOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    day: date
    reason: str
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class BlockIn(StrictModel):
    weekday: Annotated[int, Field(ge=0, le=6)]
    start_minute: Minute
    end_minute: Minute
    visit_type_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class TemplateIn(StrictModel):
    provider_id: uuid.UUID
    location_id: uuid.UUID
    name: str = Field(default="", max_length=100)
    effective_from: Day
    effective_to: Day | None = None
    blocks: list[BlockIn] = Field(min_length=1, max_length=100)


class BlockOut(BaseModel):
    model_config = Out

    weekday: int
    start_minute: int
    end_minute: int
    visit_type_ids: list[str]


class TemplateOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    name: str
    effective_from: date
    effective_to: date | None
    blocks: list[BlockOut] = []
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class TemplateEnd(StrictModel):
    effective_to: Day


class ExceptionIn(StrictModel):
    provider_id: uuid.UUID
    location_id: uuid.UUID | None = None
    kind: Literal["time_off", "block"] = "time_off"
    starts_at: Instant
    ends_at: Instant
    reason: str = Field(default="", max_length=200)


class ExceptionOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID | None
    kind: str
    starts_at: datetime
    ends_at: datetime
    reason: str


class SlotOut(BaseModel):
    start_at: datetime
    end_at: datetime
    local_start: datetime
    provider_id: uuid.UUID
    location_id: uuid.UUID
    visit_type_id: uuid.UUID


class BookIn(StrictModel):
    patient_id: uuid.UUID
    visit_type_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    start_at: Instant
    overbook: bool = False
    reason_for_visit: str = Field(default="", max_length=200)


class SeriesIn(StrictModel):
    patient_id: uuid.UUID
    visit_type_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    first_start_at: Instant
    count: Annotated[int, Field(ge=2, le=52)]
    interval_weeks: Annotated[int, Field(ge=1, le=8)] = 1
    reason_for_visit: str = Field(default="", max_length=200)


class RescheduleIn(StrictModel):
    start_at: Instant
    provider_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    overbook: bool = False


class ChangeVisitTypeIn(StrictModel):
    visit_type_id: uuid.UUID = Field(description="The new visit type; the visit's length, buffers, rooms and "
                                                 "modality follow it")
    overbook: bool = Field(default=False, description="Book the longer visit over busy time, where the "
                                                      "organisation and the provider allow overbooking")
    expected_version: int | None = Field(default=None, ge=1, description="The appointment's `version` as the "
                                         "caller read it; 412 when it has changed since")


class CancelIn(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class RoomIn(StrictModel):
    room_id: uuid.UUID | None = None


class AppointmentOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    location_id: uuid.UUID
    provider_id: uuid.UUID
    patient_id: uuid.UUID
    visit_type_id: uuid.UUID
    series_id: uuid.UUID | None
    start_at: datetime
    end_at: datetime
    status: str
    overbooked: bool
    telehealth: bool
    source: str
    reason_for_visit: str
    cancel_reason: str | None
    confirmed_at: datetime | None
    checked_in_at: datetime | None
    roomed_at: datetime | None
    checked_out_at: datetime | None
    cancelled_at: datetime | None
    version: int


class DayRowOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    start_at: datetime
    end_at: datetime
    local_start: datetime
    provider_id: uuid.UUID
    location_id: uuid.UUID
    patient_id: uuid.UUID
    visit_type_id: uuid.UUID
    status: str
    overbooked: bool
    telehealth: bool
    room_ids: list[uuid.UUID]
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class WaitlistIn(StrictModel):
    patient_id: uuid.UUID
    visit_type_id: uuid.UUID
    provider_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    priority: Annotated[int, Field(ge=0, le=9)] = 0
    time_of_day: Literal["any", "morning", "afternoon", "evening"] = "any"
    earliest_date: Day | None = None
    latest_date: Day | None = None
    notes: str = Field(default="", max_length=500)


class WaitlistOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    patient_id: uuid.UUID
    visit_type_id: uuid.UUID
    provider_id: uuid.UUID | None
    location_id: uuid.UUID | None
    priority: int
    time_of_day: str
    earliest_date: date | None
    latest_date: date | None
    status: str
    notes: str
    created_at: datetime
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class OfferOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    entry_id: uuid.UUID
    location_id: uuid.UUID
    provider_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    status: str
    expires_at: datetime
    appointment_id: uuid.UUID | None
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class ReminderRuleIn(StrictModel):
    hours_before: Annotated[int, Field(ge=1, le=720)]
    channel: Literal["preferred", "sms", "email"] = "preferred"


class ReminderRuleOut(BaseModel):
    model_config = Out

    id: uuid.UUID
    hours_before: int
    channel: str
    active: bool
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class ReplyIn(StrictModel):
    body: Annotated[str, Field(min_length=1, max_length=160)]


class FeedUrlOut(BaseModel):
    url: str


# --- online booking ------------------------------------------------------------------------------


class OnlineBookingIn(StrictModel):
    visit_type_id: uuid.UUID
    provider_id: uuid.UUID
    start_at: Instant
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    last_name: Annotated[str, Field(min_length=1, max_length=100)]
    dob: Day
    channel: Literal["sms", "email"]
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=254)
    reason_for_visit: str = Field(default="", max_length=200)
    # The patient agrees to pre-visit forms and reminders at the address the code goes to (and so
    # is verified): without it a new patient gets neither, and the desk hands the forms over.
    contact_consent: bool = Field(default=False, description=(
        "The patient agrees to receive pre-visit forms and appointment reminders at the verified "
        "phone or email. An earlier opt-out (STOP) stays in force."))


class OnlineBookingStarted(BaseModel):
    verification_id: uuid.UUID
    expires_at: datetime
    sent_to: str


class OnlineVerifyIn(StrictModel):
    code: Annotated[str, Field(min_length=6, max_length=6, pattern=r"^\d{6}$")]
    # After a 409 (someone booked the time first) the same code books another offered time.
    start_at: Instant | None = Field(default=None, description=(
        "Book this time instead of the requested one (a time the slot search offers)."))
    provider_id: uuid.UUID | None = Field(default=None, description=(
        "With start_at: the provider of that time, when not the requested one."))


class OnlineBooked(BaseModel):
    appointment_id: uuid.UUID
    start_at: datetime
    local_start: datetime
    location_name: str
    provider_name: str
    intake_link_sent: bool
    contact_consent: bool

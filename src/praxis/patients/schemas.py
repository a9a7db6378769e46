"""Pydantic shapes at the edge of the patients domain (API, UI forms, intake, importer)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from praxis.patients import normalise as n
from praxis.platform.schemas import Day, PatchModel, StrictModel

Name = Annotated[str, Field(min_length=1, max_length=100)]
OptStr100 = Annotated[str, Field(max_length=100)]
Suffix = Annotated[str, Field(max_length=20)]
Str60 = Annotated[str, Field(max_length=60)]
Str200 = Annotated[str, Field(max_length=200)]
State = Annotated[str, Field(pattern=r"^([A-Z]{2})?$")]
PostalCode = Annotated[str, Field(pattern=r"^(\d{5}(-?\d{4})?)?$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Language = Annotated[str, Field(max_length=35)]
Sex = Literal["M", "F", "X", "U"]
Channel = Literal["sms", "email", "voice", "none"]
Relationship = Literal["18", "01", "19", "G8"]
FilingIndicator = Literal[
    "09",
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "AM",
    "BL",
    "CH",
    "CI",
    "DS",
    "FI",
    "HM",
    "LM",
    "MA",
    "MB",
    "MC",
    "OF",
    "TV",
    "VA",
    "WC",
    "ZZ",
]
PatientSort = Literal["name", "-name", "dob", "-dob", "mrn", "-mrn", "created_at", "-created_at", "updated_at"]


class Guarantor(StrictModel):
    relationship: Literal["self", "parent", "spouse", "guardian", "other"] = "self"
    name: str = Field(default="", max_length=200)
    phone: str | None = None
    address: str = Field(default="", max_length=400)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return n.parse_phone(v)


class _PatientChecks(StrictModel):
    """How typed demographic values are read, shared by PatientFields and PatientUpdate: phones
    to E.164, e-mail normalised, a real date of birth, SSN as nine digits."""

    @field_validator("phone_mobile", "phone_home", "phone_work", "emergency_phone", check_fields=False)
    @classmethod
    def _phones(cls, v: str | None) -> str | None:
        return n.parse_phone(v)

    @field_validator("email", check_fields=False)
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return n.parse_email(v)

    @field_validator("dob", mode="before", check_fields=False)
    @classmethod
    def _dob(cls, v: Any) -> date:
        parsed = n.parse_dob(v)
        if parsed is None:
            raise ValueError("date of birth is required")
        return parsed

    @field_validator("ssn", check_fields=False)
    @classmethod
    def _ssn(cls, v: str | None) -> str | None:
        return n.parse_ssn(v)


class PatientFields(_PatientChecks):
    """Every demographic field a person may type; shared by create and update."""

    first_name: Name
    middle_name: OptStr100 = ""
    last_name: Name
    suffix: Suffix = ""
    preferred_name: OptStr100 = ""
    dob: date
    sex: Sex = "U"
    gender_identity: Str60 = ""
    phone_mobile: str | None = None
    phone_home: str | None = None
    phone_work: str | None = None
    email: str | None = None
    address_line1: Str200 = ""
    address_line2: Str200 = ""
    city: OptStr100 = ""
    state: State = ""
    postal_code: PostalCode = ""
    country: Country = "US"
    language: Language = "en"
    preferred_location_id: uuid.UUID | None = None
    guarantor: Guarantor | None = None
    emergency_name: Str200 = ""
    emergency_relationship: Str60 = ""
    emergency_phone: str | None = None
    preferred_channel: Channel = "sms"
    consent_sms: bool = False
    consent_email: bool = False
    consent_voice: bool = False
    sms_opted_out: bool = False
    email_opted_out: bool = False
    voice_opted_out: bool = False
    ssn: str | None = None


class PatientCreate(PatientFields):
    confirm_duplicate: bool = False


class PatientUpdate(_PatientChecks, PatchModel):
    """Partial update: only the fields sent change. An explicit null clears the fields whose
    column may be empty (phones, e-mail, preferred location, guarantor); on any other field it is
    refused (422 naming the field) instead of reaching the database."""

    nullable: ClassVar[frozenset[str]] = frozenset(
        {"phone_mobile", "phone_home", "phone_work", "email", "emergency_phone", "preferred_location_id", "guarantor"}
    )

    first_name: Name | None = None
    middle_name: OptStr100 | None = None
    last_name: Name | None = None
    suffix: Suffix | None = None
    preferred_name: OptStr100 | None = None
    dob: date | None = None
    sex: Sex | None = None
    gender_identity: Str60 | None = None
    phone_mobile: str | None = None
    phone_home: str | None = None
    phone_work: str | None = None
    email: str | None = None
    address_line1: Str200 | None = None
    address_line2: Str200 | None = None
    city: OptStr100 | None = None
    state: State | None = None
    postal_code: PostalCode | None = None
    country: Country | None = None
    language: Language | None = None
    preferred_location_id: uuid.UUID | None = None
    guarantor: Guarantor | None = None
    emergency_name: Str200 | None = None
    emergency_relationship: Str60 | None = None
    emergency_phone: str | None = None
    preferred_channel: Channel | None = None
    consent_sms: bool | None = None
    consent_email: bool | None = None
    consent_voice: bool | None = None
    sms_opted_out: bool | None = None
    email_opted_out: bool | None = None
    voice_opted_out: bool | None = None
    ssn: str | None = None


class PatientSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mrn: str
    first_name: str
    last_name: str
    preferred_name: str
    dob: date
    sex: str
    phone_mobile: str | None
    status: str
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class PatientOut(PatientSummary):
    middle_name: str
    suffix: str
    gender_identity: str
    phone_home: str | None
    phone_work: str | None
    email: str | None
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    country: str
    language: str
    preferred_location_id: uuid.UUID | None
    guarantor: dict[str, Any] | None
    emergency_name: str
    emergency_relationship: str
    emergency_phone: str | None
    preferred_channel: str
    consent_sms: bool
    consent_email: bool
    consent_voice: bool
    sms_opted_out: bool
    email_opted_out: bool
    voice_opted_out: bool
    ssn_last4: str | None
    merged_into_id: uuid.UUID | None
    location_ids: list[uuid.UUID] = []
    created_at: datetime
    updated_at: datetime



class DuplicateCandidate(BaseModel):
    id: uuid.UUID
    mrn: str
    first_name: str
    last_name: str
    dob: date
    reasons: list[str]


class DuplicateCheck(BaseModel):
    candidates: list[DuplicateCandidate]
    hidden: int = 0  # candidates outside the caller's locations (never shown)


# --- payers and coverage ------------------------------------------------------------------------


class PayerIn(StrictModel):
    payer_code: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    address_line1: Str200 = ""
    address_line2: Str200 = ""
    city: OptStr100 = ""
    state: State = ""
    postal_code: PostalCode = ""
    claim_filing_indicator: FilingIndicator = "CI"


class PayerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    payer_code: str
    name: str
    address_line1: str
    city: str
    state: str
    postal_code: str
    claim_filing_indicator: str
    active: bool
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class CoverageIn(StrictModel):
    payer_id: uuid.UUID
    plan_name: Str200 = ""
    member_id: Annotated[str, Field(min_length=1, max_length=80)]
    group_number: Annotated[str, Field(max_length=80)] = ""
    relationship: Relationship = "18"
    subscriber_first_name: OptStr100 = ""
    subscriber_last_name: OptStr100 = ""
    subscriber_dob: Day | None = None
    subscriber_sex: Sex = "U"
    subscriber_address_line1: Str200 = ""
    subscriber_address_line2: Str200 = ""
    subscriber_city: OptStr100 = ""
    subscriber_state: State = ""
    subscriber_postal_code: PostalCode = ""
    priority: Literal[1, 2, 3] = 1
    effective_from: Day | None = None
    effective_to: Day | None = None


class CoverageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    payer_id: uuid.UUID
    plan_name: str
    member_id: str
    group_number: str
    relationship: str
    subscriber_first_name: str
    subscriber_last_name: str
    subscriber_dob: date | None
    subscriber_sex: str
    subscriber_address_line1: str
    subscriber_address_line2: str
    subscriber_city: str
    subscriber_state: str
    subscriber_postal_code: str
    priority: int
    effective_from: date | None
    effective_to: date | None
    active: bool
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    kind: str
    filename: str
    content_type: str
    size: int
    coverage_id: uuid.UUID | None
    source: str
    created_at: datetime
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class MergeIn(StrictModel):
    merged_id: uuid.UUID
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    moved: dict[str, Any]
    status: str
    merged_at: datetime
    unmerged_at: datetime | None
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class AlertAcknowledgeIn(StrictModel):
    note: Annotated[str, Field(max_length=500)] = ""

"""Pydantic shapes at the edge of the care-management domain."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Program = Literal["ccm", "pcm", "rpm"]
Role = Literal["staff", "practitioner"]
_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProblemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    icd10: str = Field(max_length=8, description="ICD-10-CM code, e.g. E11.9")
    description: str = Field(default="", max_length=200)
    onset_date: date | None = None
    expected_months: int = Field(default=12, ge=1, le=1200,
                                 description="How long the condition is expected to last (CCM needs 12+)")
    high_risk: bool = Field(default=False, description="High risk of hospitalisation, decline or death (PCM)")

    @field_validator("icd10")
    @classmethod
    def _code(cls, v: str) -> str:
        v = v.strip().upper()
        if not _ICD10.match(v):
            raise ValueError("not an ICD-10-CM code (letter, two characters, optional dot and up to 4 more)")
        return v


class ProblemOut(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    icd10: str
    description: str
    onset_date: date | None
    expected_months: int
    high_risk: bool
    resolved_on: date | None


class ConsentIn(BaseModel):
    """What the patient was told, all four required (care-management-rules.md, "Consent")."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["verbal", "written"]
    obtained_at: datetime
    obtained_by_name: str | None = Field(default=None, max_length=200,
                                         description="Who obtained it (default: the signed-in user)")
    told_availability: bool
    told_cost_sharing: bool
    told_stop_month_end: bool
    told_one_practitioner: bool
    note: str = Field(default="", max_length=2000)


class ConsentOut(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    method: str
    obtained_by_name: str
    obtained_at: datetime
    told_availability: bool
    told_cost_sharing: bool
    told_stop_month_end: bool
    told_one_practitioner: bool


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: uuid.UUID
    provider_id: uuid.UUID = Field(description="The billing practitioner (a scheduling provider)")
    location_id: uuid.UUID
    program: Program
    complex: bool = Field(default=False, description="Moderate or high medical decision making (complex CCM)")
    start_date: date | None = None
    initiating_visit_on: date = Field(description="Date of the E/M visit, AWV or IPPE that initiates the service")
    initiating_visit_kind: Literal["em", "awv", "ippe"]
    consent: ConsentIn | None = Field(default=None, description="Required unless the patient already consented "
                                      "with this billing practitioner")


class EnrolmentOut(_Out):
    id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    location_id: uuid.UUID
    program: str
    complex: bool
    consent_id: uuid.UUID
    start_date: date
    end_date: date | None
    initiating_visit_on: date
    initiating_visit_kind: str


class DisenrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)
    requested_on: date | None = Field(default=None, description="Takes effect at the end of this date's month")


class EligibilityOut(BaseModel):
    patient_id: uuid.UUID
    programs: list[Program]
    chronic_problems: int
    high_risk_problems: int
    enrolled: list[Program]

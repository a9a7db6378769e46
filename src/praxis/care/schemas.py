"""Pydantic shapes at the edge of the care-management domain."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from praxis.care.months import MONTH_PATTERN

Program = Literal["ccm", "pcm", "rpm"]
Role = Literal["staff", "practitioner"]
# Kept equal to timing.ACTIVITIES (a test checks it).
Activity = Literal["coordination", "care_plan", "care_plan_revision", "medication", "patient_call", "caregiver_call",
                   "referral", "device_review", "education", "other"]
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
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


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
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


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


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolved_on: date


class TimeEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activity: Activity
    started_at: datetime
    minutes: int = Field(ge=1, le=600)
    role: Role = "staff"
    note: str = Field(default="", max_length=4000)
    interactive: bool = Field(default=False, description="A real-time interactive communication with the patient")
    reason: str | None = Field(default=None, max_length=500, description="Required when the month is approved")


class TimeEntryEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int | None = Field(default=None, ge=1, le=600)
    note: str | None = Field(default=None, max_length=4000)
    activity: Activity | None = None
    interactive: bool | None = None
    voided: bool | None = None
    reason: str | None = Field(default=None, max_length=500, description="Required when the month is approved")


class TimeEntryOut(_Out):
    id: uuid.UUID
    enrolment_id: uuid.UUID
    patient_id: uuid.UUID
    program: str
    author_name: str
    role: str
    activity: str
    started_at: datetime
    minutes: int
    service_month: str
    note: str
    interactive: bool
    source: str
    voided: bool
    edited_after_billing: bool
    edit_reason: str
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class TimerStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activity: Activity
    role: Role = "staff"
    interactive: bool = False


class TimerStopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=4000)
    interactive: bool | None = None


class TimerOut(_Out):
    id: uuid.UUID
    enrolment_id: uuid.UUID
    patient_id: uuid.UUID
    activity: str
    role: str
    started_at: datetime
    running: bool
    elapsed_seconds: int
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reading_id: str = Field(min_length=1, max_length=120, description="The vendor's id: a resend is stored once")
    enrolment_id: uuid.UUID
    measured_at: datetime
    kind: str = Field(default="", max_length=40)
    value: dict[str, float | int | str] | None = None


class ReadingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    readings: list[ReadingIn] = Field(min_length=1, max_length=1000)


class ReadingsOut(BaseModel):
    accepted: int
    duplicates: int


class DayCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count_id: str = Field(min_length=1, max_length=120)
    period_start: date
    days: int = Field(ge=0, le=30)


class DayCountOut(_Out):
    id: uuid.UUID
    enrolment_id: uuid.UUID
    period_start: date
    days: int


class PreviewOut(BaseModel):
    enrolment_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    mrn: str
    provider_id: uuid.UUID
    location_id: uuid.UUID
    program: str
    codes: dict[str, int]
    lane: str | None
    minutes: dict[str, int]
    next_code: str | None
    minutes_to_next: int | None
    reasons: list[str]
    approved: bool
    days_left: int


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(pattern=MONTH_PATTERN, description="The finished month, YYYY-MM")
    location_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    enrolment_ids: list[uuid.UUID] | None = Field(default=None, max_length=5000)


class CareMonthOut(_Out):
    id: uuid.UUID
    enrolment_id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    month: str
    codes: dict[str, int]
    minutes: dict[str, int]
    approved_by_name: str
    approved_at: datetime
    charges_created: bool
    charge_encounter_id: uuid.UUID | None = Field(default=None, description="The billing encounter created")
    charge_problem: str = Field(default="", description="Why no charge was created (empty once created)")
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class SettingsIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool_practitioner_minutes: bool | None = Field(
        default=None, description="Count the practitioner's minutes as clinical-staff time when they do not "
        "reach the practitioner code (CMS CCM FAQ allows it)")
    rpm_setup_min_days: int | None = Field(default=None, ge=2, le=30)
    short_window_minutes: int | None = Field(default=None, ge=1, le=60)


# --- care plans ----------------------------------------------------------------------------------


class GoalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=500)
    measure: str = Field(default="", max_length=200, description="How progress is measured, e.g. HbA1c")
    target: str = Field(default="", max_length=200, description="The target value, e.g. below 7%")
    target_date: date | None = None


class InterventionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=500)
    responsible: str = Field(default="", max_length=200, description="The team member who carries it out")
    frequency: str = Field(default="", max_length=100)


class TeamMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: str = Field(default="", max_length=100, description="e.g. care coordinator, dietitian, pharmacist")
    contact: str = Field(default="", max_length=200)


class CarePlanIn(BaseModel):
    """A whole care plan: each save becomes a new immutable version."""

    model_config = ConfigDict(extra="forbid")

    problem_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50,
                                         description="Problems of the patient's problem list this plan addresses")
    goals: list[GoalIn] = Field(default_factory=list, max_length=50)
    interventions: list[InterventionIn] = Field(default_factory=list, max_length=100)
    team: list[TeamMemberIn] = Field(default_factory=list, max_length=30)
    summary: str = Field(default="", max_length=4000)
    review_on: date | None = Field(default=None, description="When the plan is next reviewed")
    substantial_revision: bool = Field(default=False, description="A substantial revision (complex CCM needs one "
                                       "in the month; the first version always counts as the establishment)")
    revision_reason: str = Field(default="", max_length=1000, description="Required for a substantial revision")
    based_on_version: int | None = Field(default=None, ge=0, description="The version this edit started from: "
                                         "409 if someone saved a newer one in between")


class CarePlanVersionOut(_Out):
    id: uuid.UUID
    enrolment_id: uuid.UUID
    patient_id: uuid.UUID
    version: int
    content: dict[str, object]
    review_on: date | None
    substantial_revision: bool
    revision_reason: str
    effective_on: date
    author_name: str
    created_at: datetime
class ReviewItemOut(BaseModel):
    enrolment_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    mrn: str
    program: str
    minutes: int
    codes: dict[str, int]
    next_code: str | None
    minutes_to_next: int | None = Field(description="Minutes still needed for the next code")
    reasons: list[str]
    days_left: int


class ReviewGroupOut(BaseModel):
    key: str = Field(description="The practitioner's id, or the coordinator's name")
    name: str
    minutes: int = Field(description="Minutes counted on these enrolments this month (a coordinator: their own)")
    reached: list[ReviewItemOut] = Field(description="Reached a code")
    close: list[ReviewItemOut] = Field(description="A few minutes short of the next code (fewest first)")
    miss: list[ReviewItemOut] = Field(description="Will not reach a code this month as things stand")
    errors: list[ReviewItemOut] = Field(description="An exclusion a person must resolve")


class MonthReviewOut(BaseModel):
    month: str
    short_window_minutes: int
    practitioners: list[ReviewGroupOut]
    coordinators: list[ReviewGroupOut]

"""Pydantic shapes at the billing edge (API bodies and answers)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from praxis.billing import codes

Str = Annotated[str, Field(max_length=200)]
State = Annotated[str, Field(pattern=r"^([A-Z]{2})?$")]
Zip = Annotated[str, Field(pattern=r"^(\d{5}(\d{4})?)?$")]
Transaction = Literal["claims", "eligibility", "remittance"]
CodeSystem = Literal["ICD10CM", "CPT", "HCPCS"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BillingProfileIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    npi: Annotated[str, Field(pattern=r"^\d{10}$")]
    tax_id: Annotated[str, Field(pattern=r"^\d{2}-?\d{7}$|^\d{3}-?\d{2}-?\d{4}$")]
    tax_id_type: Literal["EIN", "SSN"] = "EIN"
    taxonomy_code: Annotated[str, Field(pattern=r"^([0-9]{3}[0-9A-Z]{6}X)?$")] = ""
    address_line1: Annotated[str, Field(min_length=1, max_length=55)]
    address_line2: Annotated[str, Field(max_length=55)] = ""
    city: Annotated[str, Field(min_length=1, max_length=30)]
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    postal_code: Annotated[str, Field(pattern=r"^\d{5}(\d{4})?$")]
    phone: Annotated[str, Field(max_length=20)] = ""
    pay_to_line1: Annotated[str, Field(max_length=55)] = ""
    pay_to_line2: Annotated[str, Field(max_length=55)] = ""
    pay_to_city: Annotated[str, Field(max_length=30)] = ""
    pay_to_state: State = ""
    pay_to_postal_code: Zip = ""
    clearinghouse_id: uuid.UUID | None = None

    @field_validator("npi")
    @classmethod
    def _npi(cls, v: str) -> str:
        if not codes.npi_ok(v):
            raise ValueError("not a valid NPI (check digit)")
        return v

    @field_validator("tax_id")
    @classmethod
    def _tax_id(cls, v: str) -> str:
        return codes.normalise_tax_id(v)

    @model_validator(mode="after")
    def _checks(self) -> BillingProfileIn:
        if not codes.tax_id_ok(self.tax_id, self.tax_id_type):
            raise ValueError(f"tax_id: not a valid {self.tax_id_type}")
        if self.pay_to_line1 and not (self.pay_to_city and self.pay_to_state and self.pay_to_postal_code):
            raise ValueError("pay_to_city: a pay-to address needs city, state and ZIP code")
        return self


class BillingProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    location_id: uuid.UUID
    name: str
    npi: str
    tax_id: str
    tax_id_type: str
    taxonomy_code: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str
    pay_to_line1: str
    pay_to_line2: str
    pay_to_city: str
    pay_to_state: str
    pay_to_postal_code: str
    clearinghouse_id: uuid.UUID | None


class ProviderTaxonomyIn(StrictModel):
    taxonomy_code: Annotated[str, Field(pattern=r"^[0-9]{3}[0-9A-Z]{6}X$")]


class PayerEdiIdIn(StrictModel):
    transaction: Transaction
    edi_id: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9]+$")]
    clearinghouse_id: uuid.UUID | None = None


class PayerEdiIdOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    payer_id: uuid.UUID
    transaction: str
    edi_id: str
    clearinghouse_id: uuid.UUID | None
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class ConnectionIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["folder"] = "folder"
    outbound_dir: Annotated[str, Field(max_length=500)] = ""
    inbound_dir: Annotated[str, Field(max_length=500)] = ""
    sender_qualifier: Annotated[str, Field(pattern=r"^(ZZ|01|14|20|27|28|29|30|33)$")] = "ZZ"
    sender_id: Annotated[str, Field(min_length=1, max_length=15, pattern=r"^[A-Za-z0-9 ]+$")]
    receiver_qualifier: Annotated[str, Field(pattern=r"^(ZZ|01|14|20|27|28|29|30|33)$")] = "ZZ"
    receiver_id: Annotated[str, Field(min_length=1, max_length=15, pattern=r"^[A-Za-z0-9 ]+$")]
    submitter_name: Annotated[str, Field(max_length=60)] = ""
    submitter_contact: Annotated[str, Field(max_length=60)] = ""
    submitter_phone: Annotated[str, Field(max_length=20, pattern=r"^\d*$")] = ""
    usage: Literal["T", "P"] = "T"
    is_default: bool = False


class ConnectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    outbound_dir: str
    inbound_dir: str
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    submitter_name: str
    usage: str
    is_default: bool
    active: bool
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class CodeImportOut(BaseModel):
    system: str
    rows: int
    added: int
    updated: int
    errors: list[dict[str, Any]]
    applied: bool


class FeeItemIn(StrictModel):
    code: Annotated[str, Field(min_length=5, max_length=5)]
    modifier: Annotated[str, Field(pattern=r"^([0-9A-Z]{2})?$")] = ""
    charge_cents: Annotated[int, Field(ge=0, le=100_000_000)]
    allowed_cents: Annotated[int | None, Field(ge=0, le=100_000_000)] = None

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = v.upper()
        if not codes.procedure_format_ok(v):
            raise ValueError("not a CPT/HCPCS code")
        return v


class FeeScheduleIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    location_id: uuid.UUID | None = None
    payer_id: uuid.UUID | None = None
    effective_from: date
    effective_to: date | None = None
    items: Annotated[list[FeeItemIn], Field(max_length=20000)] = []

    @model_validator(mode="after")
    def _dates(self) -> FeeScheduleIn:
        if self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("effective_to: before effective_from")
        return self


class FeeItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    modifier: str
    charge_cents: int
    allowed_cents: int | None


class FeeScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    location_id: uuid.UUID | None
    payer_id: uuid.UUID | None
    effective_from: date
    effective_to: date | None
    items: list[FeeItemOut] = []
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class ProcedureIn(StrictModel):
    code: Annotated[str, Field(min_length=5, max_length=5)]
    modifiers: Annotated[list[str], Field(max_length=4)] = []
    units: Annotated[int, Field(ge=1, le=999)] = 1

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = v.upper()
        if not codes.procedure_format_ok(v):
            raise ValueError("not a CPT/HCPCS code")
        return v

    @field_validator("modifiers")
    @classmethod
    def _mods(cls, v: list[str]) -> list[str]:
        out = [m.strip().upper() for m in v if m.strip()]
        for m in out:
            if not codes.modifier_format_ok(m):
                raise ValueError(f"modifier {m!r} is not two letters or digits")
        return out


class RuleSetIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    payer_id: uuid.UUID | None = None
    rules: Annotated[list[dict[str, Any]], Field(max_length=100)]


class RuleSetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    payer_id: uuid.UUID | None
    rules: list[dict[str, Any]]
    active: bool
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class CleanRateOut(BaseModel):
    rule_set_id: uuid.UUID | None
    name: str
    runs: int
    clean: int
    rate: float | None
    first_pass_runs: int
    first_pass_clean: int


# --- encounters --------------------------------------------------------------------------------


def diagnosis_list(v: list[str]) -> list[str]:
    """ICD-10-CM codes without dots, each well formed, none twice."""
    out = [codes.normalise_icd10(d) for d in v if d.strip()]
    for d in out:
        if not codes.icd10_format_ok(d):
            raise ValueError(f"{d!r} is not an ICD-10-CM code")
    if len(set(out)) != len(out):
        raise ValueError("a diagnosis is listed twice")
    return out


def place_of_service(v: str | None) -> str | None:
    if v is not None and v not in codes.PLACES_OF_SERVICE:
        raise ValueError(f"{v!r} is not a CMS place of service")
    return v


class LineIn(StrictModel):
    code: Annotated[str, Field(min_length=5, max_length=5)]
    modifiers: Annotated[list[str], Field(max_length=4)] = []
    units: Annotated[int, Field(ge=1, le=999)] = 1
    charge_cents: Annotated[int | None, Field(ge=0, le=100_000_000)] = None  # None: from the fee schedule
    dx_pointers: Annotated[list[int], Field(min_length=1, max_length=4)] = [1]
    service_date: date | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = v.upper()
        if not codes.procedure_format_ok(v):
            raise ValueError("not a CPT/HCPCS code")
        return v

    @field_validator("modifiers")
    @classmethod
    def _mods(cls, v: list[str]) -> list[str]:
        out = [m.strip().upper() for m in v if m.strip()]
        for m in out:
            if not codes.modifier_format_ok(m):
                raise ValueError(f"modifier {m!r} is not two letters or digits")
        return out

    @field_validator("dx_pointers")
    @classmethod
    def _pointers(cls, v: list[int]) -> list[int]:
        if any(p < 1 or p > 12 for p in v):
            raise ValueError("diagnosis pointers are 1 to 12")
        if len(set(v)) != len(v):
            raise ValueError("a diagnosis pointer is repeated")
        return v


class EncounterIn(StrictModel):
    patient_id: uuid.UUID
    location_id: uuid.UUID
    date_of_service: date
    rendering_provider_id: uuid.UUID | None = None
    referring_npi: Annotated[str, Field(pattern=r"^(\d{10})?$")] = ""
    referring_first_name: Annotated[str, Field(max_length=35)] = ""
    referring_last_name: Annotated[str, Field(max_length=60)] = ""
    place_of_service: Annotated[str, Field(pattern=r"^\d{2}$")] | None = None
    diagnoses: Annotated[list[str], Field(max_length=12)] = []
    prior_auth: Annotated[str, Field(max_length=50)] = ""
    notes: Annotated[str, Field(max_length=1000)] = ""
    lines: Annotated[list[LineIn], Field(max_length=50)] = []

    @field_validator("diagnoses")
    @classmethod
    def _dx(cls, v: list[str]) -> list[str]:
        return diagnosis_list(v)

    @field_validator("place_of_service")
    @classmethod
    def _pos(cls, v: str | None) -> str | None:
        return place_of_service(v)


class EhrChargeIn(EncounterIn):
    """Charges from an EHR: idempotent by (`source`, `encounter_id`); a resend replaces the
    encounter's charges while no claim has been built from it."""

    source: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")]
    encounter_id: Annotated[str, Field(min_length=1, max_length=80)]


class EncounterUpdate(StrictModel):
    rendering_provider_id: uuid.UUID | None = None
    referring_npi: Annotated[str, Field(pattern=r"^(\d{10})?$")] = ""
    referring_first_name: Annotated[str, Field(max_length=35)] = ""
    referring_last_name: Annotated[str, Field(max_length=60)] = ""
    place_of_service: Annotated[str, Field(pattern=r"^\d{2}$")] = "11"
    diagnoses: Annotated[list[str], Field(max_length=12)] = []
    prior_auth: Annotated[str, Field(max_length=50)] = ""
    notes: Annotated[str, Field(max_length=1000)] = ""
    lines: Annotated[list[LineIn], Field(max_length=50)] = []

    @field_validator("diagnoses")
    @classmethod
    def _dx(cls, v: list[str]) -> list[str]:
        return diagnosis_list(v)

    @field_validator("place_of_service")
    @classmethod
    def _pos(cls, v: str) -> str:
        return place_of_service(v) or "11"


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line_no: int
    code: str
    modifiers: list[str]
    units: int
    charge_cents: int
    dx_pointers: list[int]
    service_date: date | None


class EncounterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    location_id: uuid.UUID
    appointment_id: uuid.UUID | None
    external_source: str | None
    external_id: str | None
    date_of_service: date
    rendering_provider_id: uuid.UUID | None
    referring_npi: str
    referring_first_name: str
    referring_last_name: str
    place_of_service: str
    diagnoses: list[str]
    prior_auth: str
    status: str
    notes: str
    lines: list[LineOut] = []
    total_charge_cents: int = 0
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


# --- claims --------------------------------------------------------------------------------------


class Finding(BaseModel):
    rule: str
    field: str
    message: str
    fix: str
    target: str = "claim"
    severity: str = "error"


class ClaimLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line_no: int
    line_control_number: str
    code: str
    modifiers: list[str]
    units: int
    charge_cents: int
    dx_pointers: list[int]
    service_date: date
    paid_cents: int | None


class ClaimEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event: str
    from_status: str
    to_status: str
    note: str
    detail: dict[str, Any] | None
    edi_file_id: uuid.UUID | None
    actor_name: str
    at: datetime


class ClaimOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    claim_number: str
    encounter_id: uuid.UUID
    patient_id: uuid.UUID
    location_id: uuid.UUID
    coverage_id: uuid.UUID
    payer_id: uuid.UUID
    responsibility: str
    status: str
    frequency: str
    original_claim_id: uuid.UUID | None
    payer_claim_number: str
    date_of_service: date
    place_of_service: str
    diagnoses: list[str]
    prior_auth: str
    total_charge_cents: int
    paid_cents: int | None
    findings: list[Finding]
    batch_id: uuid.UUID | None
    submitted_at: datetime | None
    lines: list[ClaimLineOut] = []
    events: list[ClaimEventOut] = []


class ClaimSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    claim_number: str
    encounter_id: uuid.UUID
    patient_id: uuid.UUID
    payer_id: uuid.UUID
    location_id: uuid.UUID
    responsibility: str
    status: str
    frequency: str
    date_of_service: date
    total_charge_cents: int
    findings: list[Finding]
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class AdjudicationIn(StrictModel):
    """A payer's decision entered by hand (until 835 posting): paid or denied, with amounts."""

    outcome: Literal["paid", "denied"]
    paid_cents: Annotated[int, Field(ge=0, le=100_000_000)] = 0
    patient_responsibility_cents: Annotated[int, Field(ge=0, le=100_000_000)] = 0
    adjudicated_on: date
    payer_claim_number: Annotated[str, Field(max_length=50)] = ""


class CorrectIn(StrictModel):
    payer_claim_number: Annotated[str, Field(max_length=50)] = ""
    note: Annotated[str, Field(min_length=1, max_length=500)]


class SubmitIn(StrictModel):
    payer_code: Annotated[str, Field(max_length=20)] | None = None


class BatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    connection_id: uuid.UUID
    status: str
    interchange_control_number: str
    group_control_number: str
    claim_count: int
    total_charge_cents: int
    file_name: str
    edi_file_id: uuid.UUID | None
    ack_note: str
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class EdiFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    direction: str
    kind: str
    sha256: str
    file_name: str
    size: int
    status: str
    error: str
    summary: dict[str, Any] | None
    received_at: datetime
    processed_at: datetime | None
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class EdiIngestIn(StrictModel):
    content: Annotated[str, Field(min_length=1, max_length=20_000_000)]
    file_name: Annotated[str, Field(max_length=200)] = ""


class EdiIngestOut(BaseModel):
    file: EdiFileOut
    duplicate: bool

"""JSON API of the billing domain under /api/v1/billing: set-up, charges (also from EHRs),
claims and their status changes, submission, inbound EDI files."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, Query, Response
from pydantic import BaseModel, Field

from praxis.billing import charges, claims, codes, edi, reference, rules, submission
from praxis.billing.permissions import BILLING_CHARGE, BILLING_MANAGE, BILLING_READ, BILLING_SUBMIT
from praxis.billing.schemas import (
    AdjudicationIn,
    BatchOut,
    BillingProfileIn,
    BillingProfileOut,
    ClaimOut,
    ClaimSummary,
    CleanRateOut,
    CodeImportOut,
    ConnectionIn,
    ConnectionOut,
    CorrectIn,
    EdiFileOut,
    EdiIngestIn,
    EdiIngestOut,
    EhrChargeIn,
    EncounterIn,
    EncounterOut,
    EncounterUpdate,
    FeeScheduleIn,
    FeeScheduleOut,
    PayerEdiIdIn,
    PayerEdiIdOut,
    ProcedureIn,
    ProviderTaxonomyIn,
    RuleSetIn,
    RuleSetOut,
    StrictModel,
    SubmitIn,
)
from praxis.platform.context import Context
from praxis.web.deps import permission
from praxis.web.paging import PAGED, Pager, paged
from praxis.web.routes import Router

router = Router(prefix="/api/v1/billing", tags=["billing"])


# --- set-up ----------------------------------------------------------------------------------------


@router.put("/locations/{location_id}/profile", response_model=BillingProfileOut)
def set_billing_profile(location_id: uuid.UUID, data: BillingProfileIn,
                        ctx: Context = Depends(permission(BILLING_MANAGE))) -> BillingProfileOut:
    """Set a location's billing provider identity (NPI, tax id, taxonomy, addresses)."""
    return reference.set_billing_profile(ctx, location_id, data)


@router.get("/locations/{location_id}/profile", response_model=BillingProfileOut)
def get_billing_profile(location_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_READ))
                        ) -> BillingProfileOut:
    return reference.get_billing_profile(ctx, location_id)


@router.put("/providers/{provider_id}/taxonomy", status_code=204)
def set_taxonomy(provider_id: uuid.UUID, data: ProviderTaxonomyIn,
                 ctx: Context = Depends(permission(BILLING_MANAGE))) -> Response:
    reference.set_provider_taxonomy(ctx, provider_id, data.taxonomy_code)
    return Response(status_code=204)


@router.put("/payers/{payer_id}/edi-ids", response_model=PayerEdiIdOut)
def set_payer_edi_id(payer_id: uuid.UUID, data: PayerEdiIdIn,
                     ctx: Context = Depends(permission(BILLING_MANAGE))) -> PayerEdiIdOut:
    """Set a payer's EDI id for one transaction (claims, eligibility, remittance), per clearinghouse."""
    return reference.set_payer_edi_id(ctx, payer_id, data)


@router.get("/payers/{payer_id}/edi-ids", response_model=list[PayerEdiIdOut])
def list_payer_edi_ids(payer_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_READ)),
                       page: Pager = PAGED) -> list[PayerEdiIdOut]:
    return page.of(reference.list_payer_edi_ids(ctx, payer_id))


@router.get("/connections", response_model=list[ConnectionOut])
def list_connections(ctx: Context = Depends(permission(BILLING_READ)), page: Pager = PAGED) -> list[ConnectionOut]:
    return page.of(reference.list_connections(ctx))


@router.post("/connections", response_model=ConnectionOut, status_code=201)
def create_connection(data: ConnectionIn, ctx: Context = Depends(permission(BILLING_MANAGE))) -> ConnectionOut:
    return reference.create_connection(ctx, data)


class CodeImportIn(StrictModel):
    system: Literal["ICD10CM", "CPT", "HCPCS"]
    content: Annotated[str, Field(min_length=1, max_length=20_000_000)]
    apply: bool = False


@router.post("/code-sets/import", response_model=CodeImportOut)
def import_codes(data: CodeImportIn, ctx: Context = Depends(permission(BILLING_MANAGE))) -> CodeImportOut:
    """Load the organisation's code list (CSV `code,description`); a dry run unless `apply`."""
    return reference.import_codes(ctx, data.system, data.content, apply=data.apply)


class CodeOut(BaseModel):
    code: str
    description: str


def _code_key(c: CodeOut) -> tuple[object, ...]:
    return (c.code,)


@router.get("/code-sets/places-of-service", response_model=list[CodeOut])
def places_of_service(ctx: Context = Depends(permission(BILLING_CHARGE)), page: Pager = PAGED) -> list[CodeOut]:
    """The CMS place-of-service code set (public data shipped with Praxis)."""
    return page.of([CodeOut(code=c, description=d) for c, d in codes.PLACES_OF_SERVICE.items()],
                   key=_code_key, updated=None)


@router.get("/code-sets/modifiers", response_model=list[CodeOut])
def modifiers(ctx: Context = Depends(permission(BILLING_CHARGE)), page: Pager = PAGED) -> list[CodeOut]:
    """Common CPT/HCPCS modifiers (public CMS descriptions shipped with Praxis)."""
    return page.of([CodeOut(code=c, description=d) for c, d in codes.MODIFIERS.items()], key=_code_key,
                   updated=None)


@router.get("/code-sets/{system}", response_model=list[CodeOut])
def search_codes(system: Literal["ICD10CM", "CPT", "HCPCS"], q: Annotated[str, Query(min_length=1, max_length=60)],
                 limit: Annotated[int, Query(ge=1, le=100)] = 20,
                 ctx: Context = Depends(permission(BILLING_CHARGE)), page: Pager = PAGED) -> list[CodeOut]:
    """Search the organisation's loaded list by code prefix or words of the description."""
    return page.of([CodeOut(code=c, description=d) for c, d in reference.search_codes(ctx, system, q, limit=limit)],
                   key=_code_key, updated=None)


@router.get("/fee-schedules", response_model=list[FeeScheduleOut])
def list_fee_schedules(ctx: Context = Depends(permission(BILLING_READ)), page: Pager = PAGED) -> list[FeeScheduleOut]:
    return page.of(reference.list_fee_schedules(ctx))


@router.post("/fee-schedules", response_model=FeeScheduleOut, status_code=201)
def create_fee_schedule(data: FeeScheduleIn, ctx: Context = Depends(permission(BILLING_MANAGE))) -> FeeScheduleOut:
    return reference.create_fee_schedule(ctx, data)


@router.get("/fee-schedules/{fee_schedule_id}", response_model=FeeScheduleOut)
def get_fee_schedule(fee_schedule_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_READ))) -> FeeScheduleOut:
    return reference.get_fee_schedule(ctx, fee_schedule_id)


@router.put("/visit-types/{visit_type_id}/procedures", response_model=list[ProcedureIn])
def set_visit_type_procedures(visit_type_id: uuid.UUID, items: list[ProcedureIn],
                              ctx: Context = Depends(permission(BILLING_MANAGE))) -> list[ProcedureIn]:
    return reference.set_visit_type_procedures(ctx, visit_type_id, items)


@router.get("/rule-sets", response_model=list[RuleSetOut])
def list_rule_sets(ctx: Context = Depends(permission(BILLING_READ)), page: Pager = PAGED) -> list[RuleSetOut]:
    return page.of(rules.list_rule_sets(ctx))


@router.put("/rule-sets", response_model=RuleSetOut)
def save_rule_set(data: RuleSetIn, ctx: Context = Depends(permission(BILLING_MANAGE))) -> RuleSetOut:
    """Create or replace the organisation's (payer_id null) or a payer's scrubber rule set."""
    return rules.save_rule_set(ctx, data)


@router.get("/clean-claim-rates", response_model=list[CleanRateOut])
def clean_claim_rates(ctx: Context = Depends(permission(BILLING_READ)), page: Pager = PAGED) -> list[CleanRateOut]:
    return page.of(claims.clean_claim_rates(ctx), key=lambda r: (r.name, str(r.rule_set_id)), updated=None)


# --- charges -----------------------------------------------------------------------------------------


@router.post("/encounters", response_model=EncounterOut, status_code=201)
def create_encounter(data: EncounterIn, ctx: Context = Depends(permission(BILLING_CHARGE))) -> EncounterOut:
    """Charges for a visit without an appointment; a line without `charge_cents` takes the fee schedule's."""
    return charges.create_encounter(ctx, data)


@router.post("/charges", response_model=EncounterOut)
def record_ehr_charges(data: EhrChargeIn, response: Response,
                       ctx: Context = Depends(permission(BILLING_CHARGE))) -> EncounterOut:
    """Charges from an EHR, idempotent by (`source`, `encounter_id`): 201 when created, 200 when
    the same EHR encounter was recorded before (its charges replaced while no claim is with a payer)."""
    out, created = charges.record_ehr_charges(ctx, data)
    response.status_code = 201 if created else 200
    return out


@router.get("/encounters", response_model=list[EncounterOut])
def list_encounters(location_id: uuid.UUID | None = None, patient_id: uuid.UUID | None = None,
                    status: Literal["open", "billed", "void"] | None = None,
                    ctx: Context = Depends(permission(BILLING_CHARGE)),
                    page: Pager = Depends(paged(100, 500))) -> list[EncounterOut]:
    rows = charges.list_encounters(ctx, location_id=location_id, patient_id=patient_id, status=status,
                                   limit=page.limit + 1, after=page.after, updated_since=page.updated_since)
    return page.sql(rows, key=lambda e: (e.date_of_service, e.id))


@router.get("/encounters/{encounter_id}", response_model=EncounterOut)
def get_encounter(encounter_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_CHARGE))) -> EncounterOut:
    return charges.get_encounter(ctx, encounter_id)


@router.put("/encounters/{encounter_id}", response_model=EncounterOut)
def update_encounter(encounter_id: uuid.UUID, data: EncounterUpdate,
                     ctx: Context = Depends(permission(BILLING_CHARGE))) -> EncounterOut:
    """Replace an encounter's diagnoses, providers and lines; its unsent claims are rebuilt and scrubbed."""
    return charges.update_encounter(ctx, encounter_id, data)


@router.post("/appointments/{appointment_id}/encounter", response_model=EncounterOut)
def encounter_for_appointment(appointment_id: uuid.UUID,
                              ctx: Context = Depends(permission(BILLING_CHARGE))) -> EncounterOut:
    """The appointment's encounter (created from its visit type's default procedures when missing)."""
    return charges.encounter_for_appointment(ctx, appointment_id)


# --- claims ------------------------------------------------------------------------------------------


@router.post("/encounters/{encounter_id}/claims", response_model=list[ClaimOut], status_code=201)
def build_claims(encounter_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_SUBMIT))) -> list[ClaimOut]:
    """Build (and scrub) the encounter's primary claim."""
    return claims.build_claims(ctx, encounter_id)


@router.get("/claims", response_model=list[ClaimSummary])
def list_claims(status: str | None = Query(None, max_length=10), location_id: uuid.UUID | None = None,
                payer_id: uuid.UUID | None = None, with_findings: bool = False,
                ctx: Context = Depends(permission(BILLING_READ)),
                page: Pager = Depends(paged(200, 1000))) -> list[ClaimSummary]:
    rows = claims.list_claims(ctx, status=status, location_id=location_id, payer_id=payer_id,
                              with_findings=with_findings, limit=page.limit + 1, after=page.after,
                              updated_since=page.updated_since)
    return page.sql(rows, key=lambda c: (c.date_of_service, c.claim_number, c.id))


@router.get("/claims/{claim_id}", response_model=ClaimOut)
def get_claim(claim_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_READ))) -> ClaimOut:
    return claims.get_claim(ctx, claim_id)


@router.get("/claims/{claim_id}/cms1500", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def claim_cms1500(claim_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_READ))) -> Response:
    """The claim as a CMS-1500 (02/12) PDF, for payers that take paper."""
    name, data = submission.claim_pdf(ctx, claim_id)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.post("/claims/{claim_id}/scrub", response_model=ClaimOut)
def scrub_claim(claim_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_SUBMIT))) -> ClaimOut:
    return claims.scrub_claim(ctx, claim_id)


@router.post("/claims/{claim_id}/adjudication", response_model=list[ClaimOut])
def record_adjudication(claim_id: uuid.UUID, data: AdjudicationIn,
                        ctx: Context = Depends(permission(BILLING_SUBMIT))) -> list[ClaimOut]:
    """Record the payer's decision by hand; the next coverage's claim is built when there is one."""
    return claims.record_adjudication(ctx, claim_id, data)


@router.post("/claims/{claim_id}/correct", response_model=ClaimOut, status_code=201)
def correct_claim(claim_id: uuid.UUID, data: CorrectIn, ctx: Context = Depends(permission(BILLING_SUBMIT))
                  ) -> ClaimOut:
    """Replace a claim the payer has (frequency 7); answers the replacement claim."""
    return claims.correct_claim(ctx, claim_id, data)


class VoidIn(StrictModel):
    note: Annotated[str, Field(min_length=1, max_length=500)]
    payer_claim_number: Annotated[str, Field(max_length=50)] = ""


@router.post("/claims/{claim_id}/void", response_model=ClaimOut)
def void_claim(claim_id: uuid.UUID, data: VoidIn, ctx: Context = Depends(permission(BILLING_SUBMIT))) -> ClaimOut:
    """Void a claim; one the payer has is voided by a frequency-8 claim (answered)."""
    return claims.void_claim(ctx, claim_id, data.note, data.payer_claim_number)


# --- files -------------------------------------------------------------------------------------------


class SubmitOut(BaseModel):
    batches: list[BatchOut]
    refused: list[dict[str, str]]
    delivery_errors: list[str]


@router.post("/submissions", response_model=SubmitOut)
def submit(data: SubmitIn, ctx: Context = Depends(permission(BILLING_SUBMIT))) -> SubmitOut:
    """Batch every ready claim (optionally one payer's) per clearinghouse connection and send."""
    r = submission.submit_ready(ctx, payer_code=data.payer_code)
    return SubmitOut(batches=r.batches, refused=[{"claim_number": n, "reason": why} for n, why in r.refused],
                     delivery_errors=r.delivery_errors)


@router.get("/batches", response_model=list[BatchOut])
def list_batches(ctx: Context = Depends(permission(BILLING_READ)), page: Pager = PAGED) -> list[BatchOut]:
    return page.of(submission.list_batches(ctx))


@router.post("/edi-files", response_model=EdiIngestOut)
def ingest_file(data: EdiIngestIn, response: Response,
                ctx: Context = Depends(permission(BILLING_SUBMIT))) -> EdiIngestOut:
    """Store an inbound X12 file (999, 277CA, TA1) and process it once: 201 first, 200 for a resend."""
    f, dup = edi.ingest(ctx, data.content, data.file_name)
    response.status_code = 200 if dup else 201
    return EdiIngestOut(file=f, duplicate=dup)


@router.get("/edi-files", response_model=list[EdiFileOut])
def list_files(direction: Literal["in", "out"] | None = None,
               ctx: Context = Depends(permission(BILLING_READ)), page: Pager = PAGED) -> list[EdiFileOut]:
    return page.of(edi.list_files(ctx, direction=direction))


@router.get("/edi-files/{file_id}/raw")
def raw_file(file_id: uuid.UUID, ctx: Context = Depends(permission(BILLING_READ))) -> Response:
    """The stored file as it was sent or received."""
    _, content = edi.get_file(ctx, file_id)
    return Response(content, media_type="text/plain; charset=latin-1")

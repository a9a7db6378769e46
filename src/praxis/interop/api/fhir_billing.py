"""FHIR Encounter and Claim over billing's encounters and claims (read and search).

ExplanationOfBenefit is not offered: billing records a payer's decision by hand (claim-level
paid amount, adjudication date) but keeps no remittance (no 835 posting, no payments), so an EOB
would be mostly invented (docs/decisions.md 39).
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import Response

from praxis.billing import records
from praxis.formats.fhir import build
from praxis.interop import fhir_search
from praxis.interop.api.fhir import Params, fhir_response, parse_id, router, scope, searchset
from praxis.platform.context import Context


@router.get("/Encounter/{encounter_id}")
def read_encounter(encounter_id: str, ctx: Context = Depends(scope("Encounter", "read"))) -> Response:
    return fhir_response(build.encounter(records.get_encounter_record(ctx, parse_id(encounter_id, "encounter"))))


@router.get("/Encounter")
def search_encounter(request: Request, ctx: Context = Depends(scope("Encounter", "read"))) -> Response:
    """Encounters: patient (or subject), date (of service; eq/ge/gt/le/lt), status (FHIR codes,
    comma-separated), location. Newest first."""
    p = Params(request, "Encounter")
    q = fhir_search.encounter_query(p)
    rows = records.find_encounters(ctx, **q.criteria(), limit=p.count + 1, offset=p.offset)
    return searchset(request, p, rows, build.encounter)


@router.get("/Claim/{claim_id}")
def read_claim(claim_id: str, ctx: Context = Depends(scope("Claim", "read"))) -> Response:
    rec = records.get_claim_record(ctx, parse_id(claim_id, "claim"))
    return fhir_response(build.claim(rec.claim, rec.lines, ctx.org_id))


@router.get("/Claim")
def search_claim(request: Request, ctx: Context = Depends(scope("Claim", "read"))) -> Response:
    """Claims: patient, created (eq/ge/gt/le/lt), status (FHIR codes, comma-separated), use (claim
    only: we make no preauthorizations or predeterminations). Newest first."""
    p = Params(request, "Claim")
    q = fhir_search.claim_query(p)
    rows = [] if q.none else records.find_claims(ctx, **q.criteria(), limit=p.count + 1, offset=p.offset)
    return searchset(request, p, rows, lambda r: build.claim(r.claim, r.lines, ctx.org_id))

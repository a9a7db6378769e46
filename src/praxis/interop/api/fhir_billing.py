"""FHIR Encounter and Claim over billing's encounters and claims (read and search).

ExplanationOfBenefit is not offered: billing records a payer's decision by hand (claim-level
paid amount, adjudication date) but keeps no remittance (no 835 posting, no payments), so an EOB
would be mostly invented (docs/decisions.md 39).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from fastapi import Depends, Request
from fastapi.responses import Response

from praxis.billing import records
from praxis.formats.fhir import build
from praxis.interop.api.fhir import SEARCH, Params, fhir_response, parse_id, router, scope, searchset
from praxis.platform.context import Context
from praxis.platform.errors import ValidationProblem

SEARCH.update({
    "Encounter": {"patient": "reference", "subject": "reference", "date": "date", "status": "token",
                  "location": "reference"},
    "Claim": {"patient": "reference", "created": "date", "status": "token", "use": "token"},
})


def _statuses(p: Params, mapping: dict[str, tuple[str, ...]]) -> list[str] | None:
    raw = p.get("status")
    if raw is None:
        return None
    out: list[str] = []
    for code in raw.split(","):
        if code not in mapping:
            raise ValidationProblem(f"status {code!r} is not one of {', '.join(sorted(mapping))}", field="status",
                                    status=400)
        out.extend(mapping[code])
    return out


@router.get("/Encounter/{encounter_id}")
def read_encounter(encounter_id: str, ctx: Context = Depends(scope("Encounter", "read"))) -> Response:
    return fhir_response(build.encounter(records.get_encounter_record(ctx, parse_id(encounter_id, "encounter"))))


@router.get("/Encounter")
def search_encounter(request: Request, ctx: Context = Depends(scope("Encounter", "read"))) -> Response:
    """Encounters: patient (or subject), date (of service; eq/ge/gt/le/lt), status (FHIR codes,
    comma-separated), location. Newest first."""
    p = Params(request, "Encounter")
    patient_id = p.ref_id("patient", "Patient") or p.ref_id("subject", "Patient")
    since, until = p.dates("date")
    location = p.ref_id("location", "Location")
    rows = records.find_encounters(
        ctx, patient_id=patient_id, since=_day(since, up=False), until=_day(until, up=True),
        statuses=_statuses(p, build.ENCOUNTER_STATUS_FROM_FHIR), location_ids=[location] if location else None,
        limit=p.count + 1, offset=p.offset)
    return searchset(request, p, rows, build.encounter)


def _day(value: datetime | None, *, up: bool) -> date | None:
    """A date-of-service bound from an instant bound (UTC): a partly covered day counts whole."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    d = value.date()
    return d + timedelta(days=1) if up and value.time() != time() else d


@router.get("/Claim/{claim_id}")
def read_claim(claim_id: str, ctx: Context = Depends(scope("Claim", "read"))) -> Response:
    rec = records.get_claim_record(ctx, parse_id(claim_id, "claim"))
    return fhir_response(build.claim(rec.claim, rec.lines, ctx.org_id))


@router.get("/Claim")
def search_claim(request: Request, ctx: Context = Depends(scope("Claim", "read"))) -> Response:
    """Claims: patient, created (eq/ge/gt/le/lt), status (FHIR codes, comma-separated), use (claim
    only: we make no preauthorizations or predeterminations). Newest first."""
    p = Params(request, "Claim")
    patient_id = p.ref_id("patient", "Patient")
    since, until = p.dates("created")
    use = p.get("use")
    if use not in (None, "claim", "preauthorization", "predetermination"):
        raise ValidationProblem("use must be claim, preauthorization or predetermination", field="use", status=400)
    statuses = _statuses(p, build.CLAIM_STATUS_FROM_FHIR)
    rows = [] if use not in (None, "claim") else records.find_claims(
        ctx, patient_id=patient_id, created_since=since, created_until=until, statuses=statuses,
        limit=p.count + 1, offset=p.offset)
    return searchset(request, p, rows, lambda r: build.claim(r.claim, r.lines, ctx.org_id))

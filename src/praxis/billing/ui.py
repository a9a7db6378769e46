"""Billers' screens: the work queues (scrubber worklist with a jump to the field to fix, encounters
waiting for a claim, rejected claims), batch submission and acknowledgement upload, claim detail
with its history, acknowledgements and raw X12, and the superbill. Thin: parse, call, render."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from praxis.billing import charges, claims, codes, edi, reference, rules, submission
from praxis.billing.permissions import BILLING_CHARGE, BILLING_MANAGE, BILLING_READ, BILLING_SUBMIT
from praxis.billing.schemas import (
    AdjudicationIn,
    BillingProfileIn,
    CorrectIn,
    EncounterIn,
    EncounterUpdate,
    LineIn,
    PayerEdiIdIn,
)
from praxis.patients.coverage import list_payers
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.practice.service import list_locations
from praxis.scheduling import setup
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(include_in_schema=False)
register_nav("Billing", "/billing", BILLING_READ)
register_nav("Billing set-up", "/billing/setup", BILLING_MANAGE)

MAX_FORM_LINES = 8


def anchor(field: str) -> str:
    """A finding's field path as an element id on the superbill (`lines[0].code` -> `f-lines-0-code`)."""
    return "f-" + re.sub(r"[^a-z0-9_]+", "-", field.lower()).strip("-")


def fix_link(claim: Any, finding: Any) -> str:
    """Where a finding is fixed: the superbill's field, the patient's coverage, the billing set-up."""
    target = finding.target if hasattr(finding, "target") else finding.get("target")
    field = finding.field if hasattr(finding, "field") else finding.get("field")
    if target == "encounter":
        return f"/billing/encounters/{claim.encounter_id}#{anchor(field)}"
    if target in ("coverage", "patient"):
        return f"/patients/{claim.patient_id}#{'coverage' if target == 'coverage' else 'main'}"
    if target == "billing_profile":
        return f"/billing/setup#loc-{claim.location_id}"
    if target in ("payer", "provider"):
        return f"/billing/setup#{target}s"
    return f"/billing/claims/{claim.id}#{anchor(field)}"


def _names(ctx: Context) -> dict[uuid.UUID, str]:
    try:
        return {p.id: p.name for p in list_payers(ctx, include_inactive=True)}
    except ProblemError:
        return {}


@router.get("/billing")
def home(request: Request, ctx: Context = Depends(permission(BILLING_READ))) -> Response:
    worklist = claims.list_claims(ctx, status="draft", with_findings=True)
    rejected = claims.list_claims(ctx, status="rejected")
    ready = claims.list_claims(ctx, status="ready")
    waiting = charges.list_encounters(ctx, status="open", limit=100) if ctx.has(BILLING_CHARGE) else []
    return render(request, "billing/home.html", {
        "worklist": worklist, "rejected": rejected, "ready": ready, "waiting": waiting,
        "counts": claims.status_counts(ctx), "payers": _names(ctx), "fix_link": fix_link,
        "batches": submission.list_batches(ctx, limit=10), "can_submit": ctx.has(BILLING_SUBMIT),
        "rates": claims.clean_claim_rates(ctx), "flash": request.query_params.get("flash", "")[:300]})


@router.get("/billing/claims")
def queue(request: Request, status: str = "ready", ctx: Context = Depends(permission(BILLING_READ))) -> Response:
    rows = claims.list_claims(ctx, status=status if status in claims.STATUSES else "ready")
    return render(request, "billing/queue.html", {"rows": rows, "status": status, "statuses": claims.STATUSES,
                                                  "payers": _names(ctx), "counts": claims.status_counts(ctx)})


def _claim_page(request: Request, ctx: Context, claim_id: str, error: str = "") -> Response:
    claim = claims.get_claim(ctx, parse_id(claim_id, "claim"))
    return render(request, "billing/claim.html", {
        "c": claim, "payers": _names(ctx), "fix_link": fix_link, "anchor": anchor, "error": error,
        "can_submit": ctx.has(BILLING_SUBMIT), "pos": codes.PLACES_OF_SERVICE})


@router.get("/billing/claims/{claim_id}")
def claim_page(request: Request, claim_id: str, ctx: Context = Depends(permission(BILLING_READ))) -> Response:
    return _claim_page(request, ctx, claim_id)


@router.get("/billing/claims/{claim_id}/x12")
def claim_x12(claim_id: str, ctx: Context = Depends(permission(BILLING_READ))) -> Response:
    claim = claims.get_claim(ctx, parse_id(claim_id, "claim"))
    if claim.batch_id is None:
        return RedirectResponse(f"/billing/claims/{claim.id}", status_code=303)
    return RedirectResponse(f"/billing/files/{submission.batch_file_id(ctx, claim.batch_id)}", status_code=303)


@router.get("/billing/claims/{claim_id}/cms1500.pdf")
def claim_cms1500(claim_id: str, ctx: Context = Depends(permission(BILLING_READ))) -> Response:
    name, data = submission.claim_pdf(ctx, parse_id(claim_id, "claim"))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.post("/billing/claims/{claim_id}/action")
async def claim_action(request: Request, claim_id: str, ctx: Context = Depends(permission(BILLING_SUBMIT))
                       ) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    cid = parse_id(claim_id, "claim")
    target = claim_id
    try:
        if action == "scrub":
            await run_in_threadpool(claims.scrub_claim, ctx, cid)
        elif action == "void":
            out = await run_in_threadpool(claims.void_claim, ctx, cid, str(form.get("note", "")),
                                          str(form.get("payer_claim_number", "")))
            target = str(out.id)
        elif action == "correct":
            out = await run_in_threadpool(claims.correct_claim, ctx, cid, CorrectIn(
                note=str(form.get("note", "")), payer_claim_number=str(form.get("payer_claim_number", ""))))
            target = str(out.id)
        elif action == "adjudicate":
            data = AdjudicationIn(outcome=str(form.get("outcome", "paid")),  # type: ignore[arg-type]
                                  paid_cents=_cents(str(form.get("paid", "0"))),
                                  patient_responsibility_cents=_cents(str(form.get("patient", "0"))),
                                  adjudicated_on=str(form.get("adjudicated_on", "")),  # type: ignore[arg-type]
                                  payer_claim_number=str(form.get("payer_claim_number", "")))
            await run_in_threadpool(claims.record_adjudication, ctx, cid, data)
        else:
            return await run_in_threadpool(_claim_page, request, ctx, claim_id, "Unknown action")
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return await run_in_threadpool(_claim_page, request, ctx, claim_id, msg)
    except (ProblemError, ValueError) as exc:
        return await run_in_threadpool(_claim_page, request, ctx, claim_id, getattr(exc, "detail", str(exc)))
    return RedirectResponse(f"/billing/claims/{target}", status_code=303)


def _cents(text: str) -> int:
    text = text.strip().replace("$", "").replace(",", "") or "0"
    if not re.fullmatch(r"\d{1,8}(\.\d{1,2})?", text):
        raise ValueError(f"{text!r} is not an amount")
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


@router.post("/billing/submit")
async def submit(request: Request, ctx: Context = Depends(permission(BILLING_SUBMIT))) -> Response:
    form = await request.form()
    payer = str(form.get("payer_code", "")).strip() or None
    try:
        r = await run_in_threadpool(submission.submit_ready, ctx, payer_code=payer)
    except ProblemError as exc:
        return RedirectResponse(f"/billing?flash={exc.detail[:200]}", status_code=303)
    parts = [f"{b.claim_count} claim(s) in batch {b.interchange_control_number} ({b.status})" for b in r.batches]
    parts += [f"claim {n} refused: {why[:120]}" for n, why in r.refused]
    parts += [f"not delivered: {e[:120]}" for e in r.delivery_errors]
    return RedirectResponse(f"/billing?flash={'; '.join(parts) or 'No ready claims'}"[:1500], status_code=303)


@router.post("/billing/edi")
async def upload_edi(request: Request, ctx: Context = Depends(permission(BILLING_SUBMIT))) -> Response:
    form = await request.form()
    file = form.get("file")
    if not isinstance(file, UploadFile):
        return RedirectResponse("/billing?flash=Choose a file", status_code=303)
    data = await file.read(edi.MAX_BYTES + 1)
    try:
        f, dup = await run_in_threadpool(edi.ingest, ctx, data, file.filename or "")
    except ProblemError as exc:
        return RedirectResponse(f"/billing?flash={exc.detail[:200]}", status_code=303)
    if dup:
        msg = f"{file.filename}: received before; nothing changed"
    elif f.status == "failed":
        msg = f"{file.filename}: not read ({f.error[:200]})"
    else:
        msg = f"{f.kind} processed: {len((f.summary or {}).get('matched', []))} claim(s) updated"
    return RedirectResponse(f"/billing?flash={msg}", status_code=303)


@router.get("/billing/files/{file_id}")
def file_page(request: Request, file_id: str, ctx: Context = Depends(permission(BILLING_READ))) -> Response:
    f, content = edi.get_file(ctx, parse_id(file_id, "file"))
    return render(request, "billing/file.html", {"f": f, "content": content})


# --- the superbill ------------------------------------------------------------------------------------


def _encounter_page(request: Request, ctx: Context, encounter_id: uuid.UUID, *, error: str = "",
                    form: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    enc = charges.get_encounter(ctx, encounter_id)
    try:
        providers = [p for p, _ in setup.list_providers(ctx, location_id=enc.location_id)]
    except ProblemError:  # a biller without scheduling:read still sees the chosen provider's id
        providers = []
    bills = claims.list_claims(ctx, encounter_id=enc.id) if ctx.has(BILLING_READ) else []
    return render(request, "billing/encounter.html", {
        "e": enc, "error": error, "form": form, "providers": providers, "pos": codes.PLACES_OF_SERVICE,
        "claims": bills, "rows": range(max(MAX_FORM_LINES, len(enc.lines))), "dx_rows": range(12),
        "display_icd10": codes.display_icd10, "can_build": ctx.has(BILLING_SUBMIT)}, status_code=status_code)


@router.get("/billing/encounters/new")
def new_encounter_page(request: Request, patient_id: str, ctx: Context = Depends(permission(BILLING_CHARGE))
                       ) -> Response:
    pid = parse_id(patient_id, "patient")
    charges.require_patient(ctx, pid)
    return render(request, "billing/new_encounter.html", {
        "patient_id": pid, "locations": list_locations(ctx, permission=BILLING_CHARGE), "error": ""})


@router.post("/billing/encounters/new")
async def create_encounter(request: Request, ctx: Context = Depends(permission(BILLING_CHARGE))) -> Response:
    """A stand-alone superbill (a visit outside the schedule): created empty, then filled in."""
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    try:
        data = EncounterIn(patient_id=form.get("patient_id", ""), location_id=form.get("location_id", ""),  # type: ignore[arg-type]
                           date_of_service=form.get("date_of_service", ""))  # type: ignore[arg-type]
        enc = await run_in_threadpool(charges.create_encounter, ctx, data)
    except (ValidationError, ProblemError) as exc:
        msg = getattr(exc, "detail", None) or "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())  # type: ignore[union-attr]
        return render(request, "billing/new_encounter.html", {
            "patient_id": form.get("patient_id", ""), "error": msg,
            "locations": await run_in_threadpool(list_locations, ctx, permission=BILLING_CHARGE)}, status_code=422)
    return RedirectResponse(f"/billing/encounters/{enc.id}", status_code=303)


@router.get("/billing/encounters/{encounter_id}")
def encounter_page(request: Request, encounter_id: str, ctx: Context = Depends(permission(BILLING_CHARGE))
                   ) -> Response:
    return _encounter_page(request, ctx, parse_id(encounter_id, "encounter"))


@router.get("/billing/appointments/{appointment_id}/superbill")
def superbill_for_appointment(appointment_id: str, ctx: Context = Depends(permission(BILLING_CHARGE))
                              ) -> Response:
    enc = charges.encounter_for_appointment(ctx, parse_id(appointment_id, "appointment"))
    return RedirectResponse(f"/billing/encounters/{enc.id}", status_code=303)


def parse_superbill(form: dict[str, str]) -> EncounterUpdate:
    """The superbill form as an EncounterUpdate (charges in dollars; blank charge = fee schedule)."""
    lines = []
    for i in range(50):
        code = form.get(f"code_{i}", "").strip()
        if not code:
            continue
        charge = form.get(f"charge_{i}", "").strip()
        lines.append(LineIn(
            code=code, modifiers=[m for m in re.split(r"[\s,]+", form.get(f"mods_{i}", "")) if m],
            units=int(form.get(f"units_{i}", "1") or 1),
            charge_cents=_cents(charge) if charge else None,
            dx_pointers=[int(p) for p in re.split(r"[\s,]+", form.get(f"ptr_{i}", "1")) if p.strip()] or [1]))
    return EncounterUpdate(
        rendering_provider_id=form.get("rendering_provider_id") or None,  # type: ignore[arg-type]
        referring_npi=form.get("referring_npi", ""), referring_first_name=form.get("referring_first_name", ""),
        referring_last_name=form.get("referring_last_name", ""), place_of_service=form.get("place_of_service", "11"),
        diagnoses=[form.get(f"dx_{i}", "") for i in range(12) if form.get(f"dx_{i}", "").strip()],
        prior_auth=form.get("prior_auth", ""), notes=form.get("notes", ""), lines=lines)


@router.post("/billing/encounters/{encounter_id}")
async def save_encounter(request: Request, encounter_id: str, ctx: Context = Depends(permission(BILLING_CHARGE))
                         ) -> Response:
    eid = parse_id(encounter_id, "encounter")
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    try:
        data = parse_superbill(form)
        await run_in_threadpool(charges.update_encounter, ctx, eid, data)
        if form.get("build") == "1":
            await run_in_threadpool(claims.build_claims, ctx, eid)
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                        for e in exc.errors())
        return await run_in_threadpool(_encounter_page, request, ctx, eid, error=msg, form=form, status_code=422)
    except (ProblemError, ValueError) as exc:
        return await run_in_threadpool(_encounter_page, request, ctx, eid, error=getattr(exc, "detail", str(exc)),
                                       form=form, status_code=422)
    return RedirectResponse(f"/billing/encounters/{encounter_id}?saved=1", status_code=303)


# --- set-up -----------------------------------------------------------------------------------------


def _setup_page(request: Request, ctx: Context, *, errors: dict[str, str] | None = None,
                flash: str = "", status_code: int = 200) -> Response:
    locations = list_locations(ctx)
    profiles = {}
    for loc in locations:
        try:
            profiles[loc.id] = reference.get_billing_profile(ctx, loc.id)
        except ProblemError:
            profiles[loc.id] = None
    payers = list_payers(ctx, include_inactive=False)
    edi_ids = {p.id: {x.transaction: x.edi_id for x in reference.list_payer_edi_ids(ctx, p.id)
                      if x.clearinghouse_id is None} for p in payers}
    return render(request, "billing/setup.html", {
        "locations": locations, "profiles": profiles, "payers": payers, "edi_ids": edi_ids,
        "connections": reference.list_connections(ctx), "rule_sets": rules.list_rule_sets(ctx),
        "fee_schedules": reference.list_fee_schedules(ctx), "errors": errors or {}, "flash": flash},
        status_code=status_code)


@router.get("/billing/setup")
def setup_page(request: Request, ctx: Context = Depends(permission(BILLING_MANAGE))) -> Response:
    return _setup_page(request, ctx, flash=request.query_params.get("flash", "")[:300])


@router.post("/billing/setup/locations/{location_id}")
async def save_profile(request: Request, location_id: str, ctx: Context = Depends(permission(BILLING_MANAGE))
                       ) -> Response:
    raw = await request.form()
    values = {k: v for k, v in raw.items() if k != "csrf_token" and isinstance(v, str) and v != ""}
    lid = parse_id(location_id, "location")
    try:
        await run_in_threadpool(reference.set_billing_profile, ctx, lid, BillingProfileIn.model_validate(values))
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg'].removeprefix('Value error, ')}"
                        for e in exc.errors())
        return await run_in_threadpool(_setup_page, request, ctx, errors={str(lid): msg}, status_code=422)
    except ProblemError as exc:
        return await run_in_threadpool(_setup_page, request, ctx, errors={str(lid): exc.detail}, status_code=422)
    return RedirectResponse(f"/billing/setup?flash=Billing identity saved#loc-{lid}", status_code=303)


@router.post("/billing/setup/payers/{payer_id}")
async def save_payer_id(request: Request, payer_id: str, ctx: Context = Depends(permission(BILLING_MANAGE))
                        ) -> Response:
    raw = await request.form()
    pid = parse_id(payer_id, "payer")
    try:
        data = PayerEdiIdIn(transaction=str(raw.get("transaction", "claims")),  # type: ignore[arg-type]
                            edi_id=str(raw.get("edi_id", "")))
        await run_in_threadpool(reference.set_payer_edi_id, ctx, pid, data)
    except ValidationError:
        return await run_in_threadpool(_setup_page, request, ctx, status_code=422,
                                       errors={"payers": "An EDI id is letters and digits (at most 80)"})
    except ProblemError as exc:
        return await run_in_threadpool(_setup_page, request, ctx, errors={"payers": exc.detail}, status_code=422)
    return RedirectResponse("/billing/setup?flash=Payer EDI id saved#payers", status_code=303)


@router.post("/billing/setup/codes")
async def import_codes(request: Request, ctx: Context = Depends(permission(BILLING_MANAGE))) -> Response:
    raw = await request.form()
    file = raw.get("file")
    system = str(raw.get("system", ""))
    if not isinstance(file, UploadFile):
        return await run_in_threadpool(_setup_page, request, ctx, errors={"codes": "Choose a file"}, status_code=422)
    text = (await file.read(20_000_001)).decode("utf-8-sig", errors="replace")
    try:
        out = await run_in_threadpool(reference.import_codes, ctx, system, text, apply=raw.get("apply") == "1")
    except ProblemError as exc:
        return await run_in_threadpool(_setup_page, request, ctx, errors={"codes": exc.detail}, status_code=422)
    if out.errors:
        shown = "; ".join(f"row {e['row']} {e['field']}: {e['message']}" for e in out.errors[:20])
        more = f" (and {len(out.errors) - 20} more)" if len(out.errors) > 20 else ""
        return await run_in_threadpool(_setup_page, request, ctx, status_code=422,
                                       errors={"codes": f"Nothing loaded. {shown}{more}"})
    verb = "loaded" if out.applied else "checked (dry run; tick Apply to load)"
    return RedirectResponse(f"/billing/setup?flash={out.rows} {system} codes {verb}: {out.added} new, "
                            f"{out.updated} changed#codes", status_code=303)

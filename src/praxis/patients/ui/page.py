"""The patient page as a workplace: demographics and contact preferences edited in place,
coverages added, edited and ended, alerts acknowledged.

Each card of the page is a fragment (templates/patients/_*.html). With htmx a form swaps its
card for the answer: the card again (saved) or the form with a message per field (422).
Without JavaScript the same forms post normally: success returns to the page (303), an error
re-renders the whole page with the form open and the messages. Every change goes through the
domain's service (permission, visibility, audit in the same transaction).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from praxis.patients import alerts, coverage, service, ui
from praxis.patients.normalise import format_phone
from praxis.patients.permissions import PATIENTS_ALERTS, PATIENTS_READ, PATIENTS_WRITE, PAYERS_MANAGE
from praxis.patients.schemas import CoverageIn, CoverageOut, PatientOut, PatientUpdate
from praxis.platform.context import Context
from praxis.platform.errors import NotFound, ProblemError
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import render

router = Router(tags=["patients-ui"], include_in_schema=False)

# The fields each card edits; the card's template shows the same ones.
SECTIONS: dict[str, tuple[str, ...]] = {
    "demographics": ("first_name", "middle_name", "last_name", "suffix", "preferred_name", "dob", "sex",
                     "gender_identity", "language", "address_line1", "address_line2", "city", "state",
                     "postal_code"),
    "contact": ("phone_mobile", "phone_home", "phone_work", "email", "preferred_channel", "emergency_name",
                "emergency_relationship", "emergency_phone"),
}
CHECKBOXES: dict[str, tuple[str, ...]] = {
    "demographics": (),
    "contact": ("consent_sms", "consent_email", "consent_voice", "sms_opted_out", "email_opted_out",
                "voice_opted_out"),
}
PHONES = ("phone_mobile", "phone_home", "phone_work", "emergency_phone")
# An empty box clears these (null); other text fields become "" (their columns are never null).
NULLABLE = frozenset({*PHONES, "email"})


def _htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _section(name: str) -> str:
    if name not in SECTIONS:
        raise NotFound("No such section of the patient page")
    return name


def _current_values(p: PatientOut, section: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in SECTIONS[section]:
        v = getattr(p, f)
        values[f] = format_phone(v) if f in PHONES else (v.isoformat() if f == "dob" else (v or ""))
    for box in CHECKBOXES[section]:
        values[box] = bool(getattr(p, box))
    return values


def _fragment(request: Request, section: str, p: PatientOut, *, editing: bool, form: dict[str, Any] | None = None,
              errors: dict[str, str] | None = None, saved: bool = False, status_code: int = 200) -> Response:
    return render(request, f"patients/_{section}.html", {
        "p": p, "edit": section if editing else None, "form": form or _current_values(p, section),
        "errors": errors or {}, "saved": saved, "format_phone": format_phone, "can_write": True,
    }, status_code=status_code)


@router.get("/patients/{patient_id}/edit/{section}")
def edit_form(request: Request, patient_id: str, section: str,
              ctx: Context = Depends(permission(PATIENTS_WRITE))) -> Response:
    section = _section(section)
    p = service.get_patient(ctx, parse_id(patient_id, "patient"))
    if _htmx(request):
        return _fragment(request, section, p, editing=True)
    return ui.render_page(request, ctx, patient_id, edit=section, form=_current_values(p, section))


@router.get("/patients/{patient_id}/show/{section}")
def show_card(request: Request, patient_id: str, section: str,
              ctx: Context = Depends(permission(PATIENTS_READ))) -> Response:
    """The card without its form (the form's "Cancel")."""
    section = _section(section)
    p = service.get_patient(ctx, parse_id(patient_id, "patient"))  # 404 first, with or without htmx
    if not _htmx(request):
        return RedirectResponse(f"/patients/{p.id}#{section}", status_code=303)
    return render(request, f"patients/_{section}.html", {
        "p": p, "edit": None, "form": {}, "errors": {}, "saved": False, "format_phone": format_phone,
        "can_write": ctx.has(PATIENTS_WRITE)})


def _errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]) if e["loc"] else "form": e["msg"].removeprefix("Value error, ") for e in exc.errors()}


def _update_values(section: str, form: dict[str, str], boxes: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in SECTIONS[section]:
        v = form.get(f, "").strip()
        if f == "state":
            v = v.upper()
        values[f] = None if f in NULLABLE and not v else v
    for box in CHECKBOXES[section]:
        values[box] = box in boxes
    return values


@router.post("/patients/{patient_id}/edit/{section}")
async def save_section(request: Request, patient_id: str, section: str,
                       ctx: Context = Depends(permission(PATIENTS_WRITE))) -> Response:
    section = _section(section)
    pid = parse_id(patient_id, "patient")
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str) and k != "csrf_token"}
    values = _update_values(section, form, set(raw.keys()))
    shown = {**values, **{f: form.get(f, "") for f in SECTIONS[section]}}  # what the person typed
    errors: dict[str, str] = {}
    try:
        data = PatientUpdate.model_validate(values)
        p = await run_in_threadpool(service.update_patient, ctx, pid, data)
    except ValidationError as exc:
        errors = _errors(exc)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = {exc.field or "form": exc.detail}
    if not errors:
        if _htmx(request):
            return _fragment(request, section, p, editing=False, saved=True)
        return RedirectResponse(f"/patients/{pid}#{section}", status_code=303)
    if _htmx(request):
        current = await run_in_threadpool(service.get_patient, ctx, pid)
        return _fragment(request, section, current, editing=True, form=shown, errors=errors, status_code=422)
    return await run_in_threadpool(ui.render_page, request, ctx, patient_id, edit=section, form=shown, errors=errors)


# --- coverages -----------------------------------------------------------------------------------


def _coverage_card(request: Request, ctx: Context, pid: uuid.UUID, *, editing: uuid.UUID | None = None,
                   form: dict[str, Any] | None = None, errors: dict[str, str] | None = None, saved: str = "",
                   status_code: int = 200) -> Response:
    p = service.get_patient(ctx, pid)
    return render(request, "patients/_coverage.html", {
        "p": p, "coverages": coverage.list_coverages(ctx, pid),
        "payers": {x.id: x for x in coverage.list_payers(ctx, include_inactive=True)},
        "editing": editing, "coverage_form": form or {}, "errors": errors or {}, "saved": saved,
        "can_write": ctx.has(PATIENTS_WRITE), "can_manage_payers": ctx.has(PAYERS_MANAGE),
    }, status_code=status_code)


def coverage_answer(request: Request, ctx: Context, pid: uuid.UUID, *, saved: str = "",
                    editing: uuid.UUID | None = None, form: dict[str, Any] | None = None,
                    errors: dict[str, str] | None = None) -> Response:
    """The answer to a coverage form: the card (htmx) or the page (303, or 422 with the messages)."""
    if errors:
        if _htmx(request):
            return _coverage_card(request, ctx, pid, editing=editing, form=form, errors=errors, status_code=422)
        return ui.render_page(request, ctx, str(pid), errors=errors, editing_coverage=editing, coverage_form=form or {})
    if _htmx(request):
        return _coverage_card(request, ctx, pid, saved=saved)
    return RedirectResponse(f"/patients/{pid}#coverage", status_code=303)


def coverage_values(form: dict[str, str]) -> dict[str, Any]:
    """The coverage form as CoverageIn input: empty boxes left out, the order as a number (a form
    sends "1"; the schema's 1 | 2 | 3 does not take the string)."""
    values: dict[str, Any] = {k: v.strip() for k, v in form.items() if k in CoverageIn.model_fields and v.strip()}
    if str(values.get("priority", "")).isdigit():
        values["priority"] = int(values["priority"])
    return values


def coverage_errors(exc: ValidationError) -> dict[str, str]:
    return {f"coverage.{k}": v for k, v in _errors(exc).items()} | {
        "coverage": "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in _errors(exc).items())}


def problem_errors(exc: ProblemError) -> dict[str, str]:
    """A service's refusal as the coverage card's messages (the field's box is marked too)."""
    return {"coverage": exc.detail, f"coverage.{exc.field}": exc.detail} if exc.field else {"coverage": exc.detail}


def _coverage_of(ctx: Context, pid: uuid.UUID, cid: uuid.UUID) -> CoverageOut:
    cov = coverage.get_coverage(ctx, cid)
    if cov.patient_id != pid:
        raise NotFound("No such coverage")
    return cov


@router.get("/patients/{patient_id}/coverages/{coverage_id}/edit")
def coverage_edit_form(request: Request, patient_id: str, coverage_id: str,
                       ctx: Context = Depends(permission(PATIENTS_WRITE))) -> Response:
    pid, cid = parse_id(patient_id, "patient"), parse_id(coverage_id, "coverage")
    cov = _coverage_of(ctx, pid, cid)
    form = {k: ("" if v is None else str(v)) for k, v in cov.model_dump().items()}
    if _htmx(request):
        return _coverage_card(request, ctx, pid, editing=cid, form=form)
    return ui.render_page(request, ctx, patient_id, editing_coverage=cid, coverage_form=form)


@router.post("/patients/{patient_id}/coverages/{coverage_id}")
async def coverage_save(request: Request, patient_id: str, coverage_id: str,
                        ctx: Context = Depends(permission(PATIENTS_WRITE))) -> Response:
    pid, cid = parse_id(patient_id, "patient"), parse_id(coverage_id, "coverage")
    # The coverage first: another patient's (or one out of scope) answers 404 whatever the form says.
    await run_in_threadpool(_coverage_of, ctx, pid, cid)
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str) and k != "csrf_token"}
    errors: dict[str, str] = {}
    try:
        data = CoverageIn.model_validate(coverage_values(form))
        await run_in_threadpool(coverage.update_coverage, ctx, cid, data, patient_id=pid)
    except ValidationError as exc:
        errors = coverage_errors(exc)
    except ProblemError as exc:
        if exc.status in (401, 403) or (exc.status == 404 and exc.field != "payer_id"):
            raise
        errors = problem_errors(exc)
    return await run_in_threadpool(coverage_answer, request, ctx, pid, saved="Insurance saved.", editing=cid,
                                   form=form, errors=errors)


@router.post("/patients/{patient_id}/coverages/{coverage_id}/end")
async def coverage_end(request: Request, patient_id: str, coverage_id: str,
                       ctx: Context = Depends(permission(PATIENTS_WRITE))) -> Response:
    pid, cid = parse_id(patient_id, "patient"), parse_id(coverage_id, "coverage")
    await run_in_threadpool(coverage.end_coverage, ctx, cid, patient_id=pid)
    return await run_in_threadpool(coverage_answer, request, ctx, pid, saved="Insurance ended.")


# --- alerts --------------------------------------------------------------------------------------


@router.post("/patients/{patient_id}/alerts/{alert_id}/acknowledge")
async def acknowledge(request: Request, patient_id: str, alert_id: str,
                      ctx: Context = Depends(permission(PATIENTS_ALERTS))) -> Response:
    pid, aid = parse_id(patient_id, "patient"), parse_id(alert_id, "alert")
    form = await request.form()
    note = str(form.get("note") or "")[:500]
    error = None
    try:
        await run_in_threadpool(alerts.acknowledge_alert, ctx, pid, aid, note)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        error = exc.detail
    if not _htmx(request):
        if error:
            return await run_in_threadpool(ui.render_page, request, ctx, patient_id, errors={"alerts": error})
        return RedirectResponse(f"/patients/{pid}#alerts", status_code=303)
    items = await run_in_threadpool(alerts.list_alerts, ctx, pid)
    return render(request, "patients/_alerts.html", {
        "p": {"id": pid}, "alerts": items, "can_ack": ctx.has(PATIENTS_ALERTS),
        "errors": {"alerts": error} if error else {},
    }, status_code=409 if error else 200)

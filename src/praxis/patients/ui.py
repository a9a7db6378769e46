"""HTML screens of the patients domain: search, registration, the patient page, import."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from praxis.patients import coverage, documents, importer, service
from praxis.patients.import_rows import FIELDS
from praxis.patients.normalise import format_phone
from praxis.patients.permissions import (
    DOCUMENTS_READ,
    DOCUMENTS_WRITE,
    PATIENTS_IMPORT,
    PATIENTS_READ,
    PATIENTS_WRITE,
)
from praxis.patients.schemas import CoverageIn, PatientCreate
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.templating import register_nav, render

router = APIRouter(tags=["patients-ui"], include_in_schema=False)

register_nav("Patients", "/patients", PATIENTS_READ)
register_nav("Import", "/patients/import", PATIENTS_IMPORT)

CHECKBOXES = ("consent_sms", "consent_email", "consent_voice", "confirm_duplicate")


def _errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]) if e["loc"] else "form": e["msg"].removeprefix("Value error, ") for e in exc.errors()}


@router.get("/patients")
def search_page(request: Request, q: str = "", ctx: Context = Depends(permission(PATIENTS_READ))) -> Response:
    error = None
    results: list[Any] = []
    if q.strip():
        try:
            results = service.find_patients(ctx, q=q[:100])
        except ProblemError as exc:
            error = exc.detail
    return render(
        request, "patients/search.html", {"q": q, "results": results, "error": error, "format_phone": format_phone}
    )


@router.get("/patients/new")
def new_page(request: Request, ctx: Context = Depends(permission(PATIENTS_WRITE))) -> Response:
    return render(request, "patients/new.html", {"form": {}, "errors": {}, "duplicates": None})


@router.post("/patients/new")
async def register(request: Request, ctx: Context = Depends(permission(PATIENTS_WRITE))) -> Response:
    form = await request.form()
    values: dict[str, Any] = {k: v for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    for box in CHECKBOXES:
        values[box] = box in form
    for key in [k for k, v in values.items() if v == ""]:
        if key not in ("first_name", "last_name", "dob"):
            del values[key]
    errors: dict[str, str] = {}
    duplicates = None
    try:
        data = PatientCreate.model_validate(values)
        patient = await run_in_threadpool(service.register_patient, ctx, data)
        return RedirectResponse(f"/patients/{patient.id}", status_code=303)
    except ValidationError as exc:
        errors = _errors(exc)
    except service.PossibleDuplicates as exc:
        duplicates = exc.check
    except ProblemError as exc:
        errors = {exc.field or "form": exc.detail}
    return render(
        request,
        "patients/new.html",
        {"form": values, "errors": errors, "duplicates": duplicates},
        status_code=409 if duplicates else 422,
    )


# --- import -------------------------------------------------------------------------------------


@router.get("/patients/import")
def import_page(request: Request, ctx: Context = Depends(permission(PATIENTS_IMPORT))) -> Response:
    return render(request, "patients/import.html", {"report": None, "error": None, "form": {}, "fields": FIELDS})


def _parse_mapping(text: str) -> dict[str, str] | None:
    """`Header = field` lines (or JSON) -> mapping; blank -> None (use saved or guessed)."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("{"):
        parsed = json.loads(text)
        return {str(k): str(v) for k, v in parsed.items()}
    mapping: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line:
            header, _, field = line.partition("=")
            mapping[header.strip()] = field.strip()
    return mapping


@router.post("/patients/import")
async def import_run(request: Request, ctx: Context = Depends(permission(PATIENTS_IMPORT))) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    file = form.get("file")
    error = None
    report = None
    if not isinstance(file, UploadFile) or not file.filename:
        error = "Choose a CSV or Excel file"
    else:
        data = await file.read(200 * 1024 * 1024 + 1)
        try:
            mapping = _parse_mapping(values.get("mapping", ""))
            report = await run_in_threadpool(
                lambda: importer.run_import(
                    ctx,
                    "coverages" if values.get("kind") == "coverages" else "patients",
                    data,
                    filename=file.filename or "",
                    location_code=values.get("location_code", ""),
                    source=values.get("source") or "import",
                    mapping=mapping,
                    dry_run="apply" not in values,
                    encoding=values.get("encoding") or "utf-8",
                )
            )
        except ProblemError as exc:
            error = exc.detail
        except ValueError:
            error = "The mapping must be lines of 'Column header = field' or a JSON object"
    return render(
        request,
        "patients/import.html",
        {"report": report, "error": error, "form": values, "fields": FIELDS},
        status_code=422 if error else 200,
    )


# --- the patient page -------------------------------------------------------------------------


def _page(request: Request, ctx: Context, patient_id: str, **extra: Any) -> Response:
    pid = parse_id(patient_id, "patient")
    patient = service.get_patient(ctx, pid)
    covs = coverage.list_coverages(ctx, pid)
    payers = {p.id: p for p in coverage.list_payers(ctx, include_inactive=True)}
    docs = documents.list_documents(ctx, pid) if ctx.has(DOCUMENTS_READ) else []
    return render(
        request,
        "patients/detail.html",
        {
            "p": patient,
            "coverages": covs,
            "payers": payers,
            "docs": docs,
            "format_phone": format_phone,
            "can_write": ctx.has(PATIENTS_WRITE),
            "can_upload": ctx.has(DOCUMENTS_WRITE),
            "errors": {},
            **extra,
        },
        status_code=422 if extra.get("errors") else 200,
    )


@router.get("/patients/{patient_id}")
def patient_page(request: Request, patient_id: str, ctx: Context = Depends(permission(PATIENTS_READ))) -> Response:
    return _page(request, ctx, patient_id)


@router.post("/patients/{patient_id}/coverages")
async def add_coverage(
    request: Request, patient_id: str, ctx: Context = Depends(permission(PATIENTS_WRITE))
) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if k != "csrf_token" and isinstance(v, str) and v != ""}
    try:
        data = CoverageIn.model_validate(values)
        await run_in_threadpool(coverage.add_coverage, ctx, parse_id(patient_id, "patient"), data)
    except ValidationError as exc:
        return _page(
            request, ctx, patient_id, errors={"coverage": "; ".join(f"{k}: {v}" for k, v in _errors(exc).items())}
        )
    except ProblemError as exc:
        return _page(request, ctx, patient_id, errors={"coverage": exc.detail})
    return RedirectResponse(f"/patients/{patient_id}#coverage", status_code=303)


@router.post("/patients/{patient_id}/documents")
async def upload(request: Request, patient_id: str, ctx: Context = Depends(permission(DOCUMENTS_WRITE))) -> Response:
    form = await request.form()
    file = form.get("file")
    kind = str(form.get("kind") or "other")
    if not isinstance(file, UploadFile):
        return _page(request, ctx, patient_id, errors={"document": "Choose a file"})
    data = await file.read(documents.max_bytes() + 1)
    try:
        await run_in_threadpool(
            documents.upload_document, ctx, parse_id(patient_id, "patient"), data, kind=kind, filename=file.filename
        )
    except ProblemError as exc:
        return _page(request, ctx, patient_id, errors={"document": exc.detail})
    return RedirectResponse(f"/patients/{patient_id}#documents", status_code=303)


@router.get("/patients/{patient_id}/documents/{document_id}")
def document(patient_id: str, document_id: str, ctx: Context = Depends(permission(DOCUMENTS_READ))) -> Response:
    doc = documents.read_document(ctx, parse_id(patient_id, "patient"), parse_id(document_id, "document"))
    disposition = "inline" if doc.meta.content_type.startswith("image/") else "attachment"
    return Response(
        doc.data,
        media_type=doc.meta.content_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{doc.meta.filename or doc.meta.kind}"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )

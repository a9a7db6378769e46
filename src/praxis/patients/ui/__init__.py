"""HTML screens of the patients domain: search, registration, the patient page, import."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from praxis.patients import coverage, documents, import_jobs, importer, merge, overview, service
from praxis.patients.import_rows import DATE_FORMATS, FIELDS, field_label, guess_mapping, read_table, split_mapping
from praxis.patients.normalise import format_phone
from praxis.patients.permissions import (
    DOCUMENTS_READ,
    DOCUMENTS_WRITE,
    PATIENTS_ALERTS,
    PATIENTS_IMPORT,
    PATIENTS_MERGE,
    PATIENTS_READ,
    PATIENTS_WRITE,
    PAYERS_MANAGE,
)
from praxis.patients.schemas import CoverageIn, PatientCreate
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(tags=["patients-ui"], include_in_schema=False)

register_nav("Patients", "/patients", PATIENTS_READ, "Patients")
register_nav("Register", "/patients/new", PATIENTS_WRITE, "Patients")
register_nav("Import", "/patients/import", PATIENTS_IMPORT, "Admin")

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


IGNORE = "ignore"


def _import_context(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "report": None,
        "error": None,
        "form": {},
        "fields": FIELDS,
        "headers": [],
        "samples": [],
        "chosen": {},
        "upload": "",
        "filename": "",
        "ignore": IGNORE,
        "field_label": field_label,
        "date_formats": DATE_FORMATS,
        "chosen_date_format": None,
        "locations": [],
        "job": None,
    }
    return {**base, **kw}


def _import_locations(ctx: Context) -> list[Any]:
    """The locations the actor may import at, for the screen's picker."""
    from praxis.practice.service import list_locations

    return list_locations(ctx, permission=PATIENTS_IMPORT)


@router.get("/patients/import")
def import_page(request: Request, ctx: Context = Depends(permission(PATIENTS_IMPORT))) -> Response:
    return render(request, "patients/import.html", _import_context(locations=_import_locations(ctx)))


def _chosen_mapping(values: dict[str, str], headers: list[str]) -> dict[str, str] | None:
    """One <select> per column (map_0, map_1, ...) -> header -> field; None when none was sent."""
    if not any(f"map_{i}" in values for i in range(len(headers))):
        return None
    mapping: dict[str, str] = {}
    for i, header in enumerate(headers):
        target = values.get(f"map_{i}", IGNORE)
        if header and target and target != IGNORE:
            mapping[header] = target
    return mapping


@router.post("/patients/import")
async def import_run(request: Request, ctx: Context = Depends(permission(PATIENTS_IMPORT))) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    kind: Any = "coverages" if values.get("kind") == "coverages" else "patients"
    source = (values.get("source") or "import").strip()[:60] or "import"
    encoding = values.get("encoding") or "utf-8"
    file = form.get("file")
    upload = values.get("upload", "")
    error = None
    report = None
    job = None
    headers: list[str] = []
    samples: list[str] = []
    chosen: dict[str, str] = {}
    chosen_date_format: str | None = None
    filename = ""
    data: Any = None  # a binary file: the form parser's spooled upload, or the kept file decrypted
    if isinstance(file, UploadFile) and file.filename:
        filename = file.filename
        data = file.file
        upload = ""
        new_file = True
    else:
        new_file = False
        stashed = await run_in_threadpool(importer.open_upload, ctx, upload) if upload else None
        if stashed:
            filename, data = stashed
        else:
            upload = ""
    if data is None:
        error = "Choose a CSV or Excel file"
    else:
        try:
            if new_file:
                importer.check_size(data, filename)  # before keeping or parsing it
                upload = await run_in_threadpool(importer.stash_upload, ctx, filename, data)
            table = await run_in_threadpool(read_table, data, filename, encoding)
            headers = table.headers
            first_rows = await run_in_threadpool(lambda: list(itertools.islice(iter(table.rows), 5)))
            samples = [
                next((str(r[i]) for r in first_rows if i < len(r) and r[i] not in (None, "")), "")[:40]
                for i in range(len(headers))
            ]
            mapping = None if new_file else _chosen_mapping(values, headers)
            if mapping is None:
                saved = await run_in_threadpool(importer.get_saved_mapping, ctx, source, kind)
                saved_columns, saved_format = split_mapping(saved or {})
                mapping = (
                    {h: f for h, f in saved_columns.items() if h in headers} if saved
                    else guess_mapping(headers, kind)
                )
                chosen_date_format = saved_format
            chosen = mapping
            date_format = values.get("date_format") or chosen_date_format or None
            date_format = date_format if date_format in DATE_FORMATS else None
            dry_run = new_file or "apply" not in values
            if import_jobs.runs_in_background(importer.file_size(data)):
                # A large file: the worker checks (or applies) it; the page polls its progress. The
                # stated date format travels in the mapping (its "date_format" key), as it is saved.
                job_mapping = {**mapping, "date_format": date_format} if date_format else mapping
                job = await run_in_threadpool(lambda: import_jobs.start_import_job(
                    ctx, kind, data, filename=filename, location_code=values.get("location_code", ""),
                    source=source, mapping=job_mapping, dry_run=dry_run, encoding=encoding, upload_token=upload))
            else:
                report = await run_in_threadpool(
                    lambda: importer.run_import(
                        ctx,
                        kind,
                        data,
                        filename=filename,
                        location_code=values.get("location_code", ""),
                        source=source,
                        mapping=mapping,
                        dry_run=dry_run,
                        encoding=encoding,
                        date_format=date_format,
                    )
                )
        except ProblemError as exc:
            error = exc.detail
        finally:
            if not new_file and data is not None:
                data.close()
        if report is not None and report.applied:  # done: the stashed file is not needed any more
            await run_in_threadpool(importer.discard_upload, ctx, upload)
            upload, headers = "", []
    return render(
        request,
        "patients/import.html",
        _import_context(
            report=report,
            job=import_jobs.job_out(job) if job is not None else None,
            error=error,
            form=values,
            headers=headers,
            samples=samples,
            chosen=chosen,
            upload=upload,
            filename=filename,
            kind=kind,
            chosen_date_format=chosen_date_format,
            locations=await run_in_threadpool(_import_locations, ctx),
        ),
        status_code=422 if error else 200,
    )


@router.get("/patients/import/jobs/{job_id}")
def import_job_status(request: Request, job_id: str, ctx: Context = Depends(permission(PATIENTS_IMPORT))
                      ) -> Response:
    """The progress panel of a queued import; htmx polls it every second until the job is finished."""
    job = import_jobs.get_import_job(ctx, parse_id(job_id, "import job"))
    return render(request, "patients/_import_job.html", {"job": import_jobs.job_out(job)})


# --- the patient page -------------------------------------------------------------------------


def _page(request: Request, ctx: Context, patient_id: str, **extra: Any) -> Response:
    """The whole patient page; `extra` opens a card's form (`edit`, `form`, `editing_coverage`,
    `coverage_form`) or carries messages (`errors`, 422)."""
    view = overview.patient_overview(ctx, parse_id(patient_id, "patient"))
    merges = [
        {
            "m": e.merge,
            "survivor": e.survivor,
            "other_id": e.other_id,
            "other": f"{e.other.last_name}, {e.other.first_name} (MRN {e.other.mrn})"
            if e.other
            else "a record you cannot see",
        }
        for e in view.merges
    ]
    return render(
        request,
        "patients/detail.html",
        {
            "p": view.patient,
            "coverages": view.coverages,
            "payers": {p.id: p for p in view.payers},
            "docs": view.documents,
            "format_phone": format_phone,
            "can_write": ctx.has(PATIENTS_WRITE),
            "can_upload": ctx.has(DOCUMENTS_WRITE),
            "can_merge": ctx.has(PATIENTS_MERGE),
            "merges": merges,
            "alerts": view.alerts,
            "can_ack": ctx.has(PATIENTS_ALERTS),
            "can_manage_payers": ctx.has(PAYERS_MANAGE),
            "errors": {},
            "edit": None,
            "form": {},
            "editing": extra.pop("editing_coverage", None),
            "saved": "",
            "coverage_form": {},
            **extra,
        },
        status_code=422 if extra.get("errors") else 200,
    )


render_page = _page  # for the page's card routes (ui/page.py)


@router.get("/patients/{patient_id}")
def patient_page(request: Request, patient_id: str, ctx: Context = Depends(permission(PATIENTS_READ))) -> Response:
    return _page(request, ctx, patient_id)


@router.post("/patients/{patient_id}/coverages")
async def add_coverage(
    request: Request, patient_id: str, ctx: Context = Depends(permission(PATIENTS_WRITE))
) -> Response:
    from praxis.patients.ui import page as page_ui  # the page's card answers (htmx or not)

    pid = parse_id(patient_id, "patient")
    raw = await request.form()
    form = {k: v for k, v in raw.items() if k != "csrf_token" and isinstance(v, str)}
    errors: dict[str, str] = {}
    try:
        data = CoverageIn.model_validate(page_ui.coverage_values(form))
        await run_in_threadpool(coverage.add_coverage, ctx, pid, data)
    except ValidationError as exc:
        errors = page_ui.coverage_errors(exc)
    except ProblemError as exc:
        if exc.status in (401, 403) or (exc.status == 404 and exc.field != "payer_id"):
            raise
        errors = page_ui.problem_errors(exc)
    return await run_in_threadpool(page_ui.coverage_answer, request, ctx, pid, saved="Insurance added.", form=form,
                                   errors=errors)


@router.post("/patients/{patient_id}/documents")
async def upload(request: Request, patient_id: str, ctx: Context = Depends(permission(DOCUMENTS_WRITE))) -> Response:
    form = await request.form()
    file = form.get("file")
    kind = str(form.get("kind") or "other")
    if not isinstance(file, UploadFile):
        return await run_in_threadpool(_page, request, ctx, patient_id, errors={"document": "Choose a file"})
    data = await file.read(documents.max_bytes() + 1)
    try:
        await run_in_threadpool(
            documents.upload_document, ctx, parse_id(patient_id, "patient"), data, kind=kind, filename=file.filename
        )
    except ProblemError as exc:
        return await run_in_threadpool(_page, request, ctx, patient_id, errors={"document": exc.detail})
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


# --- merge a duplicate into this patient, and undo ----------------------------------------------


@router.get("/patients/{patient_id}/merge")
def merge_confirm(
    request: Request, patient_id: str, q: str = "", ctx: Context = Depends(permission(PATIENTS_MERGE))
) -> Response:
    """Find the duplicate by MRN (or name/DOB search) and show both records before merging."""
    pid = parse_id(patient_id, "patient")
    survivor = service.get_patient(ctx, pid)
    q = q.strip()[:100]
    duplicate = None
    candidates: list[Any] = []
    error = None
    if not q:
        error = "Enter the MRN of the duplicate record"
    else:
        try:
            duplicate = service.get_patient_by_mrn(ctx, q)
        except ProblemError:
            try:
                candidates = [c for c in service.find_patients(ctx, q=q) if c.id != pid]
            except ProblemError as exc:
                error = exc.detail
            if not candidates and not error:
                error = f"No patient found for “{q}”"
        if duplicate is not None and duplicate.id == pid:
            duplicate, error = None, f"{q} is this patient's own record"
    survivor_covs = coverage.list_coverages(ctx, pid)
    dup_covs = coverage.list_coverages(ctx, duplicate.id) if duplicate else []
    payers = {p.id: p for p in coverage.list_payers(ctx, include_inactive=True)}
    return render(
        request,
        "patients/merge.html",
        {
            "p": survivor,
            "d": duplicate,
            "q": q,
            "candidates": candidates,
            "covs": {"p": survivor_covs, "d": dup_covs},
            "payers": payers,
            "format_phone": format_phone,
            "error": error,
        },
        status_code=422 if error else 200,
    )


@router.post("/patients/{patient_id}/merge")
async def merge_do(request: Request, patient_id: str, ctx: Context = Depends(permission(PATIENTS_MERGE))) -> Response:
    form = await request.form()
    reason = str(form.get("reason") or "")[:500]
    try:
        await run_in_threadpool(
            merge.merge_patients,
            ctx,
            parse_id(patient_id, "patient"),
            parse_id(str(form.get("merged_id") or ""), "patient"),
            reason,
        )
    except ProblemError as exc:
        return await run_in_threadpool(_page, request, ctx, patient_id, errors={"merge": exc.detail})
    return RedirectResponse(f"/patients/{patient_id}#merge", status_code=303)


@router.post("/patients/{patient_id}/merges/{merge_id}/undo")
async def merge_undo(
    request: Request, patient_id: str, merge_id: str, ctx: Context = Depends(permission(PATIENTS_MERGE))
) -> Response:
    form = await request.form()
    reason = str(form.get("reason") or "").strip()[:500] or "undone from the patient page"
    pid, mid = parse_id(patient_id, "patient"), parse_id(merge_id, "merge")
    try:
        # Only a merge of this patient (404 for anything else, like a missing one).
        await run_in_threadpool(merge.unmerge, ctx, mid, reason, patient_id=pid)
    except ProblemError as exc:
        if exc.status in (403, 404):
            raise
        return await run_in_threadpool(_page, request, ctx, patient_id, errors={"merge": exc.detail})
    return RedirectResponse(f"/patients/{patient_id}#merge", status_code=303)

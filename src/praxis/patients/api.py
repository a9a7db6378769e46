"""JSON API of the patients domain: registry, search, coverage, payers, documents, merge, import."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, File, Form, Query, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from praxis.patients import alerts, coverage, documents, import_jobs, importer, merge, search, service
from praxis.patients.alerts import AlertOut
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
from praxis.patients.schemas import (
    AlertAcknowledgeIn,
    CoverageIn,
    CoverageOut,
    DocumentOut,
    DuplicateCheck,
    MergeIn,
    MergeOut,
    PatientCreate,
    PatientFields,
    PatientOut,
    PatientSort,
    PatientSummary,
    PatientUpdate,
    PayerIn,
    PayerOut,
)
from praxis.platform.context import Context
from praxis.platform.errors import ValidationProblem
from praxis.platform.ids import parse_id
from praxis.platform.schemas import Day, Offset
from praxis.web.deps import permission
from praxis.web.paging import PAGED, Pager, by, paged
from praxis.web.routes import Router

router = Router(prefix="/api/v1", tags=["patients"])


@router.get("/patients", response_model=list[PatientSummary])
def search_patients(
    q: Annotated[str | None, Query(max_length=100, description="name, 'last, first', DOB, phone, MRN")] = None,
    last: Annotated[str | None, Query(max_length=100)] = None,
    first: Annotated[str | None, Query(max_length=100)] = None,
    dob: Day | None = None,
    phone: Annotated[str | None, Query(max_length=30)] = None,
    mrn: Annotated[str | None, Query(max_length=80)] = None,
    member_id: Annotated[str | None, Query(max_length=80)] = None,
    sort: Annotated[PatientSort | None, Query(description=(
        "default `name`; a listing by `updated_since` alone is in `updated_at` order"))] = None,
    offset: Annotated[Offset, Query(deprecated=True, description=(
        "deprecated: follow the Link rel=next header (`cursor`) instead"))] = 0,
    ctx: Context = Depends(permission(PATIENTS_READ)),
    page: Pager = Depends(paged(25, 200)),
) -> list[PatientSummary]:
    """Search patients; every criterion given must match. No criteria: an empty list.

    `updated_since` alone is the registry sync: every patient the caller may see (its locations, as
    any search) created or changed since the instant, any status, oldest change first, paged by the
    `Link` header; keep the last `updated_at` seen for the next sync. With other criteria it narrows
    the search."""
    if offset:
        if page.after is not None:
            raise ValidationProblem("offset: use either cursor or offset, not both", field="offset")
        if page.updated_since is not None:
            raise ValidationProblem("offset: not with updated_since; follow the Link header", field="offset")
        return service.find_patients(ctx, q=q, last=last, first=first, dob=dob, phone=phone, mrn=mrn,
                                     member_id=member_id, sort=sort or "name", limit=page.limit, offset=offset)
    rows, next_key = search.find_patients_page(
        ctx,
        q=q,
        last=last,
        first=first,
        dob=dob,
        phone=phone,
        mrn=mrn,
        member_id=member_id,
        sort=sort,
        limit=page.limit,
        after=page.after,
        updated_since=page.updated_since,
    )
    return page.keyed(rows, next_key)


@router.post("/patients", response_model=PatientOut, status_code=201)
def register_patient(
    data: PatientCreate, location_id: uuid.UUID | None = None, ctx: Context = Depends(permission(PATIENTS_WRITE))
) -> PatientOut:
    """Register a patient at `location_id` (default: the caller's location or the preferred one).

    409 `possible-duplicate` lists the candidates; resend with `confirm_duplicate: true`.
    """
    return service.register_patient(ctx, data, location_id=location_id)


@router.post("/patients/duplicate-check", response_model=DuplicateCheck)
def duplicate_check(data: PatientFields, ctx: Context = Depends(permission(PATIENTS_READ))) -> DuplicateCheck:
    """Who might this person already be (similar name + DOB, phone, SSN)?"""
    return service.check_duplicates(ctx, data)


@router.get("/patients/by-mrn/{mrn}", response_model=PatientOut)
def get_by_mrn(mrn: str, ctx: Context = Depends(permission(PATIENTS_READ))) -> PatientOut:
    """A patient by MRN or alias; a merged record's MRN answers with the survivor."""
    return service.get_patient_by_mrn(ctx, mrn)


@router.get("/patients/{patient_id}", response_model=PatientOut)
def get_patient(patient_id: str, ctx: Context = Depends(permission(PATIENTS_READ))) -> PatientOut:
    return service.get_patient(ctx, parse_id(patient_id, "patient"))


@router.patch("/patients/{patient_id}", response_model=PatientOut)
def update_patient(
    patient_id: str, data: PatientUpdate, ctx: Context = Depends(permission(PATIENTS_WRITE))
) -> PatientOut:
    return service.update_patient(ctx, parse_id(patient_id, "patient"), data)


# --- coverage -------------------------------------------------------------------------------------


@router.get("/patients/{patient_id}/coverages", response_model=list[CoverageOut])
def list_coverages(patient_id: str, ctx: Context = Depends(permission(PATIENTS_READ)),
                   page: Pager = PAGED) -> list[CoverageOut]:
    return page.of(coverage.list_coverages(ctx, parse_id(patient_id, "patient")))


@router.post("/patients/{patient_id}/coverages", response_model=CoverageOut, status_code=201)
def add_coverage(patient_id: str, data: CoverageIn, ctx: Context = Depends(permission(PATIENTS_WRITE))) -> CoverageOut:
    return coverage.add_coverage(ctx, parse_id(patient_id, "patient"), data)


@router.get("/coverages/{coverage_id}", response_model=CoverageOut)
def get_coverage(coverage_id: str, ctx: Context = Depends(permission(PATIENTS_READ))) -> CoverageOut:
    return coverage.get_coverage(ctx, parse_id(coverage_id, "coverage"))


@router.put("/coverages/{coverage_id}", response_model=CoverageOut)
def update_coverage(
    coverage_id: str, data: CoverageIn, ctx: Context = Depends(permission(PATIENTS_WRITE))
) -> CoverageOut:
    return coverage.update_coverage(ctx, parse_id(coverage_id, "coverage"), data)


@router.post("/coverages/{coverage_id}/end", response_model=CoverageOut)
def end_coverage(coverage_id: str, ctx: Context = Depends(permission(PATIENTS_WRITE))) -> CoverageOut:
    return coverage.end_coverage(ctx, parse_id(coverage_id, "coverage"))


@router.get("/payers", response_model=list[PayerOut])
def list_payers(include_inactive: bool = False, ctx: Context = Depends(permission(PATIENTS_READ)),
                page: Pager = PAGED) -> list[PayerOut]:
    return page.of(coverage.list_payers(ctx, include_inactive=include_inactive), key=by("name"))


@router.post("/payers", response_model=PayerOut, status_code=201)
def create_payer(data: PayerIn, ctx: Context = Depends(permission(PAYERS_MANAGE))) -> PayerOut:
    return coverage.create_payer(ctx, data)


@router.post("/payers/{payer_id}/deactivate", response_model=PayerOut)
def deactivate_payer(payer_id: str, ctx: Context = Depends(permission(PAYERS_MANAGE))) -> PayerOut:
    return coverage.set_payer_active(ctx, parse_id(payer_id, "payer"), False)


@router.get("/payers/{payer_id}", response_model=PayerOut)
def get_payer(payer_id: str, ctx: Context = Depends(permission(PATIENTS_READ))) -> PayerOut:
    return coverage.get_payer(ctx, parse_id(payer_id, "payer"))


@router.put("/payers/{payer_id}", response_model=PayerOut)
def update_payer(payer_id: str, data: PayerIn, ctx: Context = Depends(permission(PAYERS_MANAGE))) -> PayerOut:
    """Change a payer's details (the payer id stays unique in the organisation)."""
    return coverage.update_payer(ctx, parse_id(payer_id, "payer"), data)


@router.post("/payers/{payer_id}/activate", response_model=PayerOut)
def activate_payer(payer_id: str, ctx: Context = Depends(permission(PAYERS_MANAGE))) -> PayerOut:
    return coverage.set_payer_active(ctx, parse_id(payer_id, "payer"), True)


# --- alerts ---------------------------------------------------------------------------------------


@router.get("/patients/{patient_id}/alerts", response_model=list[AlertOut])
def list_alerts(patient_id: str, ctx: Context = Depends(permission(PATIENTS_READ)),
                page: Pager = PAGED) -> list[AlertOut]:
    """The patient's alerts (e.g. a positive PHQ-9 item 9), open ones first."""
    return page.of(alerts.list_alerts(ctx, parse_id(patient_id, "patient")))


@router.post("/patients/{patient_id}/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge_alert(patient_id: str, alert_id: str, data: AlertAcknowledgeIn | None = None,
                      ctx: Context = Depends(permission(PATIENTS_ALERTS))) -> AlertOut:
    """A person acknowledges the alert (who and when are recorded); a second time is 409."""
    return alerts.acknowledge_alert(ctx, parse_id(patient_id, "patient"), parse_id(alert_id, "alert"),
                                    data.note if data else "")


# --- merge ----------------------------------------------------------------------------------------


@router.post("/patients/{patient_id}/merge", response_model=MergeOut, status_code=201)
def merge_into(patient_id: str, data: MergeIn, ctx: Context = Depends(permission(PATIENTS_MERGE))) -> MergeOut:
    """Merge `merged_id` into this patient (the survivor)."""
    return merge.merge_patients(ctx, parse_id(patient_id, "patient"), data.merged_id, data.reason)


@router.get("/patients/{patient_id}/merges", response_model=list[MergeOut])
def list_merges(patient_id: str, ctx: Context = Depends(permission(PATIENTS_MERGE)),
                page: Pager = PAGED) -> list[MergeOut]:
    return page.of(merge.list_merges(ctx, parse_id(patient_id, "patient")))


@router.post("/merges/{merge_id}/undo", response_model=MergeOut)
def undo_merge(
    merge_id: str,
    reason: Annotated[str, Form(min_length=1, max_length=500)] = "undo",
    ctx: Context = Depends(permission(PATIENTS_MERGE)),
) -> MergeOut:
    return merge.unmerge(ctx, parse_id(merge_id, "merge"), reason)


# --- documents ------------------------------------------------------------------------------------


def read_upload(file: UploadFile) -> bytes:
    """Read at most one byte past the limit, so a huge upload is refused without buffering it."""
    return file.file.read(documents.max_bytes() + 1)


@router.get("/patients/{patient_id}/documents", response_model=list[DocumentOut])
def list_documents(patient_id: str, ctx: Context = Depends(permission(DOCUMENTS_READ)),
                   page: Pager = PAGED) -> list[DocumentOut]:
    return page.of(documents.list_documents(ctx, parse_id(patient_id, "patient")))


@router.post("/patients/{patient_id}/documents", response_model=DocumentOut, status_code=201)
def upload_document(
    patient_id: str,
    file: Annotated[UploadFile, File()],
    kind: Annotated[Literal["card_front", "card_back", "consent", "id", "other"], Form()],
    coverage_id: Annotated[str | None, Form()] = None,
    ctx: Context = Depends(permission(DOCUMENTS_WRITE)),
) -> DocumentOut:
    """Upload a PNG, JPEG or PDF (type checked from the bytes, size limited)."""
    return documents.upload_document(
        ctx,
        parse_id(patient_id, "patient"),
        read_upload(file),
        kind=kind,
        filename=file.filename,
        coverage_id=parse_id(coverage_id, "coverage") if coverage_id else None,
    )


@router.get("/patients/{patient_id}/documents/{document_id}/content")
def document_content(patient_id: str, document_id: str, ctx: Context = Depends(permission(DOCUMENTS_READ))) -> Response:
    """The file itself, audited; served as a download so it never renders in the app's origin."""
    doc = documents.read_document(ctx, parse_id(patient_id, "patient"), parse_id(document_id, "document"))
    disposition = "inline" if doc.meta.content_type.startswith("image/") else "attachment"
    name = doc.meta.filename or f"{doc.meta.kind}"
    return Response(
        doc.data,
        media_type=doc.meta.content_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )


# --- import ---------------------------------------------------------------------------------------


@router.post("/patient-imports", responses={202: {"description": "queued for the worker (a large file)"}})
def import_file(
    file: Annotated[UploadFile, File()],
    location_code: Annotated[str, Form(min_length=1, max_length=30)],
    kind: Annotated[Literal["patients", "coverages"], Form()] = "patients",
    source: Annotated[str, Form(max_length=60)] = "import",
    dry_run: Annotated[bool, Form()] = True,
    encoding: Annotated[str, Form(max_length=20)] = "utf-8",
    mapping: Annotated[str | None, Form(max_length=20000, description="JSON object: header -> field")] = None,
    background: Annotated[bool | None, Form(description="run in the worker (default: when the file is large)")
                          ] = None,
    ctx: Context = Depends(permission(PATIENTS_IMPORT)),
) -> Response:
    """Dry-run (default) or apply a CSV/XLSX file; the report lists every bad row.

    A file larger than `PRAXIS_IMPORT_BACKGROUND_BYTES` (or `background=true`) is queued for the
    worker: 202 with the job, to poll at `GET /api/v1/patient-imports/{job_id}` until its status
    is `done` (the report is in the job) or `failed`."""
    parsed = importer.parse_mapping(mapping)
    # The upload is spooled to disk by the form parser and streamed from there: never read whole.
    size = importer.file_size(file.file)
    if background or (background is None and import_jobs.runs_in_background(size)):
        job = import_jobs.start_import_job(ctx, kind, file.file, filename=file.filename or "",
                                           location_code=location_code, source=source, mapping=parsed,
                                           dry_run=dry_run, encoding=encoding)
        return JSONResponse(import_jobs.job_out(job), status_code=202,
                            headers={"Location": f"/api/v1/patient-imports/{job.id}"})
    report = importer.run_import(
        ctx,
        kind,
        file.file,
        filename=file.filename or "",
        location_code=location_code,
        source=source,
        mapping=parsed,
        dry_run=dry_run,
        encoding=encoding,
    )
    return JSONResponse(jsonable_encoder(report.to_dict()))


@router.get("/patient-imports/{job_id}")
def get_import_job(job_id: str, ctx: Context = Depends(permission(PATIENTS_IMPORT))) -> dict[str, object]:
    """A queued import: status (queued, running, done, failed), progress, and the report when done."""
    return import_jobs.job_out(import_jobs.get_import_job(ctx, parse_id(job_id, "import job")))

"""FHIR bulk export (`$export`, Bulk Data Access IG): kick-off, status, cancel and download.

Kick-off answers 202 with the status URL in Content-Location; the worker builds the NDJSON files
(interop.export); the status URL answers 202 with X-Progress while it runs, then the manifest.
Only the API client that asked may poll, cancel or download (anyone else gets 404).
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from praxis.formats.fhir import build
from praxis.interop import export
from praxis.interop.api.fhir import FHIR_JSON, base_url, fhir_response, parse_id, router
from praxis.platform.context import Context
from praxis.platform.errors import ValidationProblem
from praxis.web.deps import authenticated

NDJSON = "application/fhir+ndjson"
_FORMATS = {NDJSON, "application/ndjson", "ndjson"}
_KNOWN = {"_type", "_since", "_outputFormat", "_typeFilter"}
RETRY_AFTER_SECONDS = 2


def _kickoff(request: Request, ctx: Context, level: str) -> Response:
    accept = request.headers.get("accept", "")
    if FHIR_JSON not in accept:
        raise ValidationProblem("Send Accept: application/fhir+json (the Bulk Data kick-off requires it)",
                                field="Accept", status=400)
    if "respond-async" not in request.headers.get("prefer", ""):
        raise ValidationProblem("Send Prefer: respond-async (a bulk export always runs asynchronously)",
                                field="Prefer", status=400)
    for key in request.query_params:
        if key not in _KNOWN:
            raise ValidationProblem(f"Parameter {key!r} is not supported; supported: {', '.join(sorted(_KNOWN))}",
                                    field=key, status=400)
    fmt = request.query_params.get("_outputFormat")
    if fmt is not None and fmt not in _FORMATS:
        raise ValidationProblem(f"_outputFormat must be {NDJSON}", field="_outputFormat", status=400)
    types = None
    if (raw := request.query_params.get("_type")) is not None:
        types = [t.strip() for t in raw.split(",") if t.strip()]
        if not types:
            raise ValidationProblem("_type is empty", field="_type", status=400)
    since = None
    if (raw := request.query_params.get("_since")) is not None:
        try:
            since = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            since = None
        if since is None or since.tzinfo is None:
            raise ValidationProblem("_since must be an instant with its offset (2026-12-07T09:00:00Z)",
                                    field="_since", status=400)
    job = export.start_export(ctx, level=level, types=types, since=since, request_url=str(request.url),
                              type_filters=_type_filters(request))
    return Response(status_code=202, headers={"Content-Location": f"{base_url(request)}/$export-status/{job.id}"})


def _type_filters(request: Request) -> dict[str, list[str]] | None:
    """`_typeFilter` (repeatable, comma-separated): type -> its queries, still URL-encoded inside
    (a comma within a query is sent as %252C, so that it survives the split)."""
    raws = request.query_params.getlist("_typeFilter")
    if not raws:
        return None
    out: dict[str, list[str]] = {}
    for raw in raws:
        for part in raw.split(","):
            kind, mark, query = part.strip().partition("?")
            if not kind or not mark:
                raise ValidationProblem(f"_typeFilter {part.strip()!r} is not Type?search-parameters (URL-encoded, "
                                        "e.g. Patient%3Fbirthdate%3Dge2000-01-01)", field="_typeFilter", status=400)
            out.setdefault(kind, []).append(query)
    return out


@router.get("/$export", status_code=202)
def export_system(request: Request, ctx: Context = Depends(authenticated)) -> Response:
    """Kick off an export of the organisation: every type the token's scopes allow, or `_type`,
    each narrowed by its `_typeFilter` queries when given."""
    return _kickoff(request, ctx, "system")


@router.get("/Patient/$export", status_code=202)
def export_patients(request: Request, ctx: Context = Depends(authenticated)) -> Response:
    """Kick off an export of every patient and what points at them (the patient compartment)."""
    return _kickoff(request, ctx, "patient")


# Starlette tries routes in order: `Patient/$export` must come before `Patient/{patient_id}`.
_mine = [r for r in router.routes if getattr(r, "path", "").endswith("/$export")]
router.routes[:] = _mine + [r for r in router.routes if r not in _mine]


def _manifest(request: Request, job: Any) -> dict[str, Any]:
    base = base_url(request)
    return {
        "transactionTime": build.instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [{"type": o["type"], "url": f"{base}/$export-file/{o['file_id']}", "count": o["count"]}
                   for o in job.output if not o.get("deleted")],
        # With `_since`: transaction Bundles of DELETEs (decision 55); without it, nothing was
        # deleted relative to the client's copy, so the list is left out.
        **({"deleted": [{"type": "Bundle", "url": f"{base}/$export-file/{o['file_id']}", "count": o["count"]}
                        for o in job.output if o.get("deleted")]} if job.since is not None else {}),
        "error": [],
    }


@router.get("/$export-status/{export_id}")
def export_status(request: Request, export_id: str, ctx: Context = Depends(authenticated)) -> Response:
    """202 with X-Progress while the export runs; the manifest when done; an OperationOutcome
    (500) when it failed."""
    job = export.get_export(ctx, parse_id(export_id, "export"))
    if job.status in ("queued", "running"):
        return Response(status_code=202, headers={"X-Progress": job.progress or job.status,
                                                  "Retry-After": str(RETRY_AFTER_SECONDS)})
    if job.status == "failed":
        return fhir_response(build.operation_outcome(500, job.error or "The export failed"), 500)
    headers = {"Expires": format_datetime(job.expires_at, usegmt=True)} if job.expires_at else None
    return JSONResponse(_manifest(request, job), headers=headers)


@router.delete("/$export-status/{export_id}", status_code=202)
def export_cancel(export_id: str, ctx: Context = Depends(authenticated)) -> Response:
    """Cancel the export (or delete a finished one's files)."""
    export.cancel_export(ctx, parse_id(export_id, "export"))
    return Response(status_code=202)


@router.get("/$export-file/{export_file_id}")
def export_file(export_file_id: str, ctx: Context = Depends(authenticated)) -> Response:
    """One NDJSON file of the caller's finished export."""
    _kind, body = export.read_file(ctx, parse_id(export_file_id, "file"))
    return Response(body, media_type=NDJSON)

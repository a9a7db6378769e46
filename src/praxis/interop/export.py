"""FHIR bulk export (Bulk Data Access IG, `$export`) of one organisation, run by the worker.

Kick-off stores a job (the client that asked, the permissions it held, the types, `_since`,
`_typeFilter`) and
queues an outbox message in the same transaction; the worker builds NDJSON files, one resource
a line, up to FILE_RESOURCES resources per file, each stored encrypted in `fhir_export_files`
(decision 38). Only the client that asked may poll, cancel and download, and only until the files
expire (`settings.fhir_export_expire_minutes`). Every exported resource that names a patient is
audited to the client as it is stored ("fhir.export"), as a list screen audits what it shows.
A `_typeFilter` query means what the facade's search with that query means (fhir_search; decision
49); Slot is not exported (computed free time, see NOT_EXPORTED). With `_since`, the manifest's
`deleted` list holds NDJSON files of transaction Bundles, one DELETE entry per resource of an
exported type deleted since then (platform.deletions tombstones; decision 55).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select

from praxis.billing import records as billing_records
from praxis.formats.fhir import build
from praxis.intake import service as intake
from praxis.interop import fhir_search
from praxis.interop.fhir_search import TypeFilter
from praxis.interop.models import FhirExportFile, FhirExportJob
from praxis.interop.permissions import SMART_SCOPES, scope_name
from praxis.patients.access import visibility_clause, visible_locations
from praxis.patients.models import Coverage, Patient
from praxis.patients.permissions import PATIENTS_READ
from praxis.platform import audit, crypto, deletions, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import session_scope
from praxis.platform.errors import Forbidden, NotFound, ValidationProblem
from praxis.platform.settings import get_settings
from praxis.platform.uow import unit_of_work
from praxis.practice import service as practice
from praxis.scheduling import setup as scheduling_setup
from praxis.scheduling.models import Appointment
from praxis.scheduling.permissions import PROVIDER_LOCATIONS, SCHEDULING_READ

log = logging.getLogger("praxis.fhir_export")
TOPIC = "interop.fhir_export"
FILE_RESOURCES = 10_000
BATCH = 1000

# What an export can hold, in the order it is written: every type the facade reads but Slot. The
# patient compartment is what `Patient/$export` covers (the patients and what points at them).
EXPORT_TYPES = ("Organization", "Location", "Practitioner", "PractitionerRole", "Schedule", "Patient", "Coverage",
                "QuestionnaireResponse", "Appointment", "Encounter", "Claim")
PATIENT_TYPES = ("Patient", "Coverage", "QuestionnaireResponse", "Appointment", "Encounter", "Claim")
# Types the facade reads that no export holds, and why (the kick-off answers this for `_type`).
NOT_EXPORTED = {
    "Slot": "Slot is not exported: a slot is free time computed from templates and bookings for one visit "
            "type (not a stored record), without end in time, and no longer true once booked; search "
            "GET Slot?appointment-type=urn:praxis:visit-type|<id> for current availability",
}
FINISHED = ("done", "failed", "cancelled")
# Exported types whose resources can disappear outright: the tombstone kind that records it and
# the resource id a tombstone stands for. A Schedule is a provider at a location (fhir_search.schedule_id).
DELETED_FROM: dict[str, tuple[str, Callable[[Any], str]]] = {
    "Schedule": (PROVIDER_LOCATIONS, lambda d: fhir_search.schedule_id(d.parent_id, d.location_id)),
}

# An item of a batch: the resource, and the (resource id, patient id) the audit records.
Item = tuple[dict[str, Any], tuple[Any, uuid.UUID | None] | None]


def permitted_types(ctx: Context, level: str = "system") -> list[str]:
    """The exportable types whose SMART read scope the caller holds."""
    kinds = PATIENT_TYPES if level == "patient" else EXPORT_TYPES
    return [t for t in kinds if ctx.has(SMART_SCOPES[(t, "read")])]


def _refuse_kind(kind: str, level: str, field: str) -> None:
    """400 for a type this level cannot export, saying why."""
    if kind in NOT_EXPORTED:
        raise ValidationProblem(NOT_EXPORTED[kind], field=field, status=400)
    if level == "patient" and kind in EXPORT_TYPES:
        raise ValidationProblem(f"{kind} is outside the Patient compartment: Patient/$export holds "
                                f"{', '.join(PATIENT_TYPES)} (use $export for the others)", field=field, status=400)
    kinds = PATIENT_TYPES if level == "patient" else EXPORT_TYPES
    raise ValidationProblem(f"{field} {kind} cannot be exported here; supported: {', '.join(kinds)}", field=field,
                            status=400)


def compile_filters(type_filters: dict[str, list[str]] | None) -> dict[str, list[TypeFilter]]:
    """Each type's `_typeFilter` queries compiled (400 naming the filter and parameter if one is not
    a search of that type)."""
    return {kind: [fhir_search.type_filter(kind, q) for q in queries] for kind, queries in (type_filters or {}).items()}


def start_export(ctx: Context, *, level: str, types: list[str] | None, since: datetime | None,
                 request_url: str, type_filters: dict[str, list[str]] | None = None) -> FhirExportJob:
    """Queue an export for the worker. Without `types`: every type the caller's scopes allow;
    a type asked for but not allowed is refused (403) rather than silently left out.
    `type_filters` (type -> `_typeFilter` queries, OR'ed) narrow their types: each names a type
    of `types` when those are given, and is a search of that type (400 otherwise)."""
    kinds = PATIENT_TYPES if level == "patient" else EXPORT_TYPES
    if types is not None:
        for t in types:
            if t not in kinds:
                _refuse_kind(t, level, "_type")
        missing = [t for t in types if not ctx.has(SMART_SCOPES[(t, "read")])]
        if missing:
            raise Forbidden(f"Scope {', '.join(scope_name(t, 'read') for t in missing)} required to export "
                            f"{', '.join(missing)}")
        wanted = [t for t in kinds if t in types]
    else:
        wanted = permitted_types(ctx, level)
        if not wanted:
            raise Forbidden("No read scope of an exportable type (" + ", ".join(kinds) + ")")
    for t in type_filters or {}:
        if t not in kinds:
            _refuse_kind(t, level, "_typeFilter")
        if types is not None and t not in types:
            raise ValidationProblem(f"_typeFilter names {t}, which _type leaves out (_type={','.join(types)})",
                                    field="_typeFilter", status=400)
        if t not in wanted:
            raise Forbidden(f"Scope {scope_name(t, 'read')} required to export {t}")
    compile_filters(type_filters)
    perms = {SMART_SCOPES[(t, "read")] for t in wanted}
    snapshot = {p: None if ctx.scope(p) is None else sorted(str(x) for x in ctx.scope(p) or ()) for p in perms}
    with unit_of_work(ctx) as session:
        job = FhirExportJob(org_id=ctx.org_id, level=level, types=wanted, since=since, request_url=request_url[:2000],
                            type_filters={t: list(q) for t, q in (type_filters or {}).items()},
                            client_id=ctx.actor_id, actor_type=ctx.actor_type, actor_name=ctx.actor_name[:200],
                            permissions=snapshot, status="queued", progress="queued", transaction_time=now(),
                            output=[])
        session.add(job)
        session.flush()
        outbox.emit(session, TOPIC, {"job_id": str(job.id)})
        audit.record(session, ctx, "fhir.export_requested", "fhir_export", job.id,
                     detail={"level": level, "types": wanted, "since": since.isoformat() if since else None,
                             "filtered": sorted(type_filters or {})})  # the queries may name people: not here
        return job


def _own(session: Any, ctx: Context, job_id: uuid.UUID) -> FhirExportJob:
    """The caller's own job (another client's, or a cancelled one, is not found)."""
    job = session.scalars(select(FhirExportJob).where(FhirExportJob.id == job_id)).first()
    if job is None or job.client_id != ctx.actor_id or job.status == "cancelled":
        raise NotFound("No such export")
    return job


def get_export(ctx: Context, job_id: uuid.UUID) -> FhirExportJob:
    """An export the caller started (404 for anyone else's, or once its files expired)."""
    with unit_of_work(ctx) as session:
        job = _own(session, ctx, job_id)
        if job.expires_at is not None and job.expires_at <= now():
            raise NotFound("This export has expired")
        return job


def cancel_export(ctx: Context, job_id: uuid.UUID) -> None:
    """Cancel a running export or delete a finished one's files (the spec's DELETE on the status
    URL). The worker stops at its next batch; the job row stays for the record."""
    with unit_of_work(ctx) as session:
        job = _own(session, ctx, job_id)
        job.status, job.progress, job.finished_at = "cancelled", "cancelled by the client", job.finished_at or now()
        session.execute(delete(FhirExportFile).where(FhirExportFile.job_id == job.id))
        audit.record(session, ctx, "fhir.export_cancelled", "fhir_export", job.id)


def _aad(org_id: uuid.UUID, file_id: uuid.UUID) -> bytes:
    return f"fhir-export:{org_id}:{file_id}".encode()


def read_file(ctx: Context, file_id: uuid.UUID) -> tuple[str, str]:
    """(resource type, NDJSON) of a file of the caller's own finished, unexpired export; audited."""
    with unit_of_work(ctx) as session:
        f = session.scalars(select(FhirExportFile).where(FhirExportFile.id == file_id)).first()
        if f is None:
            raise NotFound("No such file")
        job = _own(session, ctx, f.job_id)
        if job.status != "done" or (job.expires_at is not None and job.expires_at <= now()):
            raise NotFound("No such file (expired or not ready)")
        audit.record(session, ctx, "fhir.export_download", "fhir_export", job.id,
                     detail={"file": str(f.id), "type": f.resource_type, "count": f.count})
        return f.resource_type, crypto.keyring().decrypt(f.content, aad=_aad(ctx.org_id, f.id))


def purge_expired(older_than: timedelta = timedelta(0)) -> int:
    """Delete the files of expired and cancelled exports (the worker calls this hourly)."""
    cutoff = now() - older_than
    with session_scope(None, system=True, reason="fhir export: purges expired export files") as s:
        gone = select(FhirExportJob.id).where(
            (FhirExportJob.expires_at <= cutoff) | (FhirExportJob.status.in_(("cancelled", "failed"))))
        result = s.execute(delete(FhirExportFile).where(FhirExportFile.job_id.in_(gone)))
        return int(getattr(result, "rowcount", 0) or 0)


# --- the worker ------------------------------------------------------------------------------------


def _context(job: FhirExportJob) -> Context:
    """The client that asked, with the permissions it held then (nothing more)."""
    perms = {p: None if locs is None else frozenset(uuid.UUID(x) for x in locs) for p, locs in job.permissions.items()}
    return Context(org_id=job.org_id, actor_id=job.client_id, actor_type=job.actor_type,
                   actor_name=job.actor_name or "FHIR export", roles=("fhir_export",), permissions=perms,
                   reason=f"FHIR bulk export {job.id}")


def _keyset(ctx: Context, model: Any, since: datetime | None, where: Callable[[Any], list[Any]],
            to_item: Callable[[Any], Item], keep: Callable[[Any], bool] | None = None) -> Iterator[list[Item]]:
    """Rows of one model in batches by id (stable while rows are added), built as they come; `keep`
    tests each row (a `_typeFilter` matched in Python)."""
    after: uuid.UUID | None = None
    while True:
        with unit_of_work(ctx) as session:
            stmt = select(model).where(*where(session))
            if since is not None:
                stmt = stmt.where(model.updated_at >= since)
            if after is not None:
                stmt = stmt.where(model.id > after)
            rows = list(session.scalars(stmt.order_by(model.id).limit(BATCH)))
        if not rows:
            return
        yield [to_item(r) for r in rows if keep is None or keep(r)]
        after = rows[-1].id


def _patients_where(ctx: Context) -> Callable[[Any], list[Any]]:
    def where(session: Any) -> list[Any]:
        locations = visible_locations(session, ctx, PATIENTS_READ)
        return [] if locations is None else [visibility_clause(locations)]
    return where


def _changed(since: datetime | None) -> Callable[[Any], bool]:
    """A row changed at or after `since` (rows from before `updated_at` existed: their creation)."""
    return lambda row: since is None or (row.updated_at or row.created_at) >= since


def _batches(items: list[Item]) -> Iterator[list[Item]]:
    for i in range(0, len(items), BATCH):
        yield items[i:i + BATCH]


def _source(ctx: Context, kind: str, since: datetime | None, filters: list[TypeFilter] | None = None
            ) -> Iterator[list[Item]]:
    """Batches of (resource, audit item) of one type within the caller's scope, changed since
    `since`, matching any of `filters` (`_typeFilter`: a SQL condition or a test of each row)."""
    conditions = [f.clause for f in filters or () if f.clause is not None]
    clause = or_(*conditions) if conditions else None
    tests = [f.match for f in filters or () if f.match is not None]

    def keep(row: Any) -> bool:
        return not tests or any(t(row) for t in tests)

    changed = _changed(since)
    # Organisation, locations and providers are configuration (tens of rows), read whole as the
    # read routes read them; the patient-bearing types stream in keyset batches.
    if kind == "Organization":
        yield [(build.organization(practice.get_organisation(ctx)), None)]
    elif kind == "Location":
        yield [(build.location(loc, ctx.org_id), None) for loc in practice.list_locations(ctx, include_inactive=True)
               if changed(loc) and keep(loc)]
    elif kind == "Practitioner":
        yield [(build.practitioner(p), None) for p, locs in scheduling_setup.list_providers(ctx, active_only=False)
               if changed(p) and keep((p, locs))]
    elif kind == "PractitionerRole":
        yield from _batches([(build.practitioner_role(p, locs), None) for p, locs in fhir_search.visible_providers(ctx)
                             if changed(p) and keep((p, locs))])
    elif kind == "Schedule":
        yield from _batches([(build.schedule(sid, p, loc), None) for sid, (p, loc) in fhir_search.sorted_schedules(ctx)
                             if changed(p) and keep((sid, (p, loc)))])
    elif kind == "Patient":
        visible = _patients_where(ctx)
        yield from _keyset(ctx, Patient, since, lambda s: [*visible(s), *([clause] if clause is not None else [])],
                           lambda p: (build.patient(p), (p.id, p.id)))
    elif kind == "Coverage":
        visible = _patients_where(ctx)

        def coverage_where(session: Any) -> list[Any]:
            clauses = visible(session)
            return [Coverage.patient_id.in_(select(Patient.id).where(*clauses))] if clauses else []
        yield from _keyset(ctx, Coverage, since, coverage_where, lambda c: (build.coverage(c), (c.id, c.patient_id)),
                           keep)
    elif kind == "QuestionnaireResponse":
        for subs in intake.iter_submissions(ctx, updated_since=since, batch=BATCH):
            yield [(build.questionnaire_response(sub), (sub.id, sub.patient_id)) for sub in subs if keep(sub)]
    elif kind == "Appointment":
        scope = ctx.scope(SCHEDULING_READ)
        yield from _keyset(ctx, Appointment, since,
                           lambda _s: [*([] if scope is None else [Appointment.location_id.in_(sorted(scope))]),
                                       *([clause] if clause is not None else [])],
                           lambda a: (build.appointment(a), (a.id, a.patient_id)))
    elif kind == "Encounter":
        for rows in billing_records.iter_encounters(ctx, updated_since=since, batch=BATCH, where=clause):
            yield [(build.encounter(e), (e.id, e.patient_id)) for e in rows]
    elif kind == "Claim":
        for recs in billing_records.iter_claims(ctx, updated_since=since, batch=BATCH, where=clause):
            yield [(build.claim(r.claim, r.lines, ctx.org_id), (r.claim.id, r.claim.patient_id)) for r in recs]


def _set(org_id: uuid.UUID, job_id: uuid.UUID, **values: Any) -> str | None:
    """Update the job; returns its status (None when gone), so the worker sees a cancel."""
    with session_scope(org_id) as s:
        job = s.scalars(select(FhirExportJob).where(FhirExportJob.id == job_id)).first()
        if job is None:
            return None
        if job.status == "cancelled":
            return "cancelled"
        for key, value in values.items():
            setattr(job, key, value)
        return job.status


class _Cancelled(Exception):
    pass


def _store(ctx: Context, job_id: uuid.UUID, kind: str, part: int, items: list[Item]) -> dict[str, Any]:
    """One NDJSON file, stored encrypted with the audit rows of what it holds (one transaction)."""
    body = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r, _ in items)
    file_id = uuid.uuid4()
    with unit_of_work(ctx) as session:
        session.add(FhirExportFile(id=file_id, org_id=ctx.org_id, job_id=job_id, resource_type=kind, part=part,
                                   count=len(items),
                                   content=crypto.keyring().encrypt(body, aad=_aad(ctx.org_id, file_id))))
        audit.record_many(session, ctx, "fhir.export", kind.lower(), [a for _, a in items if a is not None],
                          detail={"export": str(job_id)})
    stored: dict[str, Any] = {"type": kind, "count": len(items), "file_id": str(file_id)}
    if kind in DELETED_FROM:  # configuration (tens of rows): the ids the `deleted` list must leave out
        stored["ids"] = [r["id"] for r, _ in items]
    return stored


def run_export(org_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """Build every file of a queued export (files of an earlier, crashed attempt are dropped first)."""
    with session_scope(org_id) as s:
        job = s.scalars(select(FhirExportJob).where(FhirExportJob.id == job_id)).first()
        if job is None or job.status in FINISHED:
            return
        job.status, job.progress = "running", "starting"
        s.execute(delete(FhirExportFile).where(FhirExportFile.job_id == job_id))
        s.flush()
        s.expunge(job)
    ctx = _context(job)
    output: list[dict[str, Any]] = []
    try:
        filters = compile_filters(job.type_filters)
        for n, kind in enumerate(job.types, 1):
            pending: list[Item] = []
            part = 0
            written = 0
            for batch in _source(ctx, kind, job.since, filters.get(kind)):
                pending.extend(batch)
                while len(pending) >= FILE_RESOURCES:
                    part += 1
                    output.append(_store(ctx, job_id, kind, part, pending[:FILE_RESOURCES]))
                    written += FILE_RESOURCES
                    pending = pending[FILE_RESOURCES:]
                if _set(org_id, job_id, progress=f"{kind} ({n} of {len(job.types)} types): "
                                                  f"{written + len(pending)} resources") == "cancelled":
                    raise _Cancelled
            if pending:
                part += 1
                output.append(_store(ctx, job_id, kind, part, pending))
        if job.since is not None:
            output.extend(_store_deleted(ctx, job_id, job.types, job.since, output))
        output = [{k: v for k, v in o.items() if k != "ids"} for o in output]
        expires = now() + timedelta(minutes=get_settings().fhir_export_expire_minutes)
        _set(org_id, job_id, status="done", progress="done", output=output, finished_at=now(), expires_at=expires)
        with unit_of_work(ctx) as session:
            audit.record(session, ctx, "fhir.export_completed", "fhir_export", job_id,
                         detail={"files": len(output), "counts": _counts(output)})
    except _Cancelled:
        with session_scope(org_id) as s:
            s.execute(delete(FhirExportFile).where(FhirExportFile.job_id == job_id))
    except Exception as exc:
        log.exception("FHIR export failed", extra={"job_id": str(job_id)})
        _set(org_id, job_id, status="failed", progress="failed", finished_at=now(),
             error=f"The export stopped unexpectedly ({type(exc).__name__}); ask again")


def _counts(output: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in output:
        if not o.get("deleted"):
            counts[o["type"]] = counts.get(o["type"], 0) + o["count"]
    return counts


def deleted_references(ctx: Context, types: list[str], since: datetime) -> list[str]:
    """`Type/id` of each resource of `types` deleted at or after `since` that the caller could have
    read (the tombstones its permissions and locations cover), oldest deletion first, each once."""
    refs: dict[str, None] = {}
    for kind in types:
        if kind not in DELETED_FROM:
            continue
        tombstone_kind, resource_id = DELETED_FROM[kind]
        after = None
        while True:
            with unit_of_work(ctx) as session:
                rows = deletions.list_deletions(session, ctx, kinds=[tombstone_kind], since=since, after=after,
                                                limit=BATCH)
            refs.update((f"{kind}/{resource_id(d)}", None) for d in rows)
            if len(rows) < BATCH:
                break
            after = (rows[-1].deleted_at, rows[-1].id)
    return list(refs)


def deletion_bundle(references: list[str]) -> dict[str, Any]:
    """A transaction Bundle deleting each `Type/id` (the Bulk Data manifest's `deleted` files)."""
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"request": {"method": "DELETE", "url": ref}} for ref in references]}


def _store_deleted(ctx: Context, job_id: uuid.UUID, types: list[str], since: datetime,
                   output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `deleted` files: Bundles of up to BATCH entries, FILE_RESOURCES Bundles a file. A
    resource exported by this same run (deleted, then made again: a provider back at a location)
    exists and is not listed as deleted."""
    exported = {f"{o['type']}/{rid}" for o in output for rid in o.get("ids", ())}
    refs = [r for r in deleted_references(ctx, types, since) if r not in exported]
    bundles: list[Item] = [(deletion_bundle(refs[i:i + BATCH]), None) for i in range(0, len(refs), BATCH)]
    files = []
    for part, start in enumerate(range(0, len(bundles), FILE_RESOURCES), 1):
        files.append({**_store(ctx, job_id, "Bundle", part, bundles[start:start + FILE_RESOURCES]), "deleted": True})
    return files


def handle_export_job(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler: run a queued export. Idempotent: a finished job is left alone; one a
    crashed worker left running starts over."""
    if org_id is not None:
        run_export(org_id, uuid.UUID(str(payload["job_id"])))

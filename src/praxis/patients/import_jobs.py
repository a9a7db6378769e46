"""Large imports run in the worker (issue 17 finding 8).

Shared by every spreadsheet import (patients, coverages, and the kinds other domains register
with `register_kind`, e.g. the care programme import). A file over
`settings.import_background_bytes` is kept in the encrypted upload store and an
ImportJob row is queued with an outbox message in the same transaction; the worker streams the
file through the kind's runner (`importer.run_import` for patients; all or nothing, as always)
acting as the person who asked, and writes its progress to the job row, which the import screen
polls (htmx) and the API returns.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import select

from praxis.patients import importer
from praxis.patients.import_uploads import UPLOAD_PERMISSIONS, discard_upload, open_upload, stash_upload
from praxis.patients.models import ImportJob
from praxis.patients.permissions import PATIENTS_IMPORT
from praxis.platform import outbox
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_engine, get_or_404, session_scope
from praxis.platform.errors import Forbidden, NotFound, ProblemError, ValidationProblem
from praxis.platform.settings import get_settings
from praxis.platform.uow import unit_of_work
from praxis.practice.models import Location

log = logging.getLogger("praxis.import")
TOPIC = "patients.import_job"
PROGRESS_EVERY_SECONDS = 1.0
# The import's stages before it writes (every other stage name is a kind being written).
READING_STAGES = ("read", "validate", "done")


@dataclass(frozen=True)
class ImportKind:
    """An import the worker can run: the permission it needs at the job's location and the
    function that runs it (`importer.run_import`'s signature, returning an ImportReport)."""

    permission: str
    runner: Callable[..., importer.ImportReport]


KINDS: dict[str, ImportKind] = {
    "patients": ImportKind(PATIENTS_IMPORT, importer.run_import),
    "coverages": ImportKind(PATIENTS_IMPORT, importer.run_import),
}


def register_kind(kind: str, permission: str, runner: Callable[..., importer.ImportReport]) -> None:
    """Let another domain's spreadsheet import use the jobs, the upload store and the worker
    (called by wiring: e.g. the care import registers its kinds with care:enrol)."""
    KINDS[kind] = ImportKind(permission, runner)
    UPLOAD_PERMISSIONS.add(permission)


def runs_in_background(size: int) -> bool:
    """Whether a file of `size` bytes is imported by the worker rather than during the request."""
    return size > get_settings().import_background_bytes


def start_import_job(ctx: Context, kind: importer.Kind, data: bytes | BinaryIO, *, filename: str = "",
                     location_code: str, source: str | None = None, mapping: dict[str, str] | None = None,
                     dry_run: bool = True, encoding: str = "utf-8", upload_token: str | None = None) -> ImportJob:
    """Queue an import for the worker; returns the job (status "queued"). The caller's permission
    for the location is checked now, and the worker acts with that same scope. `upload_token`
    names a file already in the upload store (the import screen keeps one per upload)."""
    if kind not in KINDS:
        raise ValidationProblem(f"kind must be one of {', '.join(KINDS)}", field="kind")
    needed = KINDS[kind].permission
    importer.check_text_inputs(location_code=location_code, source=source, encoding=encoding, filename=filename,
                               mapping=mapping)
    importer.check_size(data, filename)
    with unit_of_work(ctx) as session:
        location = session.scalars(select(Location).where(Location.code == location_code)).first()
        if location is None:
            raise NotFound(f"No location with code {location_code!r}", field="location")
        ctx.require(needed, location.id, what="location")
        location_id = location.id
    token = upload_token or stash_upload(ctx, filename, data)
    scope = ctx.scope(needed)
    with unit_of_work(ctx) as session:
        job = ImportJob(org_id=ctx.org_id, kind=kind, source_name=(source or "import").strip()[:60] or "import",
                        location_id=location_id, location_code=location_code, filename=filename[:255],
                        encoding=encoding[:20],
                        mapping=mapping, dry_run=dry_run, upload_token=token, actor_id=ctx.actor_id,
                        actor_type=ctx.actor_type, actor_name=ctx.actor_name[:200],
                        import_scope=None if scope is None else sorted(str(x) for x in scope),
                        status="queued", stage="queued")
        session.add(job)
        session.flush()
        outbox.emit(session, TOPIC, {"job_id": str(job.id)})
        return job


def get_import_job(ctx: Context, job_id: uuid.UUID, permission: str = PATIENTS_IMPORT) -> ImportJob:
    """A job of the caller's organisation at a location where they may import (404 otherwise: its
    report names patients); needs the import permission. Each domain reads its own kinds' jobs
    (`permission` names the domain's import permission): another domain's job is not found."""
    if not ctx.has(permission):
        raise Forbidden(f"Permission {permission} required")
    with unit_of_work(ctx) as session:
        job = get_or_404(session, ImportJob, job_id, "import job")
        kind = KINDS.get(job.kind)
        if kind is None or kind.permission != permission or not ctx.can(permission, job.location_id):
            raise NotFound("No such import job", field="import job")
        return job


def job_out(job: ImportJob) -> dict[str, Any]:
    """What the API answers and the screen shows for a job."""
    return {"id": str(job.id), "kind": job.kind, "status": job.status, "stage": job.stage,
            "dry_run": job.dry_run, "filename": job.filename, "done_rows": job.done_rows,
            "total_rows": job.total_rows, "error": job.error, "report": job.report,
            "created_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


def _update(org_id: uuid.UUID, job_id: uuid.UUID, **values: Any) -> None:
    with session_scope(org_id) as s:
        job = s.scalars(select(ImportJob).where(ImportJob.id == job_id)).first()
        if job is not None:
            for key, value in values.items():
                setattr(job, key, value)


def _context(job: ImportJob) -> Context:
    """The person who asked, with nothing but the import permission at the scope they had."""
    scope = None if job.import_scope is None else frozenset(uuid.UUID(x) for x in job.import_scope)
    return Context(org_id=job.org_id, actor_id=job.actor_id, actor_type=job.actor_type,
                   actor_name=job.actor_name or "import job", roles=("import_job",),
                   permissions={KINDS[job.kind].permission: scope}, reason=f"import job {job.id}")


def handle_import_job(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler: run a queued import. Idempotent: a finished job is left alone, and a job a
    crashed worker left "running" runs again (the import wrote nothing: it is all or nothing)."""
    if org_id is None:
        return
    job_id = uuid.UUID(str(payload["job_id"]))
    with session_scope(org_id) as s:
        job = s.scalars(select(ImportJob).where(ImportJob.id == job_id)).first()
        if job is None or job.status in ("done", "failed"):
            return
        if job.kind not in KINDS:  # a kind nobody registered (wiring) cannot run: say so
            job.status, job.stage, job.finished_at = "failed", "done", now()
            job.error = f"No importer for {job.kind!r}"
            return
        job.status, job.stage = "running", "read"
        s.flush()
        s.expunge(job)
    ctx = _context(job)
    opened = open_upload(ctx, job.upload_token)
    if opened is None:
        _update(org_id, job_id, status="failed", stage="done", finished_at=now(),
                error="The uploaded file is gone (it expires after 6 hours); upload it again")
        return
    filename, fh = opened
    sqlite = get_engine().dialect.name == "sqlite"
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        # SQLite has one writer: once the import writes, its transaction holds the lock until it
        # commits, so progress is recorded only while it checks rows (reads). PostgreSQL records all.
        if sqlite and stage not in ("read", "validate"):
            return
        if time.monotonic() - last[0] < PROGRESS_EVERY_SECONDS and stage not in ("read",):
            return
        last[0] = time.monotonic()
        try:
            _update(org_id, job_id, stage="write" if stage not in READING_STAGES else stage,
                    done_rows=done, total_rows=total)
        except Exception:  # progress is a courtesy: it must never break the import
            log.warning("import job progress not recorded", exc_info=True)

    try:
        with fh:
            report = KINDS[job.kind].runner(ctx, job.kind, fh, filename=filename, location_code=job.location_code,
                                            source=job.source_name, mapping=job.mapping, dry_run=job.dry_run,
                                            encoding=job.encoding, progress=progress)
    except ProblemError as exc:
        _update(org_id, job_id, status="failed", stage="done", finished_at=now(), error=exc.detail[:2000])
        return
    except Exception as exc:
        log.exception("import job failed", extra={"job_id": str(job_id)})
        _update(org_id, job_id, status="failed", stage="done", finished_at=now(),
                error=f"The import stopped unexpectedly ({type(exc).__name__}); nothing was written")
        return
    if report.applied:
        discard_upload(ctx, job.upload_token)
    _update(org_id, job_id, status="done", stage="done", finished_at=now(), report=report.to_dict(),
            done_rows=report.total_rows, total_rows=report.total_rows)

"""Care-management screens: the coordinator's worklist with the timer (htmx), and the month-end
review with one approval. Thin: parse the form, call one service function, render."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from praxis.care import closing, importing, months, review, timing
from praxis.care.permissions import CARE_APPROVE, CARE_ENROL, CARE_LOG, CARE_READ
from praxis.patients import import_jobs, importer
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(include_in_schema=False)
register_nav("Care", "/care", CARE_READ)
register_nav("Care month", "/care/month", CARE_APPROVE)
register_nav("Care import", "/care/import", CARE_ENROL)


def _month(month: str | None) -> str:
    return months.parse_month(month) if month else now().strftime("%Y-%m")


def _previous(month: str) -> str:
    return months.month_of(months.first_day(month) - timedelta(days=1))


def _timers(ctx: Context) -> list[dict[str, Any]]:
    if not ctx.has(CARE_LOG) or ctx.actor_id is None:
        return []
    return [{"t": t, "running": t.running_since is not None, "elapsed": timing.elapsed_seconds(t)}
            for t in timing.my_timers(ctx)]


def _panel(request: Request, ctx: Context, error: str = "", status_code: int = 200) -> Response:
    return render(request, "care/_timer.html", {"timers": _timers(ctx), "error": error,
                                                 "activities": timing.ACTIVITIES}, status_code=status_code)


@router.get("/care")
def worklist(request: Request, month: str | None = None, location_id: str | None = None,
             ctx: Context = Depends(permission(CARE_READ))) -> Response:
    month = _month(month)
    rows = closing.worklist(ctx, month, location_id=parse_id(location_id, "location") if location_id else None)
    return render(request, "care/worklist.html", {
        "month": month, "rows": rows, "timers": _timers(ctx), "activities": timing.ACTIVITIES,
        "can_log": ctx.has(CARE_LOG), "previous": _previous(month), "error": ""})


@router.post("/care/enrolments/{enrolment_id}/timer")
def start_timer(request: Request, enrolment_id: str, activity: str = Form("coordination"),
                interactive: bool = Form(False), ctx: Context = Depends(permission(CARE_LOG))) -> Response:
    try:
        timing.start_timer(ctx, parse_id(enrolment_id, "enrolment"), activity=activity, interactive=interactive)
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _panel(request, ctx, exc.detail, 200 if request.headers.get("HX-Request") else exc.status)
    if not request.headers.get("HX-Request"):
        return RedirectResponse("/care", status_code=303)
    return _panel(request, ctx)


@router.post("/care/timers/{timer_id}/{action}")
def timer_action(request: Request, timer_id: str, action: str, note: str = Form(""),
                 ctx: Context = Depends(permission(CARE_LOG))) -> Response:
    tid = parse_id(timer_id, "timer")
    error = ""
    try:
        if action == "pause":
            timing.pause_timer(ctx, tid)
        elif action == "resume":
            timing.resume_timer(ctx, tid)
        elif action == "stop":
            timing.stop_timer(ctx, tid, note=note)
        else:
            return render(request, "web/error.html", {"title": "Not found", "detail": "No such action",
                                                      "status": 404}, status_code=404)
    except ProblemError as exc:
        if exc.status == 404:
            raise
        error = exc.detail
    if not request.headers.get("HX-Request"):
        return RedirectResponse("/care", status_code=303)
    return _panel(request, ctx, error)


@router.get("/care/timers")
def timer_panel(request: Request, ctx: Context = Depends(permission(CARE_LOG))) -> Response:
    return _panel(request, ctx)


@router.get("/care/month")
def month_review(request: Request, month: str | None = None, ctx: Context = Depends(permission(CARE_APPROVE))
                 ) -> Response:
    month = _month(month) if month else _previous(_month(None))
    rows = closing.billing_preview(ctx, month)
    settings = closing.get_settings(ctx)
    group_of = review.classify(rows, settings)
    groups: dict[str, list[Any]] = {"errors": [], "reached": [], "close": [], "miss": []}
    for r in rows:
        groups[group_of[r.enrolment.id]].append(r)
    month_review = review.build_review(ctx, month, rows, settings)
    approved = {m.enrolment_id: m for m in closing.list_approved(ctx, month)}
    return render(request, "care/month.html", {"month": month, "groups": groups, "approved": approved,
                                               "review": month_review,
                                               "message": request.query_params.get("approved", "")})


@router.post("/care/month/approve")
def approve(request: Request, month: str = Form(...), ctx: Context = Depends(permission(CARE_APPROVE))) -> Response:
    try:
        created = closing.approve_month(ctx, month)
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return render(request, "web/error.html", {"title": "Cannot approve", "detail": exc.detail,
                                                  "status": exc.status}, status_code=exc.status)
    return RedirectResponse(f"/care/month?month={month}&approved={len(created)}", status_code=303)


# --- programme import (issue 16 item 9) -------------------------------------------------------------

IMPORT_KINDS = {"care_enrolments": "Enrolled patients and consents", "care_time": "Past time logs"}


def _import_locations(ctx: Context) -> list[Any]:
    from praxis.practice.service import list_locations

    return list_locations(ctx, permission=CARE_ENROL)


@router.get("/care/import")
def import_page(request: Request, ctx: Context = Depends(permission(CARE_ENROL))) -> Response:
    return render(request, "care/import.html", {"kinds": IMPORT_KINDS, "locations": _import_locations(ctx),
                                                "form": {}, "report": None, "job": None, "error": "", "upload": ""})


@router.post("/care/import")
async def import_run(request: Request, ctx: Context = Depends(permission(CARE_ENROL))) -> Response:
    """Check (dry run) a new file, or apply the kept one: the file is kept (encrypted) between the
    two steps, as on the patient import; a large file goes to the worker and the page polls it."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    kind = values.get("kind") if values.get("kind") in IMPORT_KINDS else "care_enrolments"
    file = form.get("file")
    upload = values.get("upload", "")
    report, job, error, data, filename = None, None, "", None, ""
    if isinstance(file, UploadFile) and file.filename:
        filename, data, upload, dry_run = file.filename, file.file, "", True
    else:
        dry_run = "apply" not in values
        stashed = await run_in_threadpool(importer.open_upload, ctx, upload) if upload else None
        if stashed:
            filename, data = stashed
        else:
            upload = ""
    if data is None:
        error = "Choose a CSV or Excel file"
    else:
        try:
            date_format = values.get("date_format") or None
            if not upload:
                importer.check_size(data, filename)
                upload = await run_in_threadpool(importer.stash_upload, ctx, filename, data)
            if import_jobs.runs_in_background(importer.file_size(data)):
                job = await run_in_threadpool(lambda: import_jobs.start_import_job(
                    ctx, kind, data, filename=filename, location_code=values.get("location_code", ""),
                    mapping={"date_format": date_format} if date_format else None, dry_run=dry_run,
                    upload_token=upload))
            else:
                report = await run_in_threadpool(lambda: importing.run_care_import(
                    ctx, kind, data, filename=filename, location_code=values.get("location_code", ""),
                    dry_run=dry_run, date_format=date_format))
        except ProblemError as exc:
            error = exc.detail
        finally:
            if data is not None and not isinstance(file, UploadFile):
                data.close()
    if report is not None and report.applied:
        await run_in_threadpool(importer.discard_upload, ctx, upload)
        upload = ""
    return render(request, "care/import.html", {
        "kinds": IMPORT_KINDS, "locations": await run_in_threadpool(_import_locations, ctx), "form": values,
        "kind": kind, "report": report.to_dict() if report else None, "error": error, "upload": upload,
        "job": import_jobs.job_out(job) if job else None, "filename": filename}, status_code=422 if error else 200)


@router.get("/care/import/jobs/{job_id}")
def import_job_status(request: Request, job_id: str, ctx: Context = Depends(permission(CARE_ENROL))) -> Response:
    """The progress panel of a queued programme import (htmx polls it until the job is finished)."""
    job = import_jobs.get_import_job(ctx, parse_id(job_id, "import job"), CARE_ENROL)
    return render(request, "care/_import_job.html", {"job": import_jobs.job_out(job)})

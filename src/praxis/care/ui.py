"""Care-management screens: the coordinator's worklist with the timer (htmx), and the month-end
review with one approval. Thin: parse the form, call one service function, render."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from praxis.care import careplan, closing, importing, months, packet, review, service, timing, views
from praxis.care.permissions import CARE_APPROVE, CARE_ENROL, CARE_LOG, CARE_PLAN, CARE_READ
from praxis.care.schemas import CarePlanIn, EnrolmentIn, TimeEntryIn
from praxis.patients import import_jobs, importer
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import NotFound, ProblemError
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


# --- the patient's care page, enrolment with consent, the care-plan editor, the audit packet -------
# (appended by the careplan branch; helpers first, then the routes)


def _form_dict(raw: Any) -> dict[str, str]:
    return {k: v for k, v in raw.items() if k != "csrf_token" and isinstance(v, str)}


def _errors_of(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"])
        out.setdefault(key, err["msg"])
    return out


def _rows(form: dict[str, str], prefix: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """Indexed rows `prefix-N-name` of the editor; a row whose first field is blank is left out."""
    out = []
    for i in range(_MAX_ROWS):
        row = {n: form.get(f"{prefix}-{i}-{n}", "").strip() for n in names}
        if row[names[0]]:
            out.append(row)
    return out


_MAX_ROWS = 60
_GOAL = ("description", "measure", "target", "target_date")
_INTERVENTION = ("description", "responsible", "frequency")
_TEAM = ("name", "role", "contact")


def _care_page(request: Request, ctx: Context, patient_id: str, month: str | None, *,
               errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
               message: str = "", status_code: int = 200) -> Response:
    month = _month(month)
    care = views.patient_care(ctx, parse_id(patient_id, "patient"), month)
    return render(request, "care/patient.html", {
        "care": care, "month": month, "previous": _previous(month), "timers": _timers(ctx),
        "activities": timing.ACTIVITIES, "can_log": ctx.has(CARE_LOG), "can_enrol": ctx.has(CARE_ENROL),
        "can_plan": ctx.has(CARE_PLAN), "errors": errors or {}, "form": form or {}, "message": message,
        "error": "", "now": now()}, status_code=status_code)


@router.get("/care/patients/{patient_id}")
def patient_care(request: Request, patient_id: str, month: str | None = None,
                 ctx: Context = Depends(permission(CARE_READ))) -> Response:
    return _care_page(request, ctx, patient_id, month, message=request.query_params.get("saved", ""))


@router.post("/care/enrolments/{enrolment_id}/entries")
async def add_manual_entry(request: Request, enrolment_id: str, ctx: Context = Depends(permission(CARE_LOG))
                           ) -> Response:
    eid = parse_id(enrolment_id, "enrolment")
    form = _form_dict(await request.form())
    enrolment = await run_in_threadpool(service.get_enrolment, ctx, eid)  # 404 before anything else
    values: dict[str, Any] = {"activity": form.get("activity", ""), "minutes": form.get("minutes") or None,
                              "role": form.get("role") or "staff", "note": form.get("note", ""),
                              "interactive": form.get("interactive") == "on",
                              "reason": form.get("reason") or None}
    try:
        local = datetime.fromisoformat(form.get("started_at", ""))
        zone = await run_in_threadpool(views.enrolment_zone, ctx, enrolment)
        values["started_at"] = local.replace(tzinfo=ZoneInfo(zone)) if local.tzinfo is None else local
        data = TimeEntryIn.model_validate(values)
        await run_in_threadpool(timing.add_entry, ctx, eid, **data.model_dump())
    except ValueError as exc:
        errors = (_errors_of(exc) if isinstance(exc, ValidationError)
                  else {"started_at": "enter the date and time the work started"})
        return await run_in_threadpool(_care_page, request, ctx, str(enrolment.patient_id), None,
                                       errors={f"entry.{k}": v for k, v in errors.items()}, form=form,
                                       status_code=422)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await run_in_threadpool(_care_page, request, ctx, str(enrolment.patient_id), None,
                                       errors={f"entry.{exc.field or 'form'}": exc.detail}, form=form,
                                       status_code=exc.status)
    return RedirectResponse(f"/care/patients/{enrolment.patient_id}?saved=Time+entry+logged.", status_code=303)


def _local_instant(ctx: Context, value: str | None, location_id: str) -> Any:
    """A datetime-local field carries no zone: read it in the chosen location's zone (left as it
    is when it cannot be, so validation names the field)."""
    if not value:
        return value
    try:
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo(views.location_zone(ctx, uuid.UUID(location_id))))
    except (ValueError, ProblemError):
        return value
    return at


def _enrol_page(request: Request, ctx: Context, patient_id: str, *, errors: dict[str, str] | None = None,
                form: dict[str, str] | None = None, status_code: int = 200) -> Response:
    care = views.patient_care(ctx, parse_id(patient_id, "patient"), _month(None))
    return render(request, "care/enrol.html", {"care": care, "errors": errors or {}, "form": form or {},
                                               **views.enrol_choices(ctx), "now": now()}, status_code=status_code)


@router.get("/care/patients/{patient_id}/enrol")
def enrol_form(request: Request, patient_id: str, ctx: Context = Depends(permission(CARE_ENROL))) -> Response:
    return _enrol_page(request, ctx, patient_id)


@router.post("/care/patients/{patient_id}/enrol")
async def enrol_submit(request: Request, patient_id: str, ctx: Context = Depends(permission(CARE_ENROL))
                       ) -> Response:
    pid = parse_id(patient_id, "patient")
    form = _form_dict(await request.form())
    told = ("told_availability", "told_cost_sharing", "told_stop_month_end", "told_one_practitioner")
    consent: dict[str, Any] | None = None
    if form.get("consent_method"):
        consent = {"method": form["consent_method"], "obtained_at": form.get("consent_obtained_at") or None,
                   "obtained_by_name": form.get("consent_obtained_by") or None, "note": form.get("consent_note", ""),
                   **{k: form.get(k) == "on" for k in told}}
        consent["obtained_at"] = await run_in_threadpool(_local_instant, ctx, consent["obtained_at"],
                                                         form.get("location_id", ""))
    values = {"patient_id": str(pid), "provider_id": form.get("provider_id") or None,
              "location_id": form.get("location_id") or None, "program": form.get("program") or None,
              "complex": form.get("complex") == "on", "start_date": form.get("start_date") or None,
              "initiating_visit_on": form.get("initiating_visit_on") or None,
              "initiating_visit_kind": form.get("initiating_visit_kind") or None, "consent": consent}
    try:
        data = EnrolmentIn.model_validate(values)
        await run_in_threadpool(service.enrol, ctx, data)
    except ValidationError as exc:
        return await run_in_threadpool(_enrol_page, request, ctx, patient_id, errors=_errors_of(exc), form=form,
                                       status_code=422)
    except ProblemError as exc:
        if exc.status in (401, 403) or (exc.status == 404 and exc.field not in ("provider_id", "location_id")):
            raise
        return await run_in_threadpool(_enrol_page, request, ctx, patient_id,
                                       errors={exc.field or "form": exc.detail}, form=form, status_code=exc.status)
    return RedirectResponse(f"/care/patients/{pid}?saved=Enrolled.", status_code=303)


def _plan_page(request: Request, ctx: Context, enrolment_id: str, *, version_id: uuid.UUID | None = None,
               errors: dict[str, str] | None = None, form: dict[str, str] | None = None, message: str = "",
               status_code: int = 200) -> Response:
    eid = parse_id(enrolment_id, "enrolment")
    enrolment = service.get_enrolment(ctx, eid)
    versions = careplan.list_versions(ctx, eid)
    shown = next((v for v in versions if v.id == version_id), None) if version_id else None
    if version_id is not None and shown is None:
        raise NotFound("No such care plan version", field="plan_version_id")
    current = versions[0] if versions else None
    base = shown or current
    content: dict[str, Any] = dict(base.content) if base else {}
    return render(request, "care/plan.html", {
        "enrolment": enrolment, "versions": versions, "current": current, "shown": shown, "content": content,
        "problems": service.list_problems(ctx, enrolment.patient_id), "errors": errors or {}, "form": form,
        "message": message, "can_plan": ctx.has(CARE_PLAN), "blank_rows": 2,
        "review_on": base.review_on if base else None,
        "linked": {p.get("id") for p in content.get("problems", [])},
        "staff": views.team_suggestions(ctx)}, status_code=status_code)


@router.get("/care/enrolments/{enrolment_id}/care-plan")
def plan_editor(request: Request, enrolment_id: str, ctx: Context = Depends(permission(CARE_READ))) -> Response:
    return _plan_page(request, ctx, enrolment_id, message=request.query_params.get("saved", ""))


@router.get("/care/care-plan-versions/{plan_version_id}")
def plan_version(request: Request, plan_version_id: str, ctx: Context = Depends(permission(CARE_READ))) -> Response:
    v = careplan.get_version(ctx, parse_id(plan_version_id, "care plan version"))
    return _plan_page(request, ctx, str(v.enrolment_id), version_id=v.id)


@router.post("/care/enrolments/{enrolment_id}/care-plan")
async def plan_save(request: Request, enrolment_id: str, ctx: Context = Depends(permission(CARE_PLAN))) -> Response:
    eid = parse_id(enrolment_id, "enrolment")
    raw = await request.form()
    form = _form_dict(raw)
    values = {"problem_ids": [v for v in raw.getlist("problem_ids") if isinstance(v, str)],
              "goals": [{k: v for k, v in r.items() if v or k == "description"} for r in _rows(form, "goal", _GOAL)],
              "interventions": _rows(form, "intervention", _INTERVENTION), "team": _rows(form, "team", _TEAM),
              "summary": form.get("summary", ""), "review_on": form.get("review_on") or None,
              "substantial_revision": form.get("substantial_revision") == "on",
              "revision_reason": form.get("revision_reason", ""),
              "based_on_version": form.get("based_on_version") or None}
    try:
        data = CarePlanIn.model_validate(values)
        saved = await run_in_threadpool(careplan.save_plan, ctx, eid, data)
    except ValidationError as exc:
        return await run_in_threadpool(_plan_page, request, ctx, enrolment_id, errors=_errors_of(exc), form=form,
                                       status_code=422)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await run_in_threadpool(_plan_page, request, ctx, enrolment_id,
                                       errors={exc.field or "form": exc.detail}, form=form, status_code=exc.status)
    return RedirectResponse(f"/care/enrolments/{eid}/care-plan?saved=Saved+as+version+{saved.version}.",
                            status_code=303)


@router.get("/care/patients/{patient_id}/audit-packet.pdf")
def audit_packet_pdf(patient_id: str, month: str, ctx: Context = Depends(permission(CARE_READ))) -> Response:
    """The audit packet of the patient-month (the same PDF as the API's; audited as a PHI access)."""
    pdf = packet.audit_packet(ctx, parse_id(patient_id, "patient"), months.parse_month(month))
    return Response(pdf.content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{pdf.filename}"'})


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

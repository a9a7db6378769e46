"""JSON API of care management under /api/v1/care (thin: parse, declare permission, call service)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, File, Form, Query, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from praxis.care import careplan, closing, importing, packet, review, rpm, service, timing
from praxis.care.closing import PreviewRow
from praxis.care.models import CareTimer
from praxis.care.months import MONTH_PATTERN
from praxis.care.permissions import CARE_APPROVE, CARE_DEVICE, CARE_ENROL, CARE_LOG, CARE_PLAN, CARE_READ
from praxis.care.schemas import (
    ApproveIn,
    CareMonthOut,
    CarePlanIn,
    CarePlanVersionOut,
    ConsentOut,
    DayCountIn,
    DayCountOut,
    DisenrolIn,
    EligibilityOut,
    EnrolmentIn,
    EnrolmentOut,
    MonthReviewOut,
    PreviewOut,
    ProblemIn,
    ProblemOut,
    ReadingsIn,
    ReadingsOut,
    ResolveIn,
    SettingsIO,
    TimeEntryEdit,
    TimeEntryIn,
    TimeEntryOut,
    TimerOut,
    TimerStartIn,
    TimerStopIn,
)
from praxis.patients import import_jobs, importer
from praxis.platform.context import Context
from praxis.platform.errors import NotFound
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.paging import PAGED, Pager, by, created
from praxis.web.routes import Router

router = Router(prefix="/api/v1/care", tags=["care"])
Month = Annotated[str, Query(pattern=MONTH_PATTERN, description="A calendar month, YYYY-MM")]


def timer_out(t: CareTimer) -> TimerOut:
    return TimerOut(id=t.id, enrolment_id=t.enrolment_id, patient_id=t.patient_id, activity=t.activity, role=t.role,
                    started_at=t.started_at, running=t.running_since is not None,
                    elapsed_seconds=timing.elapsed_seconds(t), updated_at=t.updated_at)


def preview_out(r: PreviewRow) -> PreviewOut:
    e, res = r.enrolment, r.result
    return PreviewOut(enrolment_id=e.id, patient_id=e.patient_id, patient_name=r.patient_name, mrn=r.mrn,
                      provider_id=e.provider_id, location_id=e.location_id, program=e.program, codes=res.codes,
                      lane=res.lane, minutes=res.minutes, next_code=res.next_code,
                      minutes_to_next=res.minutes_to_next, reasons=list(res.reasons), approved=r.approved,
                      days_left=r.days_left)


# --- problems, eligibility, enrolment --------------------------------------------------------------


@router.get("/patients/{patient_id}/problems", response_model=list[ProblemOut])
def list_problems(patient_id: str, ctx: Context = Depends(permission(CARE_READ)),
                  page: Pager = PAGED) -> list[ProblemOut]:
    return page.of([ProblemOut.model_validate(p) for p in service.list_problems(ctx, parse_id(patient_id, "patient"))])


@router.post("/patients/{patient_id}/problems", response_model=ProblemOut, status_code=201)
def add_problem(patient_id: str, data: ProblemIn, ctx: Context = Depends(permission(CARE_ENROL))) -> ProblemOut:
    return ProblemOut.model_validate(service.add_problem(ctx, parse_id(patient_id, "patient"), data))


@router.post("/problems/{problem_id}/resolve", response_model=ProblemOut)
def resolve_problem(problem_id: str, data: ResolveIn, ctx: Context = Depends(permission(CARE_ENROL))) -> ProblemOut:
    return ProblemOut.model_validate(service.resolve_problem(ctx, parse_id(problem_id, "problem"), data.resolved_on))


@router.get("/eligibility", response_model=list[EligibilityOut])
def eligibility(ctx: Context = Depends(permission(CARE_ENROL)), page: Pager = PAGED) -> list[EligibilityOut]:
    """Patients whose problem list makes them eligible for CCM or PCM and who are not enrolled."""
    return page.of(service.eligibility_worklist(ctx), key=lambda e: (e.patient_id,), updated=None)


@router.post("/enrolments", response_model=EnrolmentOut, status_code=201)
def enrol(data: EnrolmentIn, ctx: Context = Depends(permission(CARE_ENROL))) -> EnrolmentOut:
    return EnrolmentOut.model_validate(service.enrol(ctx, data))


@router.get("/enrolments", response_model=list[EnrolmentOut])
def list_enrolments(patient_id: str | None = None, location_id: str | None = None, active_on: date | None = None,
                    ctx: Context = Depends(permission(CARE_READ)), page: Pager = PAGED) -> list[EnrolmentOut]:
    return page.of([EnrolmentOut.model_validate(e) for e in service.list_enrolments(
        ctx, patient_id=parse_id(patient_id, "patient") if patient_id else None,
        location_id=parse_id(location_id, "location") if location_id else None, active_on=active_on)])


@router.get("/enrolments/{enrolment_id}", response_model=EnrolmentOut)
def get_enrolment(enrolment_id: str, ctx: Context = Depends(permission(CARE_READ))) -> EnrolmentOut:
    return EnrolmentOut.model_validate(service.get_enrolment(ctx, parse_id(enrolment_id, "enrolment")))


@router.post("/enrolments/{enrolment_id}/disenrol", response_model=EnrolmentOut)
def disenrol(enrolment_id: str, data: DisenrolIn, ctx: Context = Depends(permission(CARE_ENROL))) -> EnrolmentOut:
    """End the enrolment at the end of the calendar month (CMS: the patient may stop at month end)."""
    return EnrolmentOut.model_validate(service.disenrol(ctx, parse_id(enrolment_id, "enrolment"), reason=data.reason,
                                                       requested_on=data.requested_on))


@router.get("/patients/{patient_id}/consents/{provider_id}", response_model=ConsentOut)
def get_consent(patient_id: str, provider_id: str, ctx: Context = Depends(permission(CARE_READ))) -> ConsentOut:
    consent = service.get_consent(ctx, parse_id(patient_id, "patient"), parse_id(provider_id, "provider"))
    if consent is None:
        raise NotFound("No consent with this practitioner", field="provider_id")
    return ConsentOut.model_validate(consent)


# --- time ------------------------------------------------------------------------------------------


@router.get("/enrolments/{enrolment_id}/entries", response_model=list[TimeEntryOut])
def list_entries(enrolment_id: str, month: Month, ctx: Context = Depends(permission(CARE_READ)),
                 page: Pager = PAGED) -> list[TimeEntryOut]:
    return page.of([TimeEntryOut.model_validate(e) for e in timing.list_entries(
        ctx, parse_id(enrolment_id, "enrolment"), month)], key=by("started_at"))


@router.post("/enrolments/{enrolment_id}/entries", response_model=TimeEntryOut, status_code=201)
def add_entry(enrolment_id: str, data: TimeEntryIn, ctx: Context = Depends(permission(CARE_LOG))) -> TimeEntryOut:
    return TimeEntryOut.model_validate(timing.add_entry(ctx, parse_id(enrolment_id, "enrolment"),
                                                        **data.model_dump()))


@router.patch("/time-entries/{time_entry_id}", response_model=TimeEntryOut)
def edit_entry(time_entry_id: str, data: TimeEntryEdit, ctx: Context = Depends(permission(CARE_LOG))) -> TimeEntryOut:
    """Edit or void an entry; once its month is approved a reason is required and the edit is flagged."""
    changes = data.model_dump(exclude_unset=True, exclude={"reason"})
    return TimeEntryOut.model_validate(timing.edit_entry(ctx, parse_id(time_entry_id, "time entry"), changes,
                                                         reason=data.reason))


@router.get("/timers", response_model=list[TimerOut])
def my_timers(ctx: Context = Depends(permission(CARE_LOG)), page: Pager = PAGED) -> list[TimerOut]:
    """The caller's own timers (running first)."""
    return page.of([timer_out(t) for t in timing.my_timers(ctx)])


@router.post("/enrolments/{enrolment_id}/timer", response_model=TimerOut, status_code=201)
def start_timer(enrolment_id: str, data: TimerStartIn, ctx: Context = Depends(permission(CARE_LOG))) -> TimerOut:
    """Start a timer; 409 `care-timer-running` while another of the caller's timers runs."""
    return timer_out(timing.start_timer(ctx, parse_id(enrolment_id, "enrolment"), **data.model_dump()))


@router.post("/timers/{timer_id}/pause", response_model=TimerOut)
def pause_timer(timer_id: str, ctx: Context = Depends(permission(CARE_LOG))) -> TimerOut:
    return timer_out(timing.pause_timer(ctx, parse_id(timer_id, "timer")))


@router.post("/timers/{timer_id}/resume", response_model=TimerOut)
def resume_timer(timer_id: str, ctx: Context = Depends(permission(CARE_LOG))) -> TimerOut:
    return timer_out(timing.resume_timer(ctx, parse_id(timer_id, "timer")))


@router.post("/timers/{timer_id}/stop", response_model=TimeEntryOut | None)
def stop_timer(timer_id: str, data: TimerStopIn, ctx: Context = Depends(permission(CARE_LOG))) -> TimeEntryOut | None:
    """Stop the timer; its whole minutes become a time entry (null under one minute)."""
    entry = timing.stop_timer(ctx, parse_id(timer_id, "timer"), note=data.note, interactive=data.interactive)
    return TimeEntryOut.model_validate(entry) if entry else None


# --- RPM -------------------------------------------------------------------------------------------


@router.post("/rpm/readings", response_model=ReadingsOut)
def post_readings(data: ReadingsIn, ctx: Context = Depends(permission(CARE_DEVICE))) -> ReadingsOut:
    """Device readings from a vendor, idempotent by the vendor's reading id; all or nothing."""
    result = rpm.post_readings(ctx, [rpm.ReadingIn(**r.model_dump()) for r in data.readings])
    return ReadingsOut(accepted=result.accepted, duplicates=result.duplicates)


@router.post("/enrolments/{enrolment_id}/rpm-day-counts", response_model=DayCountOut)
def post_day_count(enrolment_id: str, data: DayCountIn, ctx: Context = Depends(permission(CARE_DEVICE))
                   ) -> DayCountOut:
    """A vendor's count of days with data in one 30-day period, idempotent by `count_id`."""
    return DayCountOut.model_validate(rpm.post_day_count(ctx, parse_id(enrolment_id, "enrolment"),
                                                         **data.model_dump()))


# --- the month -------------------------------------------------------------------------------------


@router.get("/billing-preview", response_model=list[PreviewOut])
def billing_preview(month: Month, patient_id: str | None = None, provider_id: str | None = None,
                    location_id: str | None = None, ctx: Context = Depends(permission(CARE_READ)),
                    page: Pager = PAGED) -> list[PreviewOut]:
    """Per enrolment: codes and units the engine would bill, minutes per lane, minutes to the next
    code and the reasons for anything not billed."""
    return page.of([preview_out(r) for r in closing.billing_preview(
        ctx, month, patient_id=parse_id(patient_id, "patient") if patient_id else None,
        provider_id=parse_id(provider_id, "provider") if provider_id else None,
        location_id=parse_id(location_id, "location") if location_id else None)],
        key=lambda r: (r.enrolment_id,), updated=None)


@router.get("/worklist", response_model=list[PreviewOut])
def worklist(month: Month, location_id: str | None = None, ctx: Context = Depends(permission(CARE_READ)),
             page: Pager = PAGED) -> list[PreviewOut]:
    # The worklist's order is its point (most urgent first): paged by position in that order.
    ranked = enumerate(preview_out(r) for r in closing.worklist(
        ctx, month, location_id=parse_id(location_id, "location") if location_id else None))
    return [row for _, row in page.of(list(ranked), key=lambda ir: (ir[0],), updated=None)]


@router.post("/months/approve", response_model=list[CareMonthOut])
def approve_month(data: ApproveIn, ctx: Context = Depends(permission(CARE_APPROVE))) -> list[CareMonthOut]:
    """Approve a finished month (the newly approved enrolments are returned; a repeat returns none)."""
    return [CareMonthOut.model_validate(m) for m in closing.approve_month(ctx, **data.model_dump())]


@router.get("/months", response_model=list[CareMonthOut])
def approved(month: Month, ctx: Context = Depends(permission(CARE_READ)), page: Pager = PAGED) -> list[CareMonthOut]:
    """The approved months (frozen codes) in the caller's locations."""
    return page.of([CareMonthOut.model_validate(m) for m in closing.list_approved(ctx, month)])


@router.get("/settings", response_model=SettingsIO)
def get_settings(ctx: Context = Depends(permission(CARE_READ))) -> SettingsIO:
    s = closing.get_settings(ctx)
    return SettingsIO(pool_practitioner_minutes=s.pool_practitioner_minutes,
                      rpm_setup_min_days=s.rpm_setup_min_days, short_window_minutes=s.short_window_minutes)


@router.put("/settings", response_model=SettingsIO)
def put_settings(data: SettingsIO, ctx: Context = Depends(permission(CARE_APPROVE))) -> SettingsIO:
    s = closing.update_settings(ctx, **data.model_dump(exclude_none=True))
    return SettingsIO(pool_practitioner_minutes=s.pool_practitioner_minutes,
                      rpm_setup_min_days=s.rpm_setup_min_days, short_window_minutes=s.short_window_minutes)


# --- care plans and the audit packet ---------------------------------------------------------------


@router.post("/enrolments/{enrolment_id}/care-plan", response_model=CarePlanVersionOut, status_code=201)
def save_care_plan(enrolment_id: str, data: CarePlanIn, ctx: Context = Depends(permission(CARE_PLAN))
                   ) -> CarePlanVersionOut:
    """Save the enrolment's care plan: always a new immutable version (the first establishes the
    plan). Send `based_on_version` to get 409 `care-plan-stale` instead of overwriting a newer save."""
    return CarePlanVersionOut.model_validate(careplan.save_plan(ctx, parse_id(enrolment_id, "enrolment"), data))


@router.get("/enrolments/{enrolment_id}/care-plan/versions", response_model=list[CarePlanVersionOut])
def care_plan_versions(enrolment_id: str, ctx: Context = Depends(permission(CARE_READ)),
                       page: Pager = PAGED) -> list[CarePlanVersionOut]:
    """Every version of the enrolment's care plan, newest first (the first item is the current plan).
    Versions never change, so `updated_since` means saved since."""
    return page.of([CarePlanVersionOut.model_validate(v)
                    for v in careplan.list_versions(ctx, parse_id(enrolment_id, "enrolment"))],
                   key=lambda v: (-v.version, v.id), updated=created)


@router.get("/care-plan-versions/{plan_version_id}", response_model=CarePlanVersionOut)
def care_plan_version(plan_version_id: str, ctx: Context = Depends(permission(CARE_READ))) -> CarePlanVersionOut:
    return CarePlanVersionOut.model_validate(careplan.get_version(ctx, parse_id(plan_version_id, "care plan version")))


@router.get("/patients/{patient_id}/audit-packet", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def audit_packet(patient_id: str, month: Month, ctx: Context = Depends(permission(CARE_READ))) -> Response:
    """The audit packet of one patient-month as PDF: consent, the care-plan versions in force, every
    time entry with author and note, and the codes approved and by whom (audited as a PHI access)."""
    pdf = packet.audit_packet(ctx, parse_id(patient_id, "patient"), month)
    return Response(pdf.content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{pdf.filename}"'})


# --- month-end review (issue 16 item 7) -------------------------------------------------------------


@router.get("/month-review", response_model=MonthReviewOut)
def month_review(month: Month, location_id: str | None = None, ctx: Context = Depends(permission(CARE_READ))
                 ) -> MonthReviewOut:
    """Per billing practitioner and per main coordinator: who reached a code, who is a few minutes
    short (and by how many), who will miss, and who needs a person to decide."""
    r = review.month_review(ctx, month, location_id=parse_id(location_id, "location") if location_id else None)
    return MonthReviewOut.model_validate(asdict(r))


# --- programme import (issue 16 item 9) -------------------------------------------------------------


@router.post("/imports", responses={202: {"description": "queued for the worker (a large file)"}})
def import_programme(
    file: Annotated[UploadFile, File()],
    location_code: Annotated[str, Form(min_length=1, max_length=30)],
    kind: Annotated[Literal["care_enrolments", "care_time"], Form()] = "care_enrolments",
    source: Annotated[str, Form(max_length=60)] = "import",
    dry_run: Annotated[bool, Form()] = True,
    encoding: Annotated[str, Form(max_length=20)] = "utf-8",
    mapping: Annotated[str | None, Form(max_length=20000, description="JSON object: header -> field")] = None,
    date_format: Annotated[Literal["MM/DD/YYYY", "DD/MM/YYYY", "YYYY-MM-DD"] | None, Form()] = None,
    background: Annotated[bool | None, Form(description="run in the worker (default: when the file is large)")
                          ] = None,
    ctx: Context = Depends(permission(CARE_ENROL)),
) -> Response:
    """Dry-run (default) or apply a CSV/XLSX of an existing programme: `care_enrolments` (patients,
    programme, billing practitioner NPI, complexity, consent) or `care_time` (past time logs). All
    or nothing; the report lists every bad row by row and column. A large file (or
    `background=true`) is queued: 202 with the job, to poll at `GET /api/v1/care/imports/{job_id}`."""
    parsed = importer.parse_mapping(mapping)
    size = importer.file_size(file.file)
    if background or (background is None and import_jobs.runs_in_background(size)):
        # The job carries the stated date format in its mapping, as the patient import's does.
        job_mapping = {**(parsed or {}), "date_format": date_format} if date_format else parsed
        job = import_jobs.start_import_job(ctx, kind, file.file, filename=file.filename or "",
                                           location_code=location_code, source=source, mapping=job_mapping,
                                           dry_run=dry_run, encoding=encoding)
        return JSONResponse(import_jobs.job_out(job), status_code=202,
                            headers={"Location": f"/api/v1/care/imports/{job.id}"})
    report = importing.run_care_import(ctx, kind, file.file, filename=file.filename or "",
                                       location_code=location_code, source=source, mapping=parsed, dry_run=dry_run,
                                       encoding=encoding, date_format=date_format)
    return JSONResponse(jsonable_encoder(report.to_dict()))


@router.get("/imports/{job_id}")
def get_import_job(job_id: str, ctx: Context = Depends(permission(CARE_ENROL))) -> dict[str, object]:
    """A queued programme import: status (queued, running, done, failed), progress, the report when done."""
    return import_jobs.job_out(import_jobs.get_import_job(ctx, parse_id(job_id, "import job"), CARE_ENROL))

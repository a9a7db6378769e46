"""The booking screen: find the patient (nothing pre-selected), keep them in view, list the first
open slots across locations in time order with each clinic's local time, confirm (visit type,
provider, location, local time and zone, reason, the reminder that will go out), book, and show
the new visit highlighted on the schedule. Rescheduling uses the same screens."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from praxis.patients.service import find_patients, get_patient
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError, ValidationProblem
from praxis.platform.ids import parse_id
from praxis.practice.service import list_locations
from praxis.scheduling import confirm, service, setup, ui_commands
from praxis.scheduling.availability import SlotFilter, to_local
from praxis.scheduling.permissions import SCHEDULING_BOOK
from praxis.scheduling.ui.base import local_today, parse_day, router
from praxis.web.deps import permission
from praxis.web.templating import render

permission_book = permission(SCHEDULING_BOOK)
TimeOfDay = Literal["any", "morning", "afternoon", "evening"]


def _instant(value: str, field: str = "start_at") -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationProblem("Pick one of the times shown", field=field) from None
    if parsed.tzinfo is None:
        raise ValidationProblem("Pick one of the times shown", field=field)
    return parsed


def _patient(ctx: Context, patient_id: str | None) -> Any:
    return get_patient(ctx, parse_id(patient_id, "patient")) if patient_id else None


def _rescheduling(ctx: Context, reschedule: str | None) -> Any:
    return service.get_appointment(ctx, parse_id(reschedule, "appointment")) if reschedule else None


@router.get("/scheduling/book")
def book_page(request: Request, visit_type_id: str | None = None, patient_id: str | None = None,
              q: str | None = None, location_id: list[str] | None = Query(None), from_date: str | None = None,
              time_of_day: TimeOfDay = "any", reschedule: str | None = None, at: str | None = None,
              provider_id: str | None = None, ctx: Context = Depends(permission_book)) -> Response:
    locations = list_locations(ctx, permission=SCHEDULING_BOOK)
    visit_types = setup.list_visit_types(ctx)
    moving = _rescheduling(ctx, reschedule)
    if moving is not None:
        patient_id, visit_type_id = str(moving.patient_id), str(moving.visit_type_id)
    chosen_locs = [parse_id(x, "location") for x in location_id] if location_id else [loc.id for loc in locations]
    home = next((loc for loc in locations if loc.id == ctx.location_id), locations[0] if locations else None)
    day, date_error = parse_day(from_date, "from_date", "From")
    if day is None and home is not None:
        day = local_today(home.timezone)
    data: dict[str, Any] = {
        "locations": locations, "visit_types": visit_types, "chosen_locations": chosen_locs,
        "visit_type_id": visit_type_id, "patient_id": patient_id, "q": q or "", "from_date": day,
        "from_text": from_date if date_error else (day.isoformat() if day else ""), "time_of_day": time_of_day,
        "slots": None, "patients": [], "patient": None, "moving": moving, "form_error": date_error,
        "reschedule": reschedule or "", "fixed": None, "carry": "",
    }
    if at and provider_id and location_id:
        # From a free cell of the grid: the time and provider are chosen; pick patient and visit type.
        try:
            start = _instant(at, "at")
        except ValidationProblem as exc:
            return render(request, "scheduling/book.html", {**data, "form_error": exc.detail}, status_code=422)
        loc = next((x for x in locations if x.id == chosen_locs[0]), None)
        data["fixed"] = {"start_at": at, "provider_id": provider_id, "location_id": location_id[0],
                         "when": confirm.when(to_local(start, loc.timezone)) if loc else at,
                         "location": loc.name if loc else ""}
        data["carry"] = "&" + urlencode({"at": at, "provider_id": provider_id, "location_id": location_id[0]})
    if patient_id:
        data["patient"] = _patient(ctx, patient_id)
    elif q:
        try:
            data["patients"] = find_patients(ctx, q=q, limit=10)
        except ProblemError as exc:
            data["form_error"] = exc.detail
    if visit_type_id and patient_id and not date_error and data["fixed"] is None:
        try:
            slots = service.search_slots(ctx, parse_id(visit_type_id, "visit type"), from_date=day, days=30,
                                         location_ids=chosen_locs, slot_filter=SlotFilter(time_of_day=time_of_day),
                                         limit=20, permission=SCHEDULING_BOOK)
        except ProblemError as exc:
            if exc.status in (401, 403):
                raise
            data["form_error"] = exc.detail
        else:
            providers = {p.id: p.display_name for p, _ in setup.list_providers(ctx)}
            loc_names = {loc.id: loc.name for loc in locations}
            base = {"patient_id": patient_id, "visit_type_id": visit_type_id}
            if reschedule:
                base["reschedule"] = reschedule
            data["slots"] = [{
                "s": s, "provider": providers.get(s.provider_id, ""), "location": loc_names.get(s.location_id, ""),
                "href": "/scheduling/book/confirm?" + urlencode({
                    **base, "provider_id": str(s.provider_id), "location_id": str(s.location_id),
                    "start_at": s.start_at.isoformat()}),
            } for s in sorted(slots, key=lambda s: (s.start_at, loc_names.get(s.location_id, "")))]
    return render(request, "scheduling/book.html", data, status_code=422 if date_error else 200)


def _confirm_data(ctx: Context, patient_id: str, visit_type_id: str, provider_id: str, location_id: str,
                  start_at: str, reschedule: str | None) -> dict[str, Any]:
    moving = _rescheduling(ctx, reschedule)
    try:
        start: datetime | None = _instant(start_at)
    except ValidationProblem:
        start = None  # preview_booking checks the identifiers first, then refuses the time
    preview = confirm.preview_booking(
        ctx, patient_id=parse_id(patient_id, "patient"), visit_type_id=parse_id(visit_type_id, "visit type"),
        provider_id=parse_id(provider_id, "provider"), location_id=parse_id(location_id, "location"),
        start_at=start)
    back = {"patient_id": patient_id, "visit_type_id": visit_type_id,
            "from_date": preview.local_start.date().isoformat()}
    if reschedule:
        back["reschedule"] = reschedule
    return {"patient": _patient(ctx, patient_id), "p": preview, "when": confirm.when(preview.local_start),
            "patient_id": patient_id, "visit_type_id": visit_type_id, "provider_id": provider_id,
            "location_id": location_id, "start_at": start_at, "moving": moving, "reschedule": reschedule or "",
            "back": "/scheduling/book?" + urlencode(back), "reason": ""}


@router.get("/scheduling/book/confirm")
def confirm_page(request: Request, patient_id: str, visit_type_id: str, provider_id: str, location_id: str,
                 start_at: datetime, reschedule: str | None = None,
                 ctx: Context = Depends(permission_book)) -> Response:
    try:
        data = _confirm_data(ctx, patient_id, visit_type_id, provider_id, location_id, start_at.isoformat(),
                             reschedule)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse("/scheduling/book?" + urlencode(
            {"patient_id": patient_id, "visit_type_id": visit_type_id}), status_code=303)
    return render(request, "scheduling/book_confirm.html", data)


@router.post("/scheduling/book")
def book_confirm(request: Request, patient_id: str = Form(...), visit_type_id: str = Form(...),
                 provider_id: str = Form(...), location_id: str = Form(...), start_at: datetime = Form(...),
                 reason_for_visit: str = Form(""), reschedule: str = Form(""),
                 ctx: Context = Depends(permission_book)) -> Response:
    try:
        start = _instant(start_at.isoformat())
        if reschedule:
            appt = ui_commands.reschedule(ctx, parse_id(reschedule, "appointment"), start_at=start,
                                          provider_id=parse_id(provider_id, "provider"),
                                          location_id=parse_id(location_id, "location"))
        else:
            appt = ui_commands.book(ctx, patient_id=parse_id(patient_id, "patient"),
                                    visit_type_id=parse_id(visit_type_id, "visit type"),
                                    provider_id=parse_id(provider_id, "provider"),
                                    location_id=parse_id(location_id, "location"), start_at=start,
                                    reason_for_visit=reason_for_visit.strip())
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        data = _confirm_data(ctx, patient_id, visit_type_id, provider_id, location_id, start_at.isoformat(),
                             reschedule)
        data.update(error=exc.detail, reason=reason_for_visit)
        return render(request, "scheduling/book_confirm.html", data, status_code=exc.status)
    tz = next(loc.timezone for loc in list_locations(ctx, permission=SCHEDULING_BOOK) if loc.id == appt.location_id)
    day = to_local(appt.start_at, tz).date()
    done = "moved" if reschedule else "booked"
    return RedirectResponse(f"/scheduling?location_id={appt.location_id}&day={day.isoformat()}&{done}={appt.id}"
                            f"#appt-{appt.id}", status_code=303)


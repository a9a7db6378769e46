"""The patient page's visits and waitlist panel (the page itself is the patients domain's; this
panel composes scheduling into it, loaded by htmx and usable without it as a page of its own).

Thin: parse the form, call one function of `desk.visits` (the one place the desk calls
scheduling's commands for a patient), re-render the panel with what happened. Bad input and
refused transitions come back as a message in the panel (422/409); another patient's or
organisation's appointment, entry or offer answers 404.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from praxis.desk import visits
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError, ValidationProblem
from praxis.platform.ids import parse_id
from praxis.practice.service import list_locations
from praxis.scheduling.permissions import (
    SCHEDULING_BOOK,
    SCHEDULING_CHECKIN,
    SCHEDULING_READ,
    WAITLIST_MANAGE,
)
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import render

router = Router(prefix="/desk/patients", include_in_schema=False)

TIMES_OF_DAY = ("any", "morning", "afternoon", "evening")


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _panel(request: Request, ctx: Context, pid: uuid.UUID, *, status_code: int = 200, **extra: Any) -> Response:
    data: dict[str, Any] = {
        "patient_id": pid,
        "s": visits.schedule(ctx, pid),
        "can_book": ctx.has(SCHEDULING_BOOK),
        "can_waitlist": ctx.has(WAITLIST_MANAGE),
        "visit_types": visits.visit_types(ctx) if ctx.has(WAITLIST_MANAGE) else [],
        "providers": visits.providers(ctx) if ctx.has(WAITLIST_MANAGE) else [],
        "locations": [(loc.id, loc.name) for loc in list_locations(ctx, permission=WAITLIST_MANAGE)]
        if ctx.has(WAITLIST_MANAGE) else [],
        "times_of_day": TIMES_OF_DAY,
        "ok": None,
        "error": None,
        "error_for": None,
        "form": {},
        **extra,
    }
    template = "desk/_patient_visits.html" if _is_htmx(request) else "desk/patient_visits.html"
    return render(request, template, data, status_code=status_code)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _done(request: Request, ctx: Context, pid: uuid.UUID, message: str) -> Response:
    if _is_htmx(request):
        return _panel(request, ctx, pid, ok=message)
    return RedirectResponse(f"/patients/{pid}#visits", status_code=303)


def _refused(request: Request, ctx: Context, pid: uuid.UUID, exc: ProblemError, *, error_for: Any = None,
             form: dict[str, str] | None = None) -> Response:
    if exc.status in (401, 403, 404):
        raise exc
    return _panel(request, ctx, pid, status_code=exc.status if exc.status in (409, 422) else 422,
                  error=exc.detail, error_for=error_for, form=form or {})


@router.get("/{patient_id}/visits")
def visits_panel(request: Request, patient_id: str, ctx: Context = Depends(permission(SCHEDULING_READ))) -> Response:
    return _panel(request, ctx, parse_id(patient_id, "patient"))


@router.post("/{patient_id}/visits/{appointment_id}/cancel")
async def cancel_visit(request: Request, patient_id: str, appointment_id: str,
                       ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    pid, aid = parse_id(patient_id, "patient"), parse_id(appointment_id, "appointment")
    form = await _form(request)
    try:
        await run_in_threadpool(visits.cancel, ctx, pid, aid, form.get("reason", "")[:200])
    except ProblemError as exc:
        return await run_in_threadpool(_refused, request, ctx, pid, exc, error_for=aid, form=form)
    return await run_in_threadpool(_done, request, ctx, pid, "Visit cancelled.")


@router.post("/{patient_id}/visits/{appointment_id}/no-show")
async def no_show(request: Request, patient_id: str, appointment_id: str,
                  ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> Response:
    pid, aid = parse_id(patient_id, "patient"), parse_id(appointment_id, "appointment")
    try:
        await run_in_threadpool(visits.no_show, ctx, pid, aid)
    except ProblemError as exc:
        return await run_in_threadpool(_refused, request, ctx, pid, exc, error_for=aid)
    return await run_in_threadpool(_done, request, ctx, pid, "Visit marked as a no-show.")


def _reschedule_page(request: Request, ctx: Context, pid: uuid.UUID, aid: uuid.UUID, *, from_date: date | None,
                     location_ids: list[uuid.UUID] | None, error: str | None = None,
                     status_code: int = 200) -> Response:
    options = visits.reschedule_options(ctx, pid, aid, from_date=from_date, location_ids=location_ids)
    return render(request, "desk/reschedule.html", {
        "patient_id": pid, "o": options, "from_date": from_date,
        "chosen": location_ids or [loc_id for loc_id, _ in options.locations], "error": error,
    }, status_code=status_code)


@router.get("/{patient_id}/visits/{appointment_id}/reschedule")
def reschedule_page(request: Request, patient_id: str, appointment_id: str, from_date: str = "",
                    location_id: list[str] | None = None,
                    ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    pid, aid = parse_id(patient_id, "patient"), parse_id(appointment_id, "appointment")
    locs = [parse_id(x, "location") for x in location_id] if location_id else None
    try:
        day = date.fromisoformat(from_date) if from_date else None
    except ValueError:
        return _reschedule_page(request, ctx, pid, aid, from_date=None, location_ids=locs,
                                error=f"“{from_date[:20]}” is not a date; use the date picker (YYYY-MM-DD)",
                                status_code=422)
    return _reschedule_page(request, ctx, pid, aid, from_date=day, location_ids=locs)


@router.post("/{patient_id}/visits/{appointment_id}/reschedule")
async def reschedule(request: Request, patient_id: str, appointment_id: str,
                     ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    pid, aid = parse_id(patient_id, "patient"), parse_id(appointment_id, "appointment")
    form = await _form(request)
    try:
        slot = form.get("slot", "")
        parts = slot.split("|")
        if len(parts) != 3:
            raise ValidationProblem("Choose one of the open times", field="slot")
        provider_id, location_id = parse_id(parts[0], "provider"), parse_id(parts[1], "location")
        try:
            start_at = datetime.fromisoformat(parts[2])
        except ValueError:
            raise ValidationProblem("Choose one of the open times", field="slot") from None
        if start_at.tzinfo is None:
            raise ValidationProblem("Choose one of the open times", field="slot")
        await run_in_threadpool(lambda: visits.reschedule(ctx, pid, aid, start_at=start_at,
                                                          provider_id=provider_id, location_id=location_id))
    except ProblemError as exc:
        if exc.status in (401, 403, 404) and exc.field not in ("provider_id", "location_id", "slot"):
            raise
        return await run_in_threadpool(_reschedule_page, request, ctx, pid, aid, from_date=None, location_ids=None,
                                       error=exc.detail, status_code=exc.status if exc.status in (409, 422) else 422)
    return RedirectResponse(f"/patients/{pid}#visits", status_code=303)


def _optional_id(value: str, what: str) -> uuid.UUID | None:
    return parse_id(value, what) if value else None


def _optional_date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationProblem(f"{field.replace('_', ' ').capitalize()}: use a date like 2026-01-31",
                                field=field) from None


@router.post("/{patient_id}/waitlist")
async def add_to_waitlist(request: Request, patient_id: str,
                          ctx: Context = Depends(permission(WAITLIST_MANAGE))) -> Response:
    pid = parse_id(patient_id, "patient")
    form = await _form(request)
    try:
        if not form.get("visit_type_id"):
            raise ValidationProblem("Choose a visit type", field="visit_type_id")
        time_of_day = form.get("time_of_day") or "any"
        if time_of_day not in TIMES_OF_DAY:
            raise ValidationProblem("Choose a time of day", field="time_of_day")
        try:
            priority = int(form.get("priority") or 0)
        except ValueError:
            raise ValidationProblem("Priority must be a number from 0 to 9", field="priority") from None
        values: dict[str, Any] = {
            "visit_type_id": parse_id(form["visit_type_id"], "visit type"),
            "provider_id": _optional_id(form.get("provider_id", ""), "provider"),
            "location_id": _optional_id(form.get("location_id", ""), "location"),
            "priority": priority,
            "time_of_day": time_of_day,
            "earliest_date": _optional_date(form.get("earliest_date", ""), "earliest_date"),
            "latest_date": _optional_date(form.get("latest_date", ""), "latest_date"),
            "notes": form.get("notes", "")[:500],
        }
        await run_in_threadpool(lambda: visits.add_to_waitlist(ctx, pid, **values))
    except ProblemError as exc:
        if exc.status == 404 and exc.field in ("visit_type_id", "provider_id", "location_id"):
            # A reference in the form that is not this organisation's: a form message, like a typo.
            exc = ValidationProblem(exc.detail, field=exc.field)
        return await run_in_threadpool(_refused, request, ctx, pid, exc, error_for="waitlist", form=form)
    return await run_in_threadpool(_done, request, ctx, pid, "Added to the waitlist.")


@router.post("/{patient_id}/waitlist/{entry_id}/remove")
async def remove_from_waitlist(request: Request, patient_id: str, entry_id: str,
                               ctx: Context = Depends(permission(WAITLIST_MANAGE))) -> Response:
    pid, eid = parse_id(patient_id, "patient"), parse_id(entry_id, "waitlist entry")
    try:
        await run_in_threadpool(visits.remove_from_waitlist, ctx, pid, eid)
    except ProblemError as exc:
        return await run_in_threadpool(_refused, request, ctx, pid, exc, error_for=eid)
    return await run_in_threadpool(_done, request, ctx, pid, "Removed from the waitlist.")


@router.post("/{patient_id}/waitlist/offers/{offer_id}/accept")
async def accept_offer(request: Request, patient_id: str, offer_id: str,
                       ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    pid, oid = parse_id(patient_id, "patient"), parse_id(offer_id, "offer")
    try:
        await run_in_threadpool(visits.accept_offer, ctx, pid, oid)
    except ProblemError as exc:
        return await run_in_threadpool(_refused, request, ctx, pid, exc, error_for=oid)
    return await run_in_threadpool(_done, request, ctx, pid, "Offer accepted: the visit is booked.")


@router.post("/{patient_id}/waitlist/offers/{offer_id}/decline")
async def decline_offer(request: Request, patient_id: str, offer_id: str,
                        ctx: Context = Depends(permission(WAITLIST_MANAGE))) -> Response:
    pid, oid = parse_id(patient_id, "patient"), parse_id(offer_id, "offer")
    try:
        await run_in_threadpool(visits.decline_offer, ctx, pid, oid)
    except ProblemError as exc:
        return await run_in_threadpool(_refused, request, ctx, pid, exc, error_for=oid)
    return await run_in_threadpool(_done, request, ctx, pid, "Offer declined; the time goes to the next patient.")

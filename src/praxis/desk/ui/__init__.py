"""Front-desk screens: the day sheet as a work queue (htmx polling) and the one-screen check-in."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from praxis.desk import checkin, service
from praxis.patients.documents import max_bytes
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.practice.service import list_locations
from praxis.scheduling.availability import to_local
from praxis.scheduling.permissions import SCHEDULING_CHECKIN, SCHEDULING_READ
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(prefix="/desk", include_in_schema=False)
register_nav("Day sheet", "/desk/day-sheet", SCHEDULING_READ)

ACTIONS = {"check_in": "Check in", "room": "Room", "check_out": "Check out", "no_show": "No-show",
           "undo_check_in": "Undo check-in"}
DONE = {"check_in": "checked in", "room": "roomed", "check_out": "checked out", "no_show": "marked as a no-show",
        "undo_check_in": "check-in undone"}
CONTACT_FIELDS = ("phone_mobile", "phone_home", "email", "address_line1", "address_line2", "city", "state",
                  "postal_code", "preferred_channel")
NULLABLE = {"phone_mobile", "phone_home", "email"}


def _pick_location(ctx: Context, location_id: str | None) -> tuple[list, uuid.UUID | None]:  # type: ignore[type-arg]
    locations = list_locations(ctx, permission=SCHEDULING_READ)
    if location_id:
        return locations, parse_id(location_id, "location")
    if ctx.location_id and any(loc.id == ctx.location_id for loc in locations):
        return locations, ctx.location_id
    return locations, locations[0].id if locations else None


def _context(ctx: Context, location_id: str | None, day: date | None) -> dict[str, Any]:
    locations, loc_id = _pick_location(ctx, location_id)
    tz = next((loc.timezone for loc in locations if loc.id == loc_id), "UTC")
    day = day or to_local(now(), tz).date()
    sheet = service.day_sheet(ctx, loc_id, day) if loc_id else None
    return {"locations": locations, "location_id": loc_id, "day": day, "sheet": sheet, "actions": ACTIONS,
            "can_checkin": ctx.has(SCHEDULING_CHECKIN),
            # Billing does not exist yet: its columns appear when it does, never as "—" forever.
            "show_billing": False}


@router.get("/day-sheet")
def day_sheet(request: Request, location_id: str | None = None, day: date | None = None,
              done: str | None = None,
              ctx: Context = Depends(permission(SCHEDULING_READ))) -> Response:
    data = _context(ctx, location_id, day)
    data["notice"] = f"Visit {DONE[done]}." if done in DONE else None
    return render(request, "desk/day_sheet.html", data)


@router.get("/day-sheet/rows")
def day_sheet_rows(request: Request, location_id: str, day: date,
                   ctx: Context = Depends(permission(SCHEDULING_READ))) -> Response:
    return render(request, "desk/_rows.html", _context(ctx, location_id, day))


@router.post("/appointments/{appointment_id}/status")
def change_status(request: Request, appointment_id: str,
                  action: Literal["check_in", "room", "check_out", "no_show", "undo_check_in"] = Form(...),
                  location_id: str = Form(...), day: date = Form(...), room_id: str = Form(""),
                  ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> Response:
    flash = None
    try:
        service.set_status(ctx, parse_id(appointment_id, "appointment"), action,
                           room_id=parse_id(room_id, "room") if room_id else None)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        flash = exc.detail
    if request.headers.get("HX-Request"):
        data = _context(ctx, location_id, day)
        data["flash"] = flash
        return render(request, "desk/_rows.html", data)
    if flash:
        data = _context(ctx, location_id, day)
        data["flash"] = flash
        return render(request, "desk/day_sheet.html", data, status_code=409)
    return RedirectResponse(f"/desk/day-sheet?location_id={location_id}&day={day.isoformat()}"
                            f"&done={action}", status_code=303)


# --- check-in ------------------------------------------------------------------------------------


def _checkin_page(request: Request, ctx: Context, appointment_id: str, *, errors: dict[str, str] | None = None,
                  notice: str | None = None, status: int = 200, typed: dict[str, object] | None = None) -> Response:
    view = checkin.checkin_view(ctx, parse_id(appointment_id, "appointment"))
    payers = {p.id: p.name for p in view.overview.payers}
    return render(request, "desk/checkin.html", {"v": view, "p": view.patient, "payers": payers,
                                                  "errors": errors or {}, "notice": notice, "typed": typed or {},
                                                  "can_checkin": ctx.has(SCHEDULING_CHECKIN)},
                  status_code=status)


@router.get("/check-in/{appointment_id}")
def checkin_page(request: Request, appointment_id: str, saved: str | None = None,
                 ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> Response:
    notice = {"contact": "Contact details saved.", "card": "Card image uploaded."}.get(saved or "")
    return _checkin_page(request, ctx, appointment_id, notice=notice)


@router.post("/check-in/{appointment_id}/contact")
async def checkin_contact(request: Request, appointment_id: str,
                          ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> Response:
    form = await request.form()
    view = await run_in_threadpool(checkin.checkin_view, ctx, parse_id(appointment_id, "appointment"))
    changes: dict[str, object] = {}
    for key in CONTACT_FIELDS:
        value = str(form.get(key) or "").strip()
        changes[key] = None if (key in NULLABLE and not value) else value
    changes["consent_sms"] = "consent_sms" in form
    changes["consent_email"] = "consent_email" in form
    try:
        await run_in_threadpool(checkin.save_contact, ctx, view.patient.id, changes)
    except ProblemError as exc:
        return await run_in_threadpool(_checkin_page, request, ctx, appointment_id,
                                       errors={exc.field or "contact": exc.detail}, status=422, typed=changes)
    except ValueError as exc:  # pydantic: the field at fault
        field = str(getattr(exc, "errors", lambda: [{}])()[0].get("loc", ["contact"])[0])
        return await run_in_threadpool(_checkin_page, request, ctx, appointment_id,
                                       errors={field: f"{field.replace('_', ' ')}: not valid"}, status=422,
                                       typed=changes)
    return RedirectResponse(f"/desk/check-in/{appointment_id}?saved=contact#contact", status_code=303)


@router.post("/check-in/{appointment_id}/card")
async def checkin_card(request: Request, appointment_id: str,
                       ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> Response:
    form = await request.form()
    view = await run_in_threadpool(checkin.checkin_view, ctx, parse_id(appointment_id, "appointment"))
    upload = form.get("file")
    coverage = str(form.get("coverage_id") or "")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await run_in_threadpool(_checkin_page, request, ctx, appointment_id,
                                       errors={"card": "Choose the image of the card first"}, status=422)
    data = await upload.read(max_bytes() + 1)
    try:
        await run_in_threadpool(checkin.upload_card, ctx, view.patient.id,
                                parse_id(coverage, "coverage") if coverage else None, str(form.get("side") or ""),
                                data, upload.filename)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await run_in_threadpool(_checkin_page, request, ctx, appointment_id, errors={"card": exc.detail},
                                       status=exc.status)
    return RedirectResponse(f"/desk/check-in/{appointment_id}?saved=card#coverage", status_code=303)


@router.post("/check-in/{appointment_id}/arrive")
def checkin_arrive(request: Request, appointment_id: str,
                   ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> Response:
    try:
        appt = checkin.arrive(ctx, parse_id(appointment_id, "appointment"))
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _checkin_page(request, ctx, appointment_id, errors={"arrive": exc.detail}, status=exc.status)
    tz = next((x.timezone for x in list_locations(ctx, permission=SCHEDULING_READ) if x.id == appt.location_id), "UTC")
    return RedirectResponse(f"/desk/day-sheet?location_id={appt.location_id}&day={to_local(appt.start_at, tz).date()}"
                            f"&done=check_in#appt-{appt.id}", status_code=303)

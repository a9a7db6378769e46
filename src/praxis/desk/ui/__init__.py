"""Front-desk screens: the day sheet with live status (htmx polling) and one-click check-in."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from praxis.desk import service
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
NEXT_ACTIONS = {"booked": ["check_in", "no_show"], "confirmed": ["check_in", "no_show"],
                "checked_in": ["room", "check_out", "undo_check_in"], "roomed": ["check_out"]}


def _pick_location(ctx: Context, location_id: str | None) -> tuple[list, uuid.UUID | None]:  # type: ignore[type-arg]
    locations = list_locations(ctx, permission=SCHEDULING_READ)
    if location_id:
        return locations, parse_id(location_id, "location")
    if ctx.location_id and any(loc.id == ctx.location_id for loc in locations):
        return locations, ctx.location_id
    return locations, locations[0].id if locations else None


def _context(ctx: Context, location_id: str | None, day: date | None) -> dict[str, object]:
    locations, loc_id = _pick_location(ctx, location_id)
    tz = next((loc.timezone for loc in locations if loc.id == loc_id), "UTC")
    day = day or to_local(now(), tz).date()
    sheet = service.day_sheet(ctx, loc_id, day) if loc_id else None
    return {"locations": locations, "location_id": loc_id, "day": day, "sheet": sheet,
            "actions": ACTIONS, "next_actions": NEXT_ACTIONS,
            "can_checkin": ctx.has(SCHEDULING_CHECKIN)}


@router.get("/day-sheet")
def day_sheet(request: Request, location_id: str | None = None, day: date | None = None,
              ctx: Context = Depends(permission(SCHEDULING_READ))) -> Response:
    return render(request, "desk/day_sheet.html", _context(ctx, location_id, day))


@router.get("/day-sheet/rows")
def day_sheet_rows(request: Request, location_id: str, day: date,
                   ctx: Context = Depends(permission(SCHEDULING_READ))) -> Response:
    return render(request, "desk/_rows.html", _context(ctx, location_id, day))


@router.post("/appointments/{appointment_id}/status")
def change_status(request: Request, appointment_id: str,
                  action: Literal["check_in", "room", "check_out", "no_show", "undo_check_in"] = Form(...),
                  location_id: str = Form(...), day: date = Form(...),
                  ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> Response:
    flash = None
    try:
        service.set_status(ctx, parse_id(appointment_id, "appointment"), action)
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
    return RedirectResponse(f"/desk/day-sheet?location_id={location_id}&day={day.isoformat()}",
                            status_code=303)

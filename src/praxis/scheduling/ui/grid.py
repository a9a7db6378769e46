"""The schedule grid screen (day or week; providers or rooms as columns) and its block menu:
check in, room, check out, undo, reschedule, change visit type, no-show, cancel. Server-rendered CSS grid; the
menu is plain forms, so it works without script and with the keyboard alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from praxis.platform.context import Context
from praxis.platform.errors import ProblemError, ValidationProblem
from praxis.platform.ids import parse_id
from praxis.scheduling import grid as grid_model
from praxis.scheduling import ui_commands
from praxis.scheduling.permissions import SCHEDULING_BOOK, SCHEDULING_CHECKIN, SCHEDULING_READ
from praxis.scheduling.ui.base import local_today, parse_day, pick_location, router
from praxis.web.deps import permission
from praxis.web.templating import render

ACTION_WORDS = {"check_in": "Check in", "room": "Room", "check_out": "Check out", "undo_check_in": "Undo check-in",
                "reschedule": "Reschedule", "change_visit_type": "Change visit type", "no_show": "No-show",
                "cancel": "Cancel visit"}
DONE_WORDS = {"check_in": "Checked in", "room": "Roomed", "check_out": "Checked out",
              "undo_check_in": "Check-in undone", "no_show": "Marked as a no-show", "cancel": "Cancelled",
              "change_visit_type": "Visit type changed"}
CANCEL_REASONS = ("Patient request", "Provider unavailable", "Weather or closure", "Booked in error", "Other")


def _grid_context(ctx: Context, location_id: str | None, day: str | None, view: str, span: str,
                  column: str | None) -> dict[str, Any]:
    locations, loc = pick_location(ctx, SCHEDULING_READ, location_id)
    data: dict[str, Any] = {"locations": locations, "location": loc, "view": view, "span": span, "grid": None,
                            "words": ACTION_WORDS, "reasons": CANCEL_REASONS, "column": column or "",
                            "can_checkin": ctx.has(SCHEDULING_CHECKIN), "can_book": ctx.has(SCHEDULING_BOOK)}
    if loc is None:
        return data
    chosen, error = parse_day(day, "day", "Day")
    chosen = chosen or local_today(loc.timezone)
    data["form_error"] = error
    days = 7 if span == "week" else 1
    if days == 7:
        chosen = chosen - timedelta(days=chosen.weekday())
    g = grid_model.build_grid(ctx, loc.id, chosen, view="room" if view == "room" else "provider", span_days=days,
                              focus=column, location_settings=loc.settings)
    step = timedelta(days=days)
    common = {"location_id": str(loc.id), "view": view, "span": span}
    if column:
        common["column"] = column
    # The block menus come back to this view (the menu's `back`); the default view needs no query.
    menu_params = {k: v for k, v in (("view", view), ("span", span)) if v not in ("provider", "day")}
    data.update(grid=g, day=chosen, menus=ctx.has(SCHEDULING_CHECKIN) or ctx.has(SCHEDULING_BOOK),
                menu_query=("?" + urlencode(menu_params)) if menu_params else "",
                prev_href="/scheduling?" + urlencode({**common, "day": (chosen - step).isoformat()}),
                next_href="/scheduling?" + urlencode({**common, "day": (chosen + step).isoformat()}),
                here="/scheduling?" + urlencode({**common, "day": chosen.isoformat()}))
    return data


@router.get("/scheduling")
def grid(request: Request, location_id: str | None = None, day: str | None = None,
         view: Literal["provider", "room"] = "provider", span: Literal["day", "week"] = "day",
         column: str | None = None, booked: str | None = None, moved: str | None = None, done: str | None = None,
         ctx: Context = Depends(permission(SCHEDULING_READ))) -> Response:
    data = _grid_context(ctx, location_id, day, view, span, column)
    data["highlight"] = booked or moved or ""
    data["flash"] = ("New visit booked; it is highlighted below." if booked else
                     "Visit moved; it is highlighted below." if moved else DONE_WORDS.get(done or ""))
    return render(request, "scheduling/grid.html", data, status_code=422 if data.get("form_error") else 200)


@router.get("/scheduling/appointments/{appointment_id}/menu")
def block_menu(request: Request, appointment_id: str, view: Literal["provider", "room"] = "provider",
               span: Literal["day", "week"] = "day", ctx: Context = Depends(permission(SCHEDULING_READ))) -> Response:
    """A block's actions: the fragment htmx loads when the grid's menu opens, or a page of its own
    (the menu's link without script). Its forms return to the grid of the visit's day and view."""
    menu = grid_model.block_menu(ctx, parse_id(appointment_id, "appointment"))
    back = "/scheduling?" + urlencode({"location_id": str(menu.location_id), "view": view, "span": span,
                                       "day": menu.local_start.date().isoformat()})
    data = {"m": menu, "back": back, "words": ACTION_WORDS, "reasons": CANCEL_REASONS,
            "can_checkin": ctx.has(SCHEDULING_CHECKIN), "can_book": ctx.has(SCHEDULING_BOOK)}
    fragment = request.headers.get("HX-Request") == "true"
    return render(request, "scheduling/_block_menu.html" if fragment else "scheduling/block_actions.html", data)


@router.post("/scheduling/appointments/{appointment_id}/action")
def block_action(request: Request, appointment_id: str,
                 action: Literal["check_in", "room", "check_out", "undo_check_in", "no_show"] = Form(...),
                 room_id: str = Form(""), back: str = Form("/scheduling"),
                 ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> Response:
    target = _safe_back(back)
    try:
        ui_commands.change_status(ctx, parse_id(appointment_id, "appointment"), action,
                                  room_id=parse_id(room_id, "room") if room_id else None)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _grid_error(request, ctx, target, exc.detail, exc.status)
    return RedirectResponse(_with(target, done=action, at=appointment_id), status_code=303)


@router.post("/scheduling/appointments/{appointment_id}/cancel")
def block_cancel(request: Request, appointment_id: str, reason: str = Form(""), back: str = Form("/scheduling"),
                 ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    target = _safe_back(back)
    try:
        ui_commands.cancel(ctx, parse_id(appointment_id, "appointment"), reason=reason)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _grid_error(request, ctx, target, exc.detail, exc.status)
    return RedirectResponse(_with(target, done="cancel"), status_code=303)


@router.post("/scheduling/appointments/{appointment_id}/visit-type")
def block_visit_type(request: Request, appointment_id: str, visit_type_id: str = Form(""),
                     version: int | None = Form(None), back: str = Form("/scheduling"),
                     ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    """Change the visit's type (and so its length) from the block menu; a refusal (not bookable
    then, the provider or a room busy for the longer visit, changed meanwhile) is shown on the grid."""
    target = _safe_back(back)
    try:
        if not visit_type_id:
            raise ValidationProblem("Choose the new visit type", field="visit_type_id")
        ui_commands.change_visit_type(ctx, parse_id(appointment_id, "appointment"),
                                      visit_type_id=parse_id(visit_type_id, "visit type"), expected_version=version)
    except ProblemError as exc:
        if exc.status in (401, 403):
            raise
        if exc.status == 404 and exc.field != "visit_type_id":
            raise
        return _grid_error(request, ctx, target, exc.detail, exc.status)
    return RedirectResponse(_with(target, done="change_visit_type", at=appointment_id), status_code=303)


def _safe_back(back: str) -> str:
    # Only back to the grid: never an open redirect.
    return back if back.startswith("/scheduling?") else "/scheduling"


def _with(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params and k not in ("booked", "moved")]
    return f"{parts.path}?{urlencode(query + list(params.items()))}"


def _grid_error(request: Request, ctx: Context, back: str, message: str, status: int) -> Response:
    q = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    data = _grid_context(ctx, q.get("location_id"), q.get("day"), q.get("view", "provider"), q.get("span", "day"),
                         q.get("column"))
    data["error"] = message
    data["highlight"] = ""
    return render(request, "scheduling/grid.html", data, status_code=status)

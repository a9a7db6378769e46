"""Care-management screens: the coordinator's worklist with the timer (htmx), and the month-end
review with one approval. Thin: parse the form, call one service function, render."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from praxis.care import closing, months, review, timing
from praxis.care.permissions import CARE_APPROVE, CARE_LOG, CARE_READ
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

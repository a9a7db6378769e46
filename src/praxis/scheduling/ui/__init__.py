"""Scheduling screens: the schedule grid (by provider or room, day or week), keyboard-friendly
booking (search slots, pick, confirm), the waitlist, schedule templates and the public online
booking page. Thin: parse the form, call one service function, render."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.scheduling import online, setup, waitlist
from praxis.scheduling.permissions import SCHEDULING_BOOK, SCHEDULING_MANAGE, SCHEDULING_READ, WAITLIST_MANAGE
from praxis.scheduling.schemas import OnlineBookingIn
from praxis.scheduling.ui.base import hm, pick_location, router
from praxis.web.deps import client_ip, permission, public
from praxis.web.templating import register_nav, render

register_nav("Schedule", "/scheduling", SCHEDULING_READ)
register_nav("Book", "/scheduling/book", SCHEDULING_BOOK)
register_nav("Waitlist", "/scheduling/waitlist", WAITLIST_MANAGE)
register_nav("Templates", "/scheduling/templates", SCHEDULING_MANAGE)


@router.get("/scheduling/waitlist")
def waitlist_page(request: Request, ctx: Context = Depends(permission(WAITLIST_MANAGE))) -> Response:
    entries = waitlist.list_entries(ctx)
    offers = waitlist.list_offers(ctx)
    visit_types = {v.id: v.name for v in setup.list_visit_types(ctx, active_only=False)}
    return render(request, "scheduling/waitlist.html", {"entries": entries, "offers": offers,
                                                        "visit_types": visit_types})


@router.post("/scheduling/waitlist/offers/{offer_id}/accept")
def waitlist_accept(offer_id: str, ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    waitlist.accept_offer(ctx, parse_id(offer_id, "offer"))
    return RedirectResponse("/scheduling/waitlist", status_code=303)


@router.get("/scheduling/templates")
def templates_page(request: Request, location_id: str | None = None,
                   ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> Response:
    locations, loc = pick_location(ctx, SCHEDULING_MANAGE, location_id)
    data: dict[str, Any] = {"locations": locations, "location": loc, "templates": [], "providers": [],
                            "hm": hm, "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
    if loc is not None:
        data["templates"] = setup.list_templates(ctx, location_id=loc.id)
        data["providers"] = setup.list_providers(ctx, location_id=loc.id)
    return render(request, "scheduling/templates.html", data)


def _minute(value: str, field: str) -> int:
    try:
        hh, mm = value.split(":")
        return int(hh) * 60 + int(mm)
    except ValueError:
        from praxis.platform.errors import ValidationProblem

        raise ValidationProblem("use HH:MM", field=field) from None


@router.post("/scheduling/templates")
def templates_create(location_id: str = Form(...), provider_id: str = Form(...),
                     weekday: list[int] = Form(...), start: str = Form(...), end: str = Form(...),
                     effective_from: date = Form(...), effective_to: date | None = Form(None),
                     ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> Response:
    s, e = _minute(start, "start"), _minute(end, "end")
    setup.create_template(ctx, provider_id=parse_id(provider_id, "provider"),
                          location_id=parse_id(location_id, "location"), effective_from=effective_from,
                          effective_to=effective_to,
                          blocks=[{"weekday": w, "start_minute": s, "end_minute": e} for w in weekday])
    return RedirectResponse(f"/scheduling/templates?location_id={location_id}", status_code=303)


# --- public online booking page ------------------------------------------------------------------


@router.get("/book/{org_slug}/{location_code}")
def online_page(request: Request, org_slug: str, location_code: str, visit_type_id: str | None = None,
                from_date: date | None = None, _ctx: Context | None = Depends(public)) -> Response:
    loc = online.find_location(org_slug, location_code)
    data: dict[str, Any] = {"loc": loc, "org_slug": org_slug, "location_code": location_code,
                            "visit_types": online.visit_types(loc), "visit_type_id": visit_type_id, "slots": None}
    if visit_type_id:
        names = online.providers(loc)
        data["slots"] = [{"s": s, "provider": names.get(s.provider_id, "")}
                         for s in online.slots(loc, parse_id(visit_type_id, "visit type"), from_date)]
    return render(request, "scheduling/online.html", data)


@router.post("/book/{org_slug}/{location_code}")
def online_request(request: Request, org_slug: str, location_code: str, visit_type_id: uuid.UUID = Form(...),
                   slot: str = Form(...),
                   first_name: str = Form(...), last_name: str = Form(...), dob: date = Form(...),
                   channel: Literal["sms", "email"] = Form(...), contact: str = Form(...),
                   contact_consent: bool = Form(False), _ctx: Context | None = Depends(public)) -> Response:
    loc = online.find_location(org_slug, location_code)
    provider_part, _, start_part = slot.partition("|")
    try:
        provider_id, start_at = uuid.UUID(provider_part), datetime.fromisoformat(start_part)
    except ValueError:
        from praxis.platform.errors import ValidationProblem

        raise ValidationProblem("Pick one of the times shown", field="slot") from None
    data = OnlineBookingIn(visit_type_id=visit_type_id, provider_id=provider_id, start_at=start_at,
                           first_name=first_name, last_name=last_name, dob=dob, channel=channel,
                           phone=contact if channel == "sms" else None, email=contact if channel == "email" else None,
                           contact_consent=contact_consent)
    vid, _expires, masked = online.start(loc, data, client_ip=client_ip(request))
    return render(request, "scheduling/online_code.html", {"loc": loc, "org_slug": org_slug,
                                                           "location_code": location_code, "vid": vid,
                                                           "masked": masked})


@router.post("/book/{org_slug}/{location_code}/verify")
def online_verify(request: Request, org_slug: str, location_code: str, verification_id: str = Form(...),
                  code: str = Form(...), _ctx: Context | None = Depends(public)) -> Response:
    loc = online.find_location(org_slug, location_code)
    try:
        done = online.verify(loc, parse_id(verification_id, "booking request"), code.strip())
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return render(request, "scheduling/online_code.html", {
            "loc": loc, "org_slug": org_slug, "location_code": location_code, "vid": verification_id,
            "masked": "", "flash": exc.detail}, status_code=exc.status)
    return render(request, "scheduling/online_done.html", {"loc": loc, "done": done})


# The booking and schedule-grid screens register their routes on the same router.
from praxis.scheduling.ui import booking as ui_booking  # noqa: E402
from praxis.scheduling.ui import grid as ui_grid  # noqa: E402

__all__ = ["router", "ui_booking", "ui_grid"]

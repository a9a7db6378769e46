"""Scheduling screens: the schedule grid (by provider or room, day or week), keyboard-friendly
booking (search slots, pick, confirm), the waitlist, schedule templates and the public online
booking page. Thin: parse the form, call one service function, render."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, Literal

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.practice.service import list_locations
from praxis.scheduling import online, service, setup, waitlist
from praxis.scheduling.availability import SlotFilter, to_local
from praxis.scheduling.permissions import SCHEDULING_BOOK, SCHEDULING_MANAGE, SCHEDULING_READ, WAITLIST_MANAGE
from praxis.scheduling.schemas import OnlineBookingIn
from praxis.web.deps import client_ip, permission, public
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(include_in_schema=False)
register_nav("Schedule", "/scheduling", SCHEDULING_READ)
register_nav("Book", "/scheduling/book", SCHEDULING_BOOK)
register_nav("Waitlist", "/scheduling/waitlist", WAITLIST_MANAGE)
register_nav("Templates", "/scheduling/templates", SCHEDULING_MANAGE)


def _locations(ctx: Context, permission_name: str, location_id: str | None) -> tuple[list[Any], Any]:
    locations = list_locations(ctx, permission=permission_name)
    chosen = None
    if location_id:
        lid = parse_id(location_id, "location")
        chosen = next((loc for loc in locations if loc.id == lid), None)
    if chosen is None and ctx.location_id:
        chosen = next((loc for loc in locations if loc.id == ctx.location_id), None)
    return locations, chosen or (locations[0] if locations else None)


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@router.get("/scheduling")
def grid(request: Request, location_id: str | None = None, day: date | None = None,
         view: Literal["provider", "room"] = "provider", span: Literal["day", "week"] = "day",
         ctx: Context = Depends(permission(SCHEDULING_READ))) -> Response:
    locations, loc = _locations(ctx, SCHEDULING_READ, location_id)
    data: dict[str, Any] = {"locations": locations, "location": loc, "view": view, "span": span}
    if loc is None:
        return render(request, "scheduling/grid.html", data)
    day = day or to_local(now(), loc.timezone).date()
    if span == "week":
        day = day - timedelta(days=day.weekday())
    days = 7 if span == "week" else 1
    view_data = service.list_day_view(ctx, loc.id, day, days=days)
    providers, rooms, names = view_data.providers, view_data.rooms, view_data.patients
    columns: dict[Any, list[dict[str, Any]]] = {}
    keys = (providers if view == "provider" else rooms)
    for k in keys:
        columns[k] = []
    for r in view_data.rows:
        first, last = names.get(r.patient_id, ("?", "?", "", None))[:2]
        item = {"row": r, "who": f"{last}, {first}", "visit": view_data.visit_types.get(r.visit_type_id)}
        targets = [r.provider_id] if view == "provider" else (list(r.room_ids) or ["unassigned"])
        for t in targets:
            columns.setdefault(t, []).append(item)
    labels = {**keys, "unassigned": "No room"}
    data.update(day=day, days=[day + timedelta(days=i) for i in range(days)], columns=columns, labels=labels,
                prev=day - timedelta(days=days), next=day + timedelta(days=days))
    return render(request, "scheduling/grid.html", data)


@router.get("/scheduling/book")
def book_page(request: Request, visit_type_id: str | None = None, patient_id: str | None = None,
              q: str | None = None, location_id: list[str] | None = None, from_date: date | None = None,
              time_of_day: Literal["any", "morning", "afternoon", "evening"] = "any",
              ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    locations = list_locations(ctx, permission=SCHEDULING_BOOK)
    visit_types = setup.list_visit_types(ctx)
    chosen_locs = [parse_id(x, "location") for x in location_id] if location_id else [loc.id for loc in locations]
    data: dict[str, Any] = {"locations": locations, "visit_types": visit_types, "chosen_locations": chosen_locs,
                            "visit_type_id": visit_type_id, "patient_id": patient_id, "q": q or "",
                            "from_date": from_date, "time_of_day": time_of_day, "slots": None, "patients": []}
    if q and not patient_id:
        try:
            from praxis.patients.service import find_patients

            data["patients"] = find_patients(ctx, q=q, limit=10)
        except ProblemError as exc:
            data["flash"] = exc.detail
    if visit_type_id and patient_id:
        slots = service.search_slots(ctx, parse_id(visit_type_id, "visit type"), from_date=from_date, days=30,
                                     location_ids=chosen_locs, slot_filter=SlotFilter(time_of_day=time_of_day),
                                     limit=20, permission=SCHEDULING_BOOK)
        providers = {p.id: p.display_name for p, _ in setup.list_providers(ctx)}
        loc_names = {loc.id: loc.name for loc in locations}
        data["slots"] = [{"s": s, "provider": providers.get(s.provider_id, ""),
                          "location": loc_names.get(s.location_id, "")} for s in slots]
    return render(request, "scheduling/book.html", data)


@router.post("/scheduling/book")
def book_confirm(request: Request, patient_id: str = Form(...), visit_type_id: str = Form(...),
                 provider_id: str = Form(...), location_id: str = Form(...), start_at: datetime = Form(...),
                 ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> Response:
    try:
        appt = service.book(ctx, patient_id=parse_id(patient_id, "patient"),
                            visit_type_id=parse_id(visit_type_id, "visit type"),
                            provider_id=parse_id(provider_id, "provider"),
                            location_id=parse_id(location_id, "location"), start_at=start_at)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse(f"/scheduling/book?patient_id={patient_id}&visit_type_id={visit_type_id}"
                                f"&error={exc.type}", status_code=303)
    tz = next(loc.timezone for loc in list_locations(ctx, permission=SCHEDULING_BOOK) if loc.id == appt.location_id)
    day = to_local(appt.start_at, tz).date()
    return RedirectResponse(f"/scheduling?location_id={appt.location_id}&day={day.isoformat()}&booked={appt.id}",
                            status_code=303)


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
    locations, loc = _locations(ctx, SCHEDULING_MANAGE, location_id)
    data: dict[str, Any] = {"locations": locations, "location": loc, "templates": [], "providers": [],
                            "hm": _hm, "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
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

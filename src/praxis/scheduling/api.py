"""JSON API of scheduling under /api/v1/scheduling (thin: parse, declare permission, call service)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Request, Response

from praxis.platform.context import Context
from praxis.platform.ids import parse_id
from praxis.platform.schemas import Day
from praxis.scheduling import online, reminders, service, setup, waitlist
from praxis.scheduling.availability import SlotFilter
from praxis.scheduling.ics import feed_url, provider_feed
from praxis.scheduling.permissions import (
    REMINDERS_MANAGE,
    SCHEDULING_BOOK,
    SCHEDULING_CHECKIN,
    SCHEDULING_MANAGE,
    SCHEDULING_READ,
    WAITLIST_MANAGE,
)
from praxis.scheduling.schemas import (
    AppointmentOut,
    BlockOut,
    BookIn,
    CancelIn,
    ChangeVisitTypeIn,
    ClosureIn,
    ClosureOut,
    DayRowOut,
    ExceptionIn,
    ExceptionOut,
    FeedUrlOut,
    HolidaysIn,
    HoursIn,
    HoursSpan,
    OfferOut,
    OnlineBooked,
    OnlineBookingIn,
    OnlineBookingStarted,
    OnlineVerifyIn,
    ProviderIn,
    ProviderOut,
    ProviderUpdate,
    ReminderRuleIn,
    ReminderRuleOut,
    ReplyIn,
    RescheduleIn,
    ResourceIn,
    ResourceOut,
    RoomIn,
    SeriesIn,
    SlotOut,
    TemplateEnd,
    TemplateIn,
    TemplateOut,
    VisitTypeIn,
    VisitTypeOut,
    VisitTypeUpdate,
    WaitlistIn,
    WaitlistOut,
)
from praxis.web.deps import client_ip, permission, public
from praxis.web.paging import PAGED, Pager, by
from praxis.web.routes import Router

router = Router(prefix="/api/v1/scheduling", tags=["scheduling"])
public_router = Router(prefix="/api/v1/public", tags=["public"])


def _provider_out(p: object, locs: list) -> ProviderOut:  # type: ignore[type-arg]
    out = ProviderOut.model_validate(p)
    out.location_ids = locs
    return out


# --- reference data ------------------------------------------------------------------------------


@router.get("/providers", response_model=list[ProviderOut])
def list_providers(location_id: str | None = None, ctx: Context = Depends(permission(SCHEDULING_READ)),
                   page: Pager = PAGED) -> list[ProviderOut]:
    loc = parse_id(location_id, "location") if location_id else None
    return page.of([_provider_out(p, locs) for p, locs in setup.list_providers(ctx, location_id=loc)],
                   key=by("last_name", "first_name"))


@router.post("/providers", response_model=ProviderOut, status_code=201)
def create_provider(data: ProviderIn, ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> ProviderOut:
    p = setup.create_provider(ctx, **data.model_dump())
    return _provider_out(p, list(dict.fromkeys(data.location_ids)))


@router.patch("/providers/{provider_id}", response_model=ProviderOut)
def update_provider(provider_id: str, data: ProviderUpdate,
                    ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> ProviderOut:
    changes = data.model_dump(exclude_unset=True)
    locs = changes.pop("location_ids", None)
    p = setup.update_provider(ctx, parse_id(provider_id, "provider"), changes=changes, location_ids=locs)
    return _provider_out(p, locs or [])


@router.get("/providers/{provider_id}/feed-url", response_model=FeedUrlOut)
def get_feed_url(provider_id: str, ctx: Context = Depends(permission(SCHEDULING_READ))) -> FeedUrlOut:
    """A secret, signed URL of the provider's calendar (ICS, initials only) for phone calendars."""
    return FeedUrlOut(url=feed_url(ctx, parse_id(provider_id, "provider")))


@router.get("/locations/{location_id}/resources", response_model=list[ResourceOut])
def list_resources(location_id: str, ctx: Context = Depends(permission(SCHEDULING_READ)),
                   page: Pager = PAGED) -> list[ResourceOut]:
    rows = setup.list_resources(ctx, parse_id(location_id, "location"))
    return page.of([ResourceOut.model_validate(r) for r in rows])


@router.post("/locations/{location_id}/resources", response_model=ResourceOut, status_code=201)
def create_resource(location_id: str, data: ResourceIn,
                    ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> ResourceOut:
    return ResourceOut.model_validate(setup.create_resource(ctx, location_id=parse_id(location_id, "location"),
                                                            kind=data.kind, name=data.name))


@router.get("/visit-types", response_model=list[VisitTypeOut])
def list_visit_types(ctx: Context = Depends(permission(SCHEDULING_READ)), page: Pager = PAGED) -> list[VisitTypeOut]:
    return page.of([VisitTypeOut.model_validate(v) for v in setup.list_visit_types(ctx)], key=by("name"))


@router.post("/visit-types", response_model=VisitTypeOut, status_code=201)
def create_visit_type(data: VisitTypeIn, ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> VisitTypeOut:
    return VisitTypeOut.model_validate(setup.create_visit_type(ctx, **data.model_dump()))


@router.patch("/visit-types/{visit_type_id}", response_model=VisitTypeOut)
def update_visit_type(visit_type_id: str, data: VisitTypeUpdate,
                      ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> VisitTypeOut:
    return VisitTypeOut.model_validate(setup.update_visit_type(
        ctx, parse_id(visit_type_id, "visit type"), data.model_dump(exclude_unset=True)))


@router.get("/locations/{location_id}/hours", response_model=list[HoursSpan])
def get_hours(location_id: str, ctx: Context = Depends(permission(SCHEDULING_READ)),
              page: Pager = PAGED) -> list[HoursSpan]:
    hours = setup.get_business_hours(ctx, parse_id(location_id, "location"))
    return page.of([HoursSpan(weekday=w, open_minute=o, close_minute=c) for w, spans in sorted(hours.items())
                    for o, c in spans], key=lambda h: (h.weekday, h.open_minute, h.close_minute), updated=None)


@router.put("/locations/{location_id}/hours", response_model=list[HoursSpan])
def set_hours(location_id: str, data: HoursIn, ctx: Context = Depends(permission(SCHEDULING_MANAGE))
              ) -> list[HoursSpan]:
    hours: dict[int, list[tuple[int, int]]] = {}
    for h in data.hours:
        hours.setdefault(h.weekday, []).append((h.open_minute, h.close_minute))
    setup.set_business_hours(ctx, parse_id(location_id, "location"), hours)
    return data.hours


@router.get("/locations/{location_id}/closures", response_model=list[ClosureOut])
def list_closures(location_id: str, since: Day | None = None,
                  ctx: Context = Depends(permission(SCHEDULING_READ)), page: Pager = PAGED) -> list[ClosureOut]:
    rows = setup.list_closures(ctx, parse_id(location_id, "location"), since=since)
    return page.of([ClosureOut.model_validate(c) for c in rows], key=by("day"))


@router.post("/locations/{location_id}/closures", response_model=ClosureOut, status_code=201)
def add_closure(location_id: str, data: ClosureIn, ctx: Context = Depends(permission(SCHEDULING_MANAGE))
                ) -> ClosureOut:
    return ClosureOut.model_validate(setup.add_closure(ctx, parse_id(location_id, "location"), data.day,
                                                       data.reason))


@router.post("/locations/{location_id}/closures/holidays")
def seed_holidays(location_id: str, data: HolidaysIn, ctx: Context = Depends(permission(SCHEDULING_MANAGE))
                  ) -> dict[str, int]:
    """Close the location on public holidays (python-holidays) of the given years."""
    added = setup.seed_holidays(ctx, parse_id(location_id, "location"), data.years, country=data.country,
                                subdiv=data.subdiv)
    return {"added": added}


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(location_id: str, provider_id: str | None = None,
                   ctx: Context = Depends(permission(SCHEDULING_READ)), page: Pager = PAGED) -> list[TemplateOut]:
    rows = setup.list_templates(ctx, location_id=parse_id(location_id, "location"),
                                provider_id=parse_id(provider_id, "provider") if provider_id else None)
    out = []
    for t, blocks in rows:
        o = TemplateOut.model_validate(t)
        o.blocks = [BlockOut(weekday=b.weekday, start_minute=b.start_minute, end_minute=b.end_minute,
                             visit_type_ids=[str(v) for v in b.visit_type_ids]) for b in blocks]
        out.append(o)
    return page.of(out)


@router.post("/templates", response_model=TemplateOut, status_code=201)
def create_template(data: TemplateIn, ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> TemplateOut:
    tpl = setup.create_template(ctx, provider_id=data.provider_id, location_id=data.location_id, name=data.name,
                                effective_from=data.effective_from, effective_to=data.effective_to,
                                blocks=[b.model_dump() for b in data.blocks])
    out = TemplateOut.model_validate(tpl)
    out.blocks = [BlockOut(weekday=b.weekday, start_minute=b.start_minute, end_minute=b.end_minute,
                           visit_type_ids=list(dict.fromkeys(str(v) for v in b.visit_type_ids))) for b in data.blocks]
    return out


@router.post("/templates/{template_id}/end", response_model=TemplateOut)
def end_template(template_id: str, data: TemplateEnd, ctx: Context = Depends(permission(SCHEDULING_MANAGE))
                 ) -> TemplateOut:
    return TemplateOut.model_validate(setup.end_template(ctx, parse_id(template_id, "template"),
                                                         data.effective_to))


@router.post("/exceptions", response_model=ExceptionOut, status_code=201)
def add_exception(data: ExceptionIn, ctx: Context = Depends(permission(SCHEDULING_MANAGE))) -> ExceptionOut:
    return ExceptionOut.model_validate(setup.add_exception(ctx, **data.model_dump()))


# --- availability and booking --------------------------------------------------------------------


def _slot_key(s: SlotOut) -> tuple[object, ...]:
    # A free slot is its time and provider (and visit type, location): no row, no id.
    return (s.start_at, str(s.provider_id), str(s.location_id), str(s.visit_type_id))


@router.get("/slots", response_model=list[SlotOut])
def search_slots(
    visit_type_id: str,
    from_date: Day | None = None,
    days: Annotated[int, Query(ge=1, le=92)] = 30,
    provider_id: Annotated[list[str] | None, Query()] = None,
    location_id: Annotated[list[str] | None, Query()] = None,
    time_of_day: Literal["any", "morning", "afternoon", "evening"] = "any",
    weekday: Annotated[list[int] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ctx: Context = Depends(permission(SCHEDULING_READ)), page: Pager = PAGED) -> list[SlotOut]:
    """First open slots for a visit type across providers and locations, earliest first."""
    flt = SlotFilter(time_of_day=time_of_day,
                     weekdays=frozenset(w for w in weekday if 0 <= w <= 6) if weekday else None)
    slots = service.search_slots(
        ctx, parse_id(visit_type_id, "visit type"), from_date=from_date, days=days,
        provider_ids=[parse_id(p, "provider") for p in provider_id] if provider_id else None,
        location_ids=[parse_id(loc, "location") for loc in location_id] if location_id else None,
        slot_filter=flt, limit=limit)
    return page.of([SlotOut(**s.__dict__) for s in slots], key=_slot_key, updated=None)


@router.post("/appointments", response_model=AppointmentOut, status_code=201)
def book(data: BookIn, ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> AppointmentOut:
    """Book one appointment. 409 `slot-taken` when someone else has the time."""
    return AppointmentOut.model_validate(service.book(ctx, **data.model_dump(), source="api"))


@router.post("/appointment-series", response_model=list[AppointmentOut], status_code=201)
def book_series(data: SeriesIn, ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> list[AppointmentOut]:
    """Weekly recurring visits: all booked, or 409 `series-conflict` listing each conflict."""
    return [AppointmentOut.model_validate(a) for a in service.book_series(ctx, **data.model_dump())]


@router.get("/appointments", response_model=list[DayRowOut])
def list_appointments(location_id: str, day: Day, days: Annotated[int, Query(ge=1, le=14)] = 1,
                      provider_id: str | None = None, include_cancelled: bool = False,
                      sort: Literal["start", "provider", "status"] = "start",
                      ctx: Context = Depends(permission(SCHEDULING_READ)), page: Pager = PAGED) -> list[DayRowOut]:
    rows = service.list_day(ctx, parse_id(location_id, "location"), day, days=days,
                            provider_id=parse_id(provider_id, "provider") if provider_id else None,
                            include_cancelled=include_cancelled, sort=sort)
    key = {"start": by("start_at", "provider_id"), "provider": by("provider_id", "start_at"),
           "status": by("status", "start_at")}[sort]
    return page.of([DayRowOut.model_validate(r) for r in rows], key=key)


@router.get("/appointments/{appointment_id}", response_model=AppointmentOut)
def get_appointment(appointment_id: str, ctx: Context = Depends(permission(SCHEDULING_READ))) -> AppointmentOut:
    return AppointmentOut.model_validate(service.get_appointment(ctx, parse_id(appointment_id, "appointment")))


@router.post("/appointments/{appointment_id}/reschedule", response_model=AppointmentOut)
def reschedule(appointment_id: str, data: RescheduleIn, ctx: Context = Depends(permission(SCHEDULING_BOOK))
               ) -> AppointmentOut:
    return AppointmentOut.model_validate(service.reschedule(ctx, parse_id(appointment_id, "appointment"),
                                                            **data.model_dump()))


@router.post("/appointments/{appointment_id}/visit-type", response_model=AppointmentOut,
             summary="Change an appointment's visit type (and so its length)",
             responses={412: {"description": "`expected_version` is not the appointment's version: read it again",
                              "content": {"application/problem+json": {
                                  "schema": {"$ref": "#/components/schemas/Problem"}}}}})
def change_visit_type(appointment_id: str, data: ChangeVisitTypeIn,
                      ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> AppointmentOut:
    """Same time, provider and location; another visit type, checked as a booking is: 404 for an
    unknown or inactive visit type, 422 when it cannot be booked there then (hours, template blocks
    limited to visit types, past, new/established patient), 409 `slot-taken` when the new length
    double-books the provider or no room or equipment of the required kind is free, 409
    `appointment-transition` unless the visit is booked or confirmed. The same visit type changes
    nothing. Emits `scheduling.appointment_modified` (webhook `appointment.modified`, HL7 SIU^S14)."""
    return AppointmentOut.model_validate(service.change_visit_type(
        ctx, parse_id(appointment_id, "appointment"), visit_type_id=data.visit_type_id, overbook=data.overbook,
        expected_version=data.expected_version))


@router.post("/appointments/{appointment_id}/cancel", response_model=AppointmentOut)
def cancel(appointment_id: str, data: CancelIn, ctx: Context = Depends(permission(SCHEDULING_BOOK))
           ) -> AppointmentOut:
    return AppointmentOut.model_validate(service.cancel(ctx, parse_id(appointment_id, "appointment"),
                                                        reason=data.reason))


@router.post("/appointments/{appointment_id}/confirm", response_model=AppointmentOut)
def confirm(appointment_id: str, ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> AppointmentOut:
    return AppointmentOut.model_validate(service.change_status(ctx, parse_id(appointment_id, "appointment"),
                                                               "confirm"))


def _status_route(action: service.StatusAction, path: str, summary: str) -> None:
    def endpoint(appointment_id: str, ctx: Context = Depends(permission(SCHEDULING_CHECKIN))) -> AppointmentOut:
        return AppointmentOut.model_validate(service.change_status(ctx, parse_id(appointment_id, "appointment"),
                                                                   action))

    endpoint.__name__ = f"appointment_{action}"
    router.add_api_route(f"/appointments/{{appointment_id}}/{path}", endpoint, methods=["POST"],
                         response_model=AppointmentOut, summary=summary)


_status_route("check_in", "check-in", "Mark the patient arrived")
_status_route("check_out", "check-out", "Mark the visit finished")
_status_route("no_show", "no-show", "Mark a no-show (after the start time)")
_status_route("undo_check_in", "undo-check-in", "Undo a mistaken check-in")
_status_route("undo_room", "undo-room", "Undo a mistaken rooming")


@router.post("/appointments/{appointment_id}/room", response_model=AppointmentOut)
def room(appointment_id: str, data: RoomIn | None = None, ctx: Context = Depends(permission(SCHEDULING_CHECKIN))
         ) -> AppointmentOut:
    return AppointmentOut.model_validate(service.change_status(
        ctx, parse_id(appointment_id, "appointment"), "room", room_id=data.room_id if data else None))


# --- waitlist ------------------------------------------------------------------------------------


@router.get("/waitlist", response_model=list[WaitlistOut])
def list_waitlist(location_id: str | None = None, status: Literal["waiting", "offered", "booked", "removed"] =
                  "waiting", sort: Literal["priority", "created"] = "priority",
                  ctx: Context = Depends(permission(WAITLIST_MANAGE)), page: Pager = PAGED) -> list[WaitlistOut]:
    entries = waitlist.list_entries(ctx, location_id=parse_id(location_id, "location") if location_id else None,
                                    status=status, sort=sort)
    # The page follows `sort`: highest priority first (negated for the ascending keyset), then age.
    key = ((lambda e: (-e.priority, e.created_at, e.id)) if sort == "priority"
           else (lambda e: (e.created_at, e.id)))
    return page.of([WaitlistOut.model_validate(e) for e in entries], key=key)


@router.post("/waitlist", response_model=WaitlistOut, status_code=201)
def add_waitlist(data: WaitlistIn, ctx: Context = Depends(permission(WAITLIST_MANAGE))) -> WaitlistOut:
    return WaitlistOut.model_validate(waitlist.add_entry(ctx, **data.model_dump()))


@router.delete("/waitlist/{entry_id}", status_code=204)
def remove_waitlist(entry_id: str, ctx: Context = Depends(permission(WAITLIST_MANAGE))) -> Response:
    waitlist.remove_entry(ctx, parse_id(entry_id, "waitlist entry"))
    return Response(status_code=204)


@router.get("/waitlist-offers", response_model=list[OfferOut])
def list_offers(status: Literal["open", "accepted", "expired", "declined"] = "open",
                ctx: Context = Depends(permission(WAITLIST_MANAGE)), page: Pager = PAGED) -> list[OfferOut]:
    return page.of([OfferOut.model_validate(o) for o in waitlist.list_offers(ctx, status=status)])


@router.post("/waitlist-offers/{offer_id}/accept")
def accept_offer(offer_id: str, ctx: Context = Depends(permission(SCHEDULING_BOOK))) -> dict[str, str]:
    return {"appointment_id": str(waitlist.accept_offer(ctx, parse_id(offer_id, "offer")))}


@router.post("/waitlist-offers/{offer_id}/decline", status_code=204)
def decline_offer(offer_id: str, ctx: Context = Depends(permission(WAITLIST_MANAGE))) -> Response:
    waitlist.decline_offer(ctx, parse_id(offer_id, "offer"))
    return Response(status_code=204)


# --- reminders -----------------------------------------------------------------------------------


@router.get("/reminder-rules", response_model=list[ReminderRuleOut])
def list_rules(ctx: Context = Depends(permission(REMINDERS_MANAGE)), page: Pager = PAGED) -> list[ReminderRuleOut]:
    return page.of([ReminderRuleOut.model_validate(r) for r in reminders.list_rules(ctx)])


@router.post("/reminder-rules", response_model=ReminderRuleOut, status_code=201)
def create_rule(data: ReminderRuleIn, ctx: Context = Depends(permission(REMINDERS_MANAGE))) -> ReminderRuleOut:
    return ReminderRuleOut.model_validate(reminders.create_rule(ctx, **data.model_dump()))


@router.delete("/reminder-rules/{rule_id}", status_code=204)
def delete_rule(rule_id: str, ctx: Context = Depends(permission(REMINDERS_MANAGE))) -> Response:
    reminders.delete_rule(ctx, parse_id(rule_id, "reminder rule"))
    return Response(status_code=204)


# --- public: reminder replies and ICS feeds ------------------------------------------------------


@public_router.post("/reminder-replies/{token}")
def reminder_reply(token: str, data: ReplyIn, _ctx: Context | None = Depends(public)) -> dict[str, str]:
    """A patient's reply to a reminder; "C" confirms. The token in the reminder is signed."""
    return {"status": reminders.confirm_reply(token, data.body)}


@public_router.get("/calendars/{token}.ics")
def calendar_feed(token: str, _ctx: Context | None = Depends(public)) -> Response:
    """A provider's next 60 days as iCalendar (initials and visit type only), at a signed URL."""
    return Response(provider_feed(token), media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300"})


# --- public: online booking ----------------------------------------------------------------------


@public_router.get("/booking/{org_slug}/{location_code}")
def online_location(org_slug: str, location_code: str, _ctx: Context | None = Depends(public)
                    ) -> dict[str, object]:
    """The location's name and its self-bookable visit types."""
    loc = online.find_location(org_slug, location_code)
    return {"location": loc.name, "timezone": loc.timezone,
            "visit_types": [VisitTypeOut.model_validate(v).model_dump(mode="json")
                            for v in online.visit_types(loc)]}


@public_router.get("/booking/{org_slug}/{location_code}/slots", response_model=list[SlotOut])
def online_slots(org_slug: str, location_code: str, visit_type_id: str, from_date: Day | None = None,
                 _ctx: Context | None = Depends(public), page: Pager = PAGED) -> list[SlotOut]:
    loc = online.find_location(org_slug, location_code)
    return page.of([SlotOut(**s.__dict__) for s in online.slots(loc, parse_id(visit_type_id, "visit type"), from_date)],
                   key=_slot_key, updated=None)


@public_router.post("/booking/{org_slug}/{location_code}/requests", response_model=OnlineBookingStarted,
                    status_code=201)
def online_start(org_slug: str, location_code: str, data: OnlineBookingIn, request: Request,
                 _ctx: Context | None = Depends(public)) -> OnlineBookingStarted:
    """Hold a slot request and send a one-time code to the phone or email given (rate limited)."""
    loc = online.find_location(org_slug, location_code)
    vid, expires, masked = online.start(loc, data, client_ip=client_ip(request))
    return OnlineBookingStarted(verification_id=vid, expires_at=expires, sent_to=masked)


@public_router.post("/booking/{org_slug}/{location_code}/requests/{verification_id}/verify",
                    response_model=OnlineBooked, status_code=201)
def online_verify(org_slug: str, location_code: str, verification_id: str, data: OnlineVerifyIn,
                  _ctx: Context | None = Depends(public)) -> OnlineBooked:
    loc = online.find_location(org_slug, location_code)
    return OnlineBooked(**online.verify(loc, parse_id(verification_id, "booking request"), data.code,
                                        start_at=data.start_at, provider_id=data.provider_id))

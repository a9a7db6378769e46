"""The scheduling API and screens over HTTP: problems, permissions, day sheet check-in, public pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from praxis.platform import clock
from praxis.platform.clock import now
from praxis.scheduling import reminders
from praxis.scheduling.reminders import FileSender

from .helpers import future_weekday, make_patient, make_world, signed_in


@pytest.fixture
def routed(app):
    """Mount scheduling and desk routers if wiring.py does not yet."""
    from praxis.desk import ui as desk_ui
    from praxis.scheduling import api, ui

    paths = {getattr(r, "path", "") for r in app.routes}
    for router in (api.router, api.public_router, ui.router, desk_ui.router):
        if not any(getattr(r, "path", "") in paths for r in router.routes):
            app.include_router(router)
    return app


@pytest.fixture
def world(org):
    return make_world(org)


def test_book_over_http_with_problems(routed, world, make_user, login):
    desk = signed_in(login, make_user(world.org, "front_desk", world.org.loc_a))
    p = make_patient(world.org)
    day = future_weekday()
    r = desk.get("/api/v1/scheduling/slots", params={"visit_type_id": str(world.visit_id),
                                                     "from_date": day.isoformat(), "limit": 3})
    assert r.status_code == 200, r.text
    slots = r.json()
    assert len(slots) == 3 and all(s["location_id"] == str(world.org.loc_a.id) for s in slots)
    body = {"patient_id": str(p), "visit_type_id": str(world.visit_id), "provider_id": slots[0]["provider_id"],
            "location_id": slots[0]["location_id"], "start_at": slots[0]["start_at"]}
    r = desk.post("/api/v1/scheduling/appointments", json=body)
    assert r.status_code == 201, r.text
    appt = r.json()
    assert appt["status"] == "booked"
    r = desk.post("/api/v1/scheduling/appointments", json=body)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "/problems/slot-taken" and r.json()["field"] == "start_at"
    r = desk.post("/api/v1/scheduling/appointments", json={**body, "org_id": str(world.org.id)})
    assert r.status_code == 422
    r = desk.post("/api/v1/scheduling/appointments", json={**body, "status": "checked_in"})
    assert r.status_code == 422
    r = desk.post("/api/v1/scheduling/appointments",
                  json={**body, "start_at": body["start_at"][:19]})
    assert r.status_code == 422
    r = desk.post(f"/api/v1/scheduling/appointments/{appt['id']}/cancel", json={"reason": "changed plans"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = desk.post(f"/api/v1/scheduling/appointments/{appt['id']}/check-in")
    assert r.status_code == 409 and r.json()["type"] == "/problems/appointment-transition"
    assert "cancelled" in r.json()["detail"]


def test_permissions(routed, world, make_user, login):
    provider = signed_in(login, make_user(world.org, "provider", world.org.loc_a))
    p = make_patient(world.org)
    r = provider.post("/api/v1/scheduling/appointments", json={
        "patient_id": str(p), "visit_type_id": str(world.visit_id), "provider_id": str(world.provider_id),
        "location_id": str(world.org.loc_a.id), "start_at": (now() + timedelta(days=3)).isoformat()})
    assert r.status_code == 403
    desk_b = signed_in(login, make_user(world.org, "front_desk", world.org.loc_b))
    r = desk_b.get("/api/v1/scheduling/appointments",
                   params={"location_id": str(world.org.loc_a.id), "day": future_weekday().isoformat()})
    assert r.status_code == 404


def test_day_sheet_check_in(routed, world, make_user, login):
    p = make_patient(world.org, first="Maria", last="Day-Sheet")
    day = future_weekday(2)
    from praxis.scheduling import service

    a = service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 11))
    clock.advance(world.local(day, 10, 45) - now())
    desk = signed_in(login, make_user(world.org, "front_desk", world.org.loc_a))
    r = desk.get("/desk/day-sheet", params={"location_id": str(world.org.loc_a.id), "day": day.isoformat()},
                 headers={"accept": "text/html"})
    assert r.status_code == 200
    assert "Day-Sheet, Maria" in r.text and 'name="csrf_token"' in r.text and "every 15s" in r.text
    r = desk.post(f"/desk/appointments/{a.id}/status", data={
        "action": "check_in", "location_id": str(world.org.loc_a.id), "day": day.isoformat(),
        "csrf_token": desk.headers["X-CSRF-Token"]}, headers={"HX-Request": "true"})
    assert r.status_code == 200, r.text
    assert 'data-status="checked_in"' in r.text
    r = desk.get("/scheduling", params={"location_id": str(world.org.loc_a.id), "day": day.isoformat()},
                 headers={"accept": "text/html"})
    assert r.status_code == 200 and "Day-Sheet, Maria" in r.text


def test_ics_feed_signed_and_initials_only(routed, world, make_user, login):
    desk = signed_in(login, make_user(world.org, "front_desk", world.org.loc_a))
    p = make_patient(world.org, first="Zed", last="Quinn")
    from praxis.scheduling import service

    service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                 location_id=world.org.loc_a.id, start_at=world.local(future_weekday(), 9))
    url = desk.get(f"/api/v1/scheduling/providers/{world.provider_id}/feed-url").json()["url"]
    r = desk.get(url)
    assert r.status_code == 200 and "BEGIN:VCALENDAR" in r.text
    assert "ZQ" in r.text and "Quinn" not in r.text and "Zed" not in r.text
    assert desk.get(url[:-8] + "AAAA.ics").status_code == 404
    # Each fetch leaves one audit record per patient shown.
    from sqlalchemy import func, select

    from praxis.platform.audit import AuditRecord
    from praxis.platform.db import session_scope

    desk.get(url)
    with session_scope(world.org.id) as s:
        assert s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "appointment.ics_feed", AuditRecord.patient_id == p)) == 2


def test_online_booking_with_code(routed, world, new_client):
    c = new_client()
    base = f"/api/v1/public/booking/{world.org.slug}/NYC"
    info = c.get(base).json()
    assert [v["id"] for v in info["visit_types"]] == [str(world.new_visit_id)]
    slots = c.get(f"{base}/slots", params={"visit_type_id": str(world.new_visit_id),
                                           "from_date": future_weekday().isoformat()}).json()
    assert slots
    sender = FileSender()
    reminders.set_sender(sender)
    try:
        from tests.conftest import csrf_header

        c.headers.update(csrf_header(c))
        r = c.post(f"{base}/requests", json={
            "visit_type_id": str(world.new_visit_id), "provider_id": slots[0]["provider_id"],
            "start_at": slots[0]["start_at"], "first_name": "Olive", "last_name": "Online",
            "dob": "1990-02-03", "channel": "sms", "phone": "(212) 555-0199"})
        assert r.status_code == 201, r.text
        vid = r.json()["verification_id"]
        code = sender.sent[-1]["body"].split("code is ")[1][:6]
        bad = c.post(f"{base}/requests/{vid}/verify", json={"code": "000000" if code != "000000" else "111111"})
        assert bad.status_code == 422 and bad.json()["field"] == "code"
        r = c.post(f"{base}/requests/{vid}/verify", json={"code": code})
        assert r.status_code == 201, r.text
        assert r.json()["location_name"].endswith("Midtown")
        again = c.post(f"{base}/requests/{vid}/verify", json={"code": code})
        assert again.status_code == 404
    finally:
        reminders.set_sender(None)


def test_patch_with_null_is_refused_or_clears(routed, world, bearer):
    """PATCH bodies follow the platform rule: null clears a clearable field (a provider's NPI) and
    is refused with 422 naming the field anywhere else (it used to reach the database as a 500)."""
    c = bearer(world.org, ["scheduling:manage", "scheduling:read"])
    provider = f"/api/v1/scheduling/providers/{world.provider_id}"
    r = c.patch(provider, json={"first_name": None})
    assert r.status_code == 422 and "first_name" in r.text
    assert c.patch(provider, json={"npi": None}).status_code == 200
    r = c.patch(f"/api/v1/scheduling/visit-types/{world.visit_id}", json={"name": None})
    assert r.status_code == 422 and "name" in r.text


def test_htmx_fragments_skip_the_page_shells_queries(routed, world, make_user, login):
    """The day sheet's rows refresh every 15 s through htmx; the organisation/location switcher is
    not part of a fragment, so building it there was wasted queries on every poll."""
    from tests.sqlcount import statements

    desk = signed_in(login, make_user(world.org, "front_desk", world.org.loc_a))
    url = f"/desk/day-sheet/rows?location_id={world.org.loc_a.id}&day={future_weekday().isoformat()}"
    with statements() as seen:
        assert desk.get(url).status_code == 200
    full = len(seen)
    with statements() as seen:
        assert desk.get(url, headers={"HX-Request": "true"}).status_code == 200
    assert len(seen) < full
    page = desk.get("/desk/day-sheet")
    assert world.org.loc_a.name in page.text  # full pages keep the switcher

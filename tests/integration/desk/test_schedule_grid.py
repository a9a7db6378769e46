"""Issue 13 item 4: the schedule grid (day/week, providers/rooms, slot rows, status blocks, free
time to book, the block menu), over HTTP on the real database."""

from __future__ import annotations

import re
from html import unescape

import pytest

from praxis.platform import clock
from praxis.platform.clock import now
from praxis.scheduling import service, setup
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world, signed_in


@pytest.fixture
def world(org):
    return make_world(org)


def _block(html: str, appt_id: object) -> str:
    return html.split(f'id="appt-{appt_id}"')[0].rsplit("<article", 1)[1] + html.split(
        f'id="appt-{appt_id}"')[1].split("</article>")[0]


def test_day_grid_blocks_free_time_and_menu(world, make_user, login):
    p = make_patient(world.org, first="Gail", last="Grid")
    day = future_weekday(3)
    a = service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 11))
    desk = signed_in(login, make_user(world.org, "front_desk"))
    params = {"location_id": str(world.org.loc_a.id), "day": day.isoformat()}
    html = desk.get("/scheduling", params=params).text
    # One provider works at Midtown: one column after the time labels; rows of 15 minutes from 09:00.
    assert 'class="sched cols-1"' in html and "times in America/New_York (EST)" in html
    assert '<div class="sched-time gc-1 gr-2">09:00</div>' in html
    assert '<div class="sched-time gc-1 gr-3">09:15</div>' in html
    block = _block(html, a.id)
    # 11:00 is row 2 + 8; a 30-minute visit spans two 15-minute rows; coloured by status.
    assert "block st-booked gc-2 gr-10 gs-2" in block and "Grid, Gail" in block and f'href="/patients/{p}"' in block
    menu_href = unescape(re.search(r'<div class="menu"><a href="([^"]+)"', block).group(1))
    assert menu_href == f"/scheduling/appointments/{a.id}/menu"  # loaded when the menu opens
    menu = desk.get(menu_href, headers={"HX-Request": "true"}).text
    assert "<html" not in menu  # a fragment for htmx
    assert "Reschedule" in menu and "Cancel visit" in menu and "No-show" not in menu  # not before it starts
    assert "Check in" not in menu  # only on the day
    page = desk.get(menu_href).text  # without script: the same actions on a page of their own
    assert "<html" in page and "Cancel visit" in page and "Back to the schedule" in page
    free = [unescape(x) for x in re.findall(r'<a class="free gc-2 gr-(\d+)"', html)]
    assert "2" in free and "10" not in free and "11" not in free  # 09:00 free; 11:00-11:30 taken
    link = unescape(re.search(r'<a class="free gc-2 gr-2" href="([^"]+)"', html).group(1))
    assert link.startswith("/scheduling/book?at=") and f"provider_id={world.provider_id}" in link
    # A free cell leads to booking that time: choose the patient, then the visit type.
    page = desk.get(link + "&q=Grid")
    assert page.status_code == 200 and "first find the patient" in page.text
    choose = unescape(re.search(r'href="(/scheduling/book\?patient_id=[^"]+)"', page.text).group(1))
    page = desk.get(choose)
    assert 'action="/scheduling/book/confirm"' in page.text and "Grid, Gail" in page.text

    # On the day, after the start: check in leads to the check-in screen; no-show is offered.
    clock.advance(world.local(day, 11, 10) - now())
    desk = signed_in(login, make_user(world.org, "front_desk"))
    menu = desk.get(f"/scheduling/appointments/{a.id}/menu", headers={"HX-Request": "true"}).text
    assert f'href="/desk/check-in/{a.id}"' in menu and ">No-show<" in menu and 'class="danger"' in menu


def test_cancel_and_room_from_the_block_menu(world, make_user, login):
    p = make_patient(world.org, first="Carl", last="Cancel")
    q = make_patient(world.org, first="Rita", last="Room")
    room = setup.create_resource(world.ctx, location_id=world.org.loc_a.id, kind="room", name="Exam 3")
    day = future_weekday(3)
    a = service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 10))
    b = service.book(world.ctx, patient_id=q, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 14))
    clock.advance(world.local(day, 9) - now())
    service.change_status(world.ctx, b.id, "check_in")
    desk = signed_in(login, make_user(world.org, "front_desk"))
    here = f"/scheduling?location_id={world.org.loc_a.id}&day={day.isoformat()}&view=provider&span=day"
    r = desk.post(f"/scheduling/appointments/{a.id}/cancel", data={"reason": "Patient request", "back": here},
                  follow_redirects=False)
    assert r.status_code == 303 and "done=cancel" in r.headers["location"]
    assert service.get_appointment(world.ctx, a.id).status == "cancelled"
    html = desk.get(r.headers["location"]).text
    assert "Cancelled" in html and f'id="appt-{a.id}"' not in html
    r = desk.post(f"/scheduling/appointments/{b.id}/action", data={"action": "room", "room_id": str(room.id),
                                                                    "back": here}, follow_redirects=False)
    assert r.status_code == 303
    block = _block(desk.get(here).text, b.id)
    assert "st-roomed" in block and "Exam 3" in block
    # The room view puts the visit in its room's column.
    html = desk.get(here.replace("view=provider", "view=room")).text
    assert ">Exam 3</div>" in html and "Room, Rita" in _block(html, b.id)
    # A refused action is a message on the grid, not a JSON page.
    r = desk.post(f"/scheduling/appointments/{a.id}/action", data={"action": "check_in", "back": here})
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/html") and 'role="alert"' in r.text
    # Never an open redirect.
    r = desk.post(f"/scheduling/appointments/{b.id}/action", data={"action": "check_out",
                                                                    "back": "https://evil.example/"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/scheduling?")


def test_week_view_and_location_slot_size(world, make_user, login):
    from sqlalchemy import select

    from praxis.platform.db import session_scope
    from praxis.practice.models import Location

    with session_scope(world.org.id) as s:
        loc = s.scalars(select(Location).where(Location.id == world.org.loc_a.id)).one()
        loc.settings = {**(loc.settings or {}), "slot_minutes": 30}
    p = make_patient(world.org, first="Wes", last="Week")
    day = future_weekday(3)
    a = service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 11))
    desk = signed_in(login, make_user(world.org, "front_desk"))
    html = desk.get("/scheduling", params={"location_id": str(world.org.loc_a.id), "day": day.isoformat(),
                                           "span": "week"}).text
    assert 'class="sched cols-7"' in html and "30-minute rows" in html
    assert '<div class="sched-time gc-1 gr-3">09:30</div>' in html
    col = 2 + day.weekday()
    assert f"block st-booked gc-{col} gr-6 gs-1" in _block(html, a.id)  # 11:00 = row 2 + 4; 30 min = one row
    r = desk.get("/scheduling", params={"location_id": str(world.org.loc_a.id), "day": "tomorrow"})
    assert r.status_code == 422 and "is not a date" in r.text

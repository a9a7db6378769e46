"""Issue 13 item 5: the day sheet as a work queue and check-in on one screen, over HTTP."""

from __future__ import annotations

import re
import secrets

import pytest

from praxis.patients import coverage
from praxis.patients.schemas import CoverageIn, PayerIn
from praxis.platform import clock
from praxis.platform.clock import now
from praxis.scheduling import service, setup
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world, signed_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def world(org):
    return make_world(org)


def _row(html: str, appt_id: object) -> str:
    return html.split(f'id="appt-{appt_id}"')[1].split("</tr>")[0]


def test_day_sheet_offers_only_what_is_allowed_now(world, make_user, login):
    p = make_patient(world.org, first="Wendy", last="Queue")
    day = future_weekday(2)
    a = service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 11))
    clock.advance(world.local(day, 10, 30) - now())
    user = make_user(world.org, "front_desk", world.org.loc_a)
    desk = signed_in(login, user)
    params = {"location_id": str(world.org.loc_a.id), "day": day.isoformat()}
    html = desk.get("/desk/day-sheet", params=params).text
    row = _row(html, a.id)
    assert f'href="/patients/{p}"' in row and "Queue, Wendy" in row
    assert f'href="/desk/check-in/{a.id}"' in row  # check-in opens the one-screen check-in
    assert "No-show" not in row  # not before the start time
    assert "Balance" not in html and "Eligibility" not in html  # hidden until billing exists
    clock.advance(world.local(day, 11, 5) - now())
    desk = signed_in(login, user)  # a new session: the idle timeout passed meanwhile
    row = _row(desk.get("/desk/day-sheet", params=params).text, a.id)
    assert 'class="danger-outline"' in row and ">No-show<" in row  # destructive looks different


def test_check_in_on_one_screen(world, make_user, login):
    p = make_patient(world.org, first="Ivy", last="Arrives", email=True)
    payer = coverage.create_payer(world.ctx, PayerIn(payer_code=f"P{secrets.token_hex(3)}", name="Acme Health"))
    cov = coverage.add_coverage(world.ctx, p, CoverageIn(payer_id=payer.id, member_id="M123", priority=1))
    room = setup.create_resource(world.ctx, location_id=world.org.loc_a.id, kind="room", name="Exam 7")
    day = future_weekday(2)
    a = service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                     location_id=world.org.loc_a.id, start_at=world.local(day, 11))
    clock.advance(world.local(day, 10, 40) - now())
    desk = signed_in(login, make_user(world.org, "front_desk", world.org.loc_a))
    page = desk.get(f"/desk/check-in/{a.id}")
    assert page.status_code == 200
    html = page.text
    assert "Arrives, Ivy" in html and "17 May 1980" in html and "Acme Health" in html and "member M123" in html
    assert "No card image on file" in html and "/documents/" not in html  # never-uploaded images are not links
    assert "Card images</strong>: missing" in html
    # A bad e-mail is a form message and changes nothing.
    form = {"phone_mobile": "+12125550123", "email": "not-an-email", "preferred_channel": "sms", "consent_sms": "on"}
    r = desk.post(f"/desk/check-in/{a.id}/contact", data=form)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert 'id="c-email" name="email" type="email" value="not-an-email" aria-invalid="true"' in r.text
    assert 'id="e-email">email: not valid' in r.text
    assert 'value="pat@example.org"' in desk.get(f"/desk/check-in/{a.id}").text  # nothing changed
    r = desk.post(f"/desk/check-in/{a.id}/contact", data={**form, "email": "ivy@example.org", "city": "Albany"},
                  follow_redirects=False)
    assert r.status_code == 303
    html = desk.get(f"/desk/check-in/{a.id}").text
    assert 'value="ivy@example.org"' in html and 'value="Albany"' in html
    r = desk.post(f"/desk/check-in/{a.id}/card", data={"coverage_id": str(cov.id), "side": "card_front"},
                  files={"file": ("front.png", PNG, "image/png")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    html = desk.get(f"/desk/check-in/{a.id}").text
    assert re.search(rf'href="/patients/{p}/documents/[0-9a-f-]+">card front</a>', html)
    # Arrived: the arrival time is kept and the day sheet shows the wait.
    r = desk.post(f"/desk/check-in/{a.id}/arrive", follow_redirects=False)
    assert r.status_code == 303 and "done=check_in" in r.headers["location"]
    appt = service.get_appointment(world.ctx, a.id)
    assert appt.status == "checked_in" and appt.checked_in_at is not None
    clock.advance(world.local(day, 10, 52) - now())
    params = {"location_id": str(world.org.loc_a.id), "day": day.isoformat()}
    row = _row(desk.get("/desk/day-sheet", params=params).text, a.id)
    assert "10:40" in row and re.search(r"waiting 1[12] min", row), row  # seconds pass while the test runs
    # Room them from the day sheet: the room column shows the room.
    r = desk.post(f"/desk/appointments/{a.id}/status", data={"action": "room", "room_id": str(room.id), **params},
                  headers={"HX-Request": "true"})
    assert r.status_code == 200
    row = _row(r.text, a.id)
    assert 'data-status="roomed"' in r.text.split(f'id="appt-{a.id}"')[1][:80] and "<td>Exam 7</td>" in row

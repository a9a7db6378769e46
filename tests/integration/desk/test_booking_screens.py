"""Issue 13 item 3: booking that cannot pick the wrong patient, over HTTP on the real database."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from html import unescape
from urllib.parse import unquote

import pytest

from praxis.platform.clock import now
from praxis.scheduling import service
from praxis.scheduling.availability import to_local
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world, signed_in


@pytest.fixture
def world(org):
    return make_world(org)


@pytest.fixture
def desk(world, make_user, login):
    return signed_in(login, make_user(world.org, "front_desk"))


def test_search_preselects_nobody_and_the_patient_stays_in_view(world, desk):
    a = make_patient(world.org, first="Anna", last="Twinsworth")
    make_patient(world.org, first="Anne", last="Twinsworth")
    r = desk.get("/scheduling/book", params={"q": "Twinsworth"}, headers={"accept": "text/html"})
    assert r.status_code == 200
    assert "checked" not in r.text  # no radio button, nothing pre-selected
    assert r.text.count("Choose Twinsworth") == 2 and "MRN" in r.text
    r = desk.get("/scheduling/book", params={"patient_id": str(a)}, headers={"accept": "text/html"})
    banner = r.text.split('class="patient-banner"')[1].split("</section>")[0]
    assert "Twinsworth, Anna" in banner and "17 May 1980" in banner and "MRN" in banner
    # "From" defaults to today in the location's zone.
    today = to_local(now(), "America/New_York").date()
    assert f'name="from_date" value="{today.isoformat()}"' in r.text


def test_bad_from_date_is_a_form_message(world, desk):
    p = make_patient(world.org)
    r = desk.get("/scheduling/book", params={"patient_id": str(p), "visit_type_id": str(world.visit_id),
                                             "from_date": "31/02/2026"}, headers={"accept": "text/html"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "is not a date" in r.text and 'role="alert"' in r.text and "First open times" not in r.text


def test_slots_in_time_order_with_local_zone_and_confirmation(world, desk):
    from praxis.scheduling import reminders

    reminders.create_rule(world.ctx, hours_before=48)
    reminders.create_rule(world.ctx, hours_before=2)
    p = make_patient(world.org, first="Cora", last="Confirm")
    day = future_weekday(3)
    r = desk.get("/scheduling/book", params={"patient_id": str(p), "visit_type_id": str(world.visit_id),
                                             "from_date": day.isoformat()}, headers={"accept": "text/html"})
    assert r.status_code == 200, r.text
    labels = re.findall(r'<strong class="slot-time">([^<]+)</strong>', r.text)
    assert labels and all(re.fullmatch(r"\d\d:\d\d [A-Z]{3,4} · .+", unescape(x)) for x in labels)
    assert any("Phoenix" in x and "MST" in x for x in labels) and any("Midtown" in x and "EST" in x for x in labels)
    hrefs = [unescape(h) for h in re.findall(r'<a class="slot" href="([^"]+)"', r.text)]
    starts = [re.search(r"start_at=([^&]+)", h).group(1) for h in hrefs]
    instants = [datetime.fromisoformat(unquote(s)) for s in starts]
    assert instants == sorted(instants)
    # The confirmation step: every fact, the reminder, nothing booked yet.
    c = desk.get(hrefs[0], headers={"accept": "text/html"})
    assert c.status_code == 200
    for fact in ("visit-type", "provider", "location", "time", "reminder"):
        assert f'data-fact="{fact}"' in c.text
    assert "Follow-up (30 min)" in c.text and re.search(r"\d\d:\d\d (EST|MST)", c.text)
    reminder = c.text.split('data-fact="reminder">')[1].split("<")[0]
    assert reminder == "A reminder by text message to +12125550123, 2 days and 2 h before the visit.", reminder
    assert "Confirm, Cora" in c.text  # the banner is still there
    assert service.list_day(world.ctx, world.org.loc_a.id, day) == []  # confirming is a separate step
    form = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', c.text))
    form = {k: unescape(v) for k, v in form.items()}
    form["reason_for_visit"] = "Knee pain"
    r = desk.post("/scheduling/book", data=form, follow_redirects=False)
    assert r.status_code == 303 and "booked=" in r.headers["location"]
    appt_id = r.headers["location"].split("booked=")[1].split("#")[0]
    g = desk.get(r.headers["location"], headers={"accept": "text/html"})
    assert g.status_code == 200
    block = g.text.split(f'id="appt-{appt_id}"')[1].split("</article>")[0]
    assert "highlight" in g.text.split(f'id="appt-{appt_id}"')[1][:200] and "Confirm, Cora" in block
    assert service.get_appointment(world.ctx, uuid.UUID(appt_id)).reason_for_visit == "Knee pain"
    # The same time again: a form message on the confirmation page, not a JSON problem.
    r = desk.post("/scheduling/book", data=form, follow_redirects=False)
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/html")
    assert "Pick another time" in r.text

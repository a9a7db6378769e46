"""In the browser: start the care timer on a patient, reload, stop it, see the minutes on the
worklist; a practitioner closes a finished month and sees it approved."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from praxis.care import timing
from praxis.platform import clock
from tests.conftest import browser_login
from tests.integration.care.helpers import at, enrol, make_world, new_patient

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_timer_reload_stop_and_month_close(page, org, make_user, ctx_for):
    w = make_world(org)
    coord = make_user(org, "care_coordinator", org.loc_a)
    e = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm", start=date(2025, 1, 1))
    row = f'tr[data-enrolment="{e.id}"]'

    browser_login(page, coord)
    page.goto("/care")
    page.locator(row).get_by_role("button", name="Start timer").click()
    page.locator("#care-timers .timer.running").wait_for()
    clock.advance(timedelta(minutes=3))
    page.reload()
    assert page.locator("#care-timers .timer.running").count() == 1  # kept by the server
    page.fill("#care-timers input[name=note]", "called about refills")
    page.locator("#care-timers").get_by_role("button", name="Stop and log").click()
    page.get_by_text("No timer running").wait_for()
    page.reload()
    assert page.locator(f"{row} td.minutes").inner_text() == "3"
    assert page.page_errors == []

    timing.add_entry(ctx_for(coord), e.id, activity="coordination", started_at=at(2025, 5, 6), minutes=25)
    doc = make_user(org, "provider", org.loc_a)
    page.context.clear_cookies()
    browser_login(page, doc)
    page.goto("/care/month?month=2025-05")
    assert "99490×1" in page.locator("#group-reached").inner_text()
    page.get_by_role("button", name="Approve 2025-05").click()
    page.get_by_text("Approved 1 enrolment month(s).").wait_for()
    assert "yes" in page.locator("#group-reached").inner_text()

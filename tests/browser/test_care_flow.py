"""In the browser (issue 16, "Tests must show"): as a care coordinator start the timer on a
patient, reload, stop it, see the minutes on the worklist; as the practitioner close the month;
find the charge in billing's screens. And axe over the care screens (0 serious/critical)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from praxis.care import careplan, timing
from praxis.care.schemas import CarePlanIn, GoalIn
from praxis.platform import clock
from tests.browser.axe import assert_accessible
from tests.conftest import browser_login
from tests.integration.care.helpers import at, enrol, make_world, new_patient
from tests.integration.care.test_charging import _billing

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_timer_reload_stop_month_close_and_the_charge_in_billing(page, org, make_user, ctx_for):
    w = make_world(org)
    _billing(w)  # a billing profile and fee schedule at the location: approval can create the charge
    coord = make_user(org, "care_coordinator", org.loc_a)
    pid = new_patient(w.ctx, org.loc_a.id)
    e = enrol(w, pid, "ccm", start=date(2025, 1, 1))
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
    # The patient's care page, one click from the worklist, shows the entry with its note.
    page.locator(row).get_by_role("link").first.click()
    page.wait_for_url(f"**/care/patients/{pid}**")
    assert "called about refills" in page.locator(f"#enrolment-{e.id}").inner_text()
    assert page.locator(f"#enrolment-{e.id} .staff-minutes").inner_text() == "3 min"
    assert page.page_errors == []

    # A finished month (May 2025) for the practitioner to close.
    timing.add_entry(ctx_for(coord), e.id, activity="coordination", started_at=at(2025, 5, 6), minutes=25,
                     note="medication review")
    doc = make_user(org, "provider", org.loc_a)
    page.context.clear_cookies()
    browser_login(page, doc)
    page.goto("/care/month?month=2025-05")
    assert "99490×1" in page.locator("#group-reached").inner_text()
    page.get_by_role("button", name="Approve 2025-05").click()
    page.get_by_text("Approved 1 enrolment month(s).").wait_for()
    reached = page.locator("#group-reached")
    assert "yes" in reached.inner_text() and "created" in reached.inner_text()

    # The biller finds the charge in billing's own screens.
    biller = make_user(org, "biller")
    page.context.clear_cookies()
    browser_login(page, biller)
    page.goto("/billing")
    waiting = page.locator("#waiting tr", has_text="99490")
    assert waiting.count() == 1 and "2025-05-31" in waiting.inner_text()
    waiting.get_by_role("link", name="Superbill").click()
    page.wait_for_url("**/billing/encounters/**")
    assert f"from care care:{e.id}:2025-05" in page.locator("main").inner_text()
    assert page.locator('main input[value="99490"]').count() == 1  # the superbill line, editable there
    assert page.page_errors == []


def test_care_screens_pass_axe(page, org, make_user, ctx_for):
    w = make_world(org)
    coord = make_user(org, "care_coordinator", org.loc_a)
    pid = new_patient(w.ctx, org.loc_a.id)
    e = enrol(w, pid, "ccm", start=date(2025, 1, 1), complex=True)
    timing.add_entry(ctx_for(coord), e.id, activity="patient_call", started_at=at(2025, 5, 6), minutes=25,
                     note="talked about diet", interactive=True)
    v = careplan.save_plan(ctx_for(coord), e.id, CarePlanIn(goals=[GoalIn(description="Walk daily")]))
    careplan.save_plan(ctx_for(coord), e.id, CarePlanIn(goals=[GoalIn(description="Walk twice daily")],
                                                         based_on_version=1))
    other = new_patient(w.ctx, org.loc_a.id)
    browser_login(page, coord)
    for url in ["/care", f"/care/patients/{pid}", f"/care/patients/{pid}?month=2025-05",
                f"/care/patients/{other}/enrol", f"/care/enrolments/{e.id}/care-plan",
                f"/care/care-plan-versions/{v.id}"]:
        page.goto(url)
        assert_accessible(page, label=url)
    page.goto(f"/care/patients/{other}/enrol")  # an error answer is accessible too: nothing told
    page.fill("#initiating_visit_on", (clock.now() - timedelta(days=3)).date().isoformat())
    page.fill("#consent_obtained_at", (clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#enrol-form").get_by_role("button", name="Enrol").click()
    page.get_by_role("alert").wait_for()
    assert "told_availability" in page.get_by_role("alert").inner_text()
    assert_accessible(page, label="enrol with errors")
    doc = make_user(org, "provider", org.loc_a)
    page.context.clear_cookies()
    browser_login(page, doc)
    page.goto("/care/month?month=2025-05")
    assert_accessible(page, label="/care/month")

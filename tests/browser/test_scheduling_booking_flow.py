"""Front desk in a real browser: find a slot for a new patient across two locations, book it,
check the patient in from the day sheet."""

from __future__ import annotations

import pytest

from praxis.platform import clock
from praxis.platform.clock import now
from praxis.scheduling import setup
from tests.conftest import browser_login
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_find_slot_book_and_check_in(live_server, page, org, make_user):
    import httpx

    # The regression this test exists to catch: the booking screen not wired (wiring.routers).
    missing = httpx.get(f"{live_server}/scheduling/book", follow_redirects=False).status_code == 404
    assert not missing, "/scheduling/book answers 404: the scheduling router is not wired"
    w = make_world(org)
    setup.update_visit_type(w.ctx, w.new_visit_id, {"buffer_after_minutes": 0})
    make_patient(org, first="Nora", last="Newcomer")
    day = future_weekday(1)
    clock.advance(w.local(day, 7) - now())  # the desk opens at 07:00 on the visit day
    user = make_user(org, "front_desk")
    browser_login(page, user)

    page.goto("/scheduling/book?q=Newcomer")
    page.click("a[aria-label^='Choose Newcomer, Nora']")  # nothing is pre-selected
    page.select_option("#visit_type_id", str(w.new_visit_id))
    page.fill("#from_date", day.isoformat())
    page.click("button:has-text('Find open times')")
    slots = page.locator("ol.slots a.slot")
    assert slots.count() > 0
    texts = slots.all_inner_texts()
    assert any("Midtown" in t for t in texts) and any("Phoenix" in t for t in texts)
    slots.first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/scheduling/book/confirm**")
    # autofocus lands after the page loads: wait for it, then Enter in the reason field books
    page.wait_for_function("document.activeElement && document.activeElement.id === 'reason_for_visit'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/scheduling?**")
    assert "Newcomer, Nora" in page.content()

    page.goto(f"/desk/day-sheet?location_id={org.loc_a.id}&day={day.isoformat()}")
    row = page.locator("tr", has_text="Newcomer, Nora")
    row.locator("a", has_text="Check in").click()
    page.click("button:has-text('Mark arrived')")
    page.wait_for_selector("tr[data-status=checked_in]")
    assert page.page_errors == []

"""Issue 13: a front-desk day on the data `praxis demo` creates, in a real browser, as the
front-desk role. Register (and see the duplicate warning), book the first open time across two
locations through the confirmation step, see the visit on the grid and the day sheet, open the
intake link booking sent and submit it as the patient, review it, check the patient in, room
them; then cancel one visit, reschedule another and change its visit type. Every step asserts what the screen shows.
Nothing is prepared by hand: registration works on the demo data as `praxis demo` leaves it."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from praxis.platform import clock, outbox
from praxis.platform.clock import now
from praxis.platform.db import session_scope
from praxis.scheduling import reminders
from praxis.scheduling.reminders import FileSender
from tests.browser.axe import assert_accessible
from tests.conftest import PASSWORD, UserFixture, browser_login

pytestmark = [pytest.mark.slow, pytest.mark.browser]
NY = ZoneInfo("America/New_York")


def _demo():
    """The demo organisation exactly as `praxis demo` loads it, and a front-desk user there."""
    from praxis.demo import DEMO_SLUG, load_demo
    from praxis.identity.service import add_membership, create_user
    from praxis.patients.models import Patient
    from praxis.practice.service import find_organisation_by_slug

    load_demo()
    org = find_organisation_by_slug(DEMO_SLUG)
    with session_scope(org.id) as s:
        first = s.scalars(select(Patient).where(Patient.mrn == "00000001")).one()
        twin = (first.first_name, first.last_name, first.dob)
    email = f"desk-{secrets.token_hex(4)}@riverbend.example.org"
    user = create_user(email, "Dana Desk", PASSWORD)
    member = add_membership(org.id, user.id, [("front_desk", None)])
    return org, UserFixture(user.id, member.id, email, PASSWORD, None, "front_desk", None), twin


def _next_weekday_morning() -> datetime:
    day = (now().astimezone(NY) + timedelta(days=1)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 7, 30, tzinfo=NY)


def _drain_outbox() -> None:
    for _ in range(50):
        if outbox.run_once() == 0:
            return


def test_a_front_desk_day_on_the_demo_data(browser, live_server, page, tmp_path):
    org, desk, twin = _demo()
    sender = FileSender(tmp_path / "messages.log")
    reminders.set_sender(sender)
    try:
        _journey(browser, live_server, page, org, desk, twin, sender)
    finally:
        reminders.set_sender(None)


def _journey(browser, live_server, page, org, desk, twin, sender) -> None:
    morning = _next_weekday_morning()
    clock.advance(morning - now())
    browser_login(page, desk)
    suffix = secrets.token_hex(2)

    # 1. Register: a near-duplicate of a demo patient is flagged; then a new patient is registered.
    page.goto("/patients/new")
    page.fill("#f-first_name", twin[0])
    page.fill("#f-last_name", twin[1])
    page.fill("#f-dob", twin[2].isoformat())
    page.click("button:has-text('Register')")
    warning = page.locator("#duplicate-warning")
    assert "Possible duplicate" in warning.inner_text() and "MRN 00000001" in warning.inner_text()
    page.goto("/patients/new")
    first, last = "Juniper", f"Journey{suffix}"
    page.fill("#f-first_name", first)
    page.fill("#f-last_name", last)
    page.fill("#f-dob", "1984-03-09")
    page.fill("#f-phone_mobile", "(212) 555-7188")  # the demo's phones end 0000-1999
    page.check("input[name=consent_sms]")
    page.click("button:has-text('Register')")
    page.wait_for_url(re.compile(r"/patients/[0-9a-f-]{36}$"))
    patient_id = page.url.rsplit("/", 1)[1]
    assert f"{last}, {first}" in page.content()

    # 2. Book the first open time across both locations, through the confirmation step.
    page.goto("/scheduling/book")
    page.fill("#q", last)
    page.keyboard.press("Enter")
    assert page.locator("input[type=radio]").count() == 0  # nobody is pre-selected
    page.click(f"a[aria-label^='Choose {last}, {first}']")
    banner = page.locator(".patient-banner").inner_text()
    assert f"{last}, {first}" in banner and "09 Mar 1984" in banner and "MRN" in banner
    assert page.input_value("#from_date") == morning.date().isoformat()  # "From" is today
    page.select_option("#visit_type_id", label="Follow-up (20 min)")
    page.click("button:has-text('Find open times')")
    labels = page.locator("a.slot .slot-time").all_inner_texts()
    assert any(re.fullmatch(r"\d\d:\d\d EST · Flagship", x) for x in labels), labels
    assert any(re.fullmatch(r"\d\d:\d\d CST · Clinic 2", x) for x in labels), labels
    hrefs = page.locator("a.slot").evaluate_all("els => els.map(e => e.href)")
    starts = [datetime.fromisoformat(re.search(r"start_at=([^&]+)", h).group(1).replace("%3A", ":")
                                     .replace("%2B", "+")) for h in hrefs]
    assert starts == sorted(starts)
    assert starts[0].astimezone(NY).date() == morning.date()  # the demo day has open time
    page.locator("a.slot").first.click()
    page.wait_for_url("**/scheduling/book/confirm**")
    assert page.locator("[data-fact=visit-type]").inner_text().startswith("Follow-up")
    assert re.search(r"\d\d:\d\d (EST|CST)", page.locator("[data-fact=time]").inner_text())
    assert "text message to +12125557188" in page.locator("[data-fact=reminder]").inner_text()
    assert f"{last}, {first}" in page.locator(".patient-banner").inner_text()
    assert_accessible(page, label="booking confirmation")
    page.fill("#reason_for_visit", "Follow-up on blood pressure")
    page.click("button:has-text('Book this visit')")
    page.wait_for_url("**booked=**")
    appt_id = re.search(r"booked=([0-9a-f-]{36})", page.url).group(1)
    location_id = re.search(r"location_id=([0-9a-f-]{36})", page.url).group(1)

    # 3. The visit on the grid (highlighted) and on the day sheet.
    block = page.locator(f"#appt-{appt_id}")
    assert "highlight" in block.get_attribute("class") and f"{last}, {first}" in block.inner_text()
    assert block.locator(f"a[href='/patients/{patient_id}']").count() == 1
    assert "New visit booked" in page.locator(".flash").inner_text()
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/desk/day-sheet?location_id={location_id}&day={morning.date()}")
    row = page.locator(f"#appt-{appt_id}")
    assert f"{last}, {first}" in row.inner_text() and row.get_attribute("data-status") == "booked"
    # A work queue: at 1366x900 at least 15 visits are on screen without scrolling.
    visible = page.evaluate("""() => [...document.querySelectorAll('#day-sheet tbody tr')]
        .filter(r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; }).length""")
    assert visible >= 15, visible

    # 4. The intake link booking sent: the patient opens it and submits.
    _drain_outbox()
    sent = [m for m in sender.sent if m["to"] == "+12125557188" and "/intake/l/" in m["body"]]
    assert len(sent) == 1, sender.sent[-3:]
    path = "/intake/l/" + sent[0]["body"].split("/intake/l/")[1].split(" ")[0]
    page.reload()
    assert "not started" in page.locator(f"#appt-{appt_id}").inner_text()  # the intake column
    patient_side = browser.new_context(base_url=live_server)
    pp = patient_side.new_page()
    pp.goto(path)
    assert "Confirm your date of birth" in pp.content() and last not in pp.content()
    pp.fill("#verify-dob", "1984-03-09")
    pp.click("button:has-text('Fill in what you know')")
    assert pp.input_value("#q-last_name") == last and pp.input_value("#q-phone") == "+12125557188"
    pp.click("button:has-text('Next')")
    assert pp.locator("[data-field=member_id]").is_hidden()  # shown only with insurance
    pp.select_option("#q-has_insurance", "yes")
    assert pp.locator("[data-field=member_id]").is_visible()  # live, no reload
    pp.fill("#q-payer", "aetna")
    pp.fill("#q-member_id", "W99887766")
    pp.click("button:has-text('Next')")
    pp.fill("#q-consent_treatment", f"{first} {last}")
    pp.check("input[name=consent_treatment__agreed]")
    pp.click("button:has-text('Next')")
    for i in range(1, 10):
        pp.select_option(f"#q-phq9_{i}", "Not at all")
    pp.click("button:has-text('Submit')")
    assert "Your answers were sent to the clinic" in pp.content()
    patient_side.close()

    # 5. Review it from the queue.
    page.goto("/intake/review")
    page.click(f"a[aria-label='Review the intake of {last}, {first}']")
    assert page.locator("#payer-problem").count() == 0  # "aetna" is in the demo payer directory
    page.click("button:has-text('Approve and update the record')")
    assert "applied" in page.locator("h1 .badge").inner_text()

    # 6. Check in on one screen, then room them from the day sheet.
    page.goto(f"/desk/day-sheet?location_id={location_id}&day={morning.date()}")
    row = page.locator(f"#appt-{appt_id}")
    assert "done" in row.inner_text()  # the intake column
    assert row.locator("text=No-show").count() == 0  # not before the start time
    row.locator("a:has-text('Check in')").click()
    assert "Aetna" in page.locator("#coverage").inner_text() and "W99887766" in page.content()
    assert "done" in page.locator("#intake").inner_text()
    page.click("button:has-text('Mark arrived')")
    page.wait_for_url("**done=check_in**")
    row = page.locator(f"#appt-{appt_id}")
    assert row.get_attribute("data-status") == "checked_in" and "waiting 0 min" in row.inner_text()
    row.locator("select[name=room_id]").select_option(label="Exam 1")
    row.locator("button:has-text('Room')").click()
    page.wait_for_selector(f"#appt-{appt_id}[data-status=roomed]")
    assert "Exam 1" in page.locator(f"#appt-{appt_id}").inner_text()

    # 7. Cancel one visit and reschedule another from the grid's block menu.
    page.goto(f"/scheduling?location_id={location_id}&day={morning.date()}")
    others = page.locator("article.block[data-status=booked]:not(#appt-" + appt_id + ")")
    victim = others.nth(0).get_attribute("id").removeprefix("appt-")
    moved = others.nth(1).get_attribute("id").removeprefix("appt-")
    page.locator(f"#appt-{victim} summary").click()
    page.locator(f"#reason-{victim}").select_option("Patient request")
    page.locator(f"#appt-{victim} button:has-text('Cancel visit')").click()
    assert page.locator(".flash").inner_text() == "Cancelled" and page.locator(f"#appt-{victim}").count() == 0
    page.locator(f"#appt-{moved} summary").click()
    page.locator(f"#appt-{moved} a:has-text('Reschedule')").click()
    assert "Reschedule a visit" in page.locator("h1").inner_text()
    page.click("button:has-text('Find open times')")
    page.locator("a.slot").first.click()
    assert "Confirm the new time" in page.locator("h1").inner_text()
    page.click("button:has-text('Move the visit')")
    page.wait_for_url(f"**moved={moved}**")
    assert "Visit moved" in page.locator(".flash").inner_text()
    assert "highlight" in page.locator(f"#appt-{moved}").get_attribute("class")

    # 8. Change that visit's type from the same menu: a 20-minute type fits wherever it now stands.
    page.locator(f"#appt-{moved} summary").click()
    chooser = page.locator(f"#vt-{moved}")
    chooser.wait_for()  # the menu loads when it opens
    label = next(t for t in chooser.locator("option").all_inner_texts() if t.endswith("(20 min)"))
    chooser.select_option(label=label)
    page.locator(f"#appt-{moved} button:has-text('Change visit type')").click()
    page.wait_for_url("**done=change_visit_type**")
    assert page.locator(".flash").inner_text() == "Visit type changed"
    assert label.removesuffix(" (20 min)") in page.locator(f"#appt-{moved}").inner_text()
    assert page.page_errors == []

"""Issue 13 item 9: axe-core over every staff screen and the patient intake pages (0 serious or
critical violations), and the day sheet, booking and check-in with the keyboard alone."""

from __future__ import annotations

from datetime import date

import pytest

from praxis.intake import links, ratelimit
from praxis.intake import service as intake
from praxis.intake.builtin import PHQ9_OPTIONS, default_definition
from praxis.intake.schemas import WorkflowIn
from praxis.platform import clock
from praxis.platform.clock import now
from praxis.scheduling import service, setup
from tests.browser.axe import blocking, describe, run_axe
from tests.conftest import browser_login
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _world_with_a_day(org):
    ratelimit.reset()
    w = make_world(org)
    intake.create_workflow(w.ctx, WorkflowIn(name="Default", definition=default_definition()))
    setup.create_resource(w.ctx, location_id=org.loc_a.id, kind="room", name="Exam 1")
    p = make_patient(org, first="Alma", last="Access")
    day = future_weekday(2)
    appt = service.book(w.ctx, patient_id=p, visit_type_id=w.visit_id, provider_id=w.provider_id,
                        location_id=org.loc_a.id, start_at=w.local(day, 11))
    link = links.send_intake_link(w.ctx, p, org.loc_a.id)
    return w, p, day, appt, link


def _submitted_intake(w, patient_id):
    link = links.send_intake_link(w.ctx, patient_id, w.org.loc_a.id)
    ip = "198.51.100.9"
    proof = links.verify_birth_date(link.token, ip, date(1980, 5, 17))
    view = links.view_link(link.token, ip, verified=proof)
    links.save_link_step(link.token, ip, 0, {f["key"]: view.answers.get(f["key"], "") for f in view.steps[0]["fields"]})
    links.save_link_step(link.token, ip, 1, {"has_insurance": "yes", "payer": "Nowhere Mutual", "member_id": "X1"})
    links.save_link_step(link.token, ip, 2, {"consent_treatment": {"name": "Sid Submitted", "agreed": True}})
    links.save_link_step(link.token, ip, 3, {f"phq9_{i}": PHQ9_OPTIONS[1] for i in range(1, 10)})
    links.submit_link(link.token, ip)
    return next(s.id for s in intake.list_submissions(w.ctx, patient_id))


def test_every_staff_screen_and_the_intake_pages_pass_axe(page, org, make_user):
    w, p, day, appt, link = _world_with_a_day(org)
    clock.advance(w.local(day, 10, 30) - now())
    admin = make_user(org, "org_admin")
    browser_login(page, admin)
    loc = org.loc_a.id
    screens = ["/", "/desk/day-sheet", f"/desk/day-sheet?location_id={loc}&day={day}",
               f"/scheduling?location_id={loc}&day={day}", f"/scheduling?location_id={loc}&day={day}&view=room",
               f"/scheduling?location_id={loc}&day={day}&span=week",
               "/scheduling/book", "/scheduling/book?q=Access", f"/scheduling/book?patient_id={p}",
               f"/scheduling/book?patient_id={p}&visit_type_id={w.visit_id}&from_date={day}",
               f"/scheduling/book?patient_id={p}&visit_type_id={w.visit_id}&from_date=nonsense",
               f"/desk/check-in/{appt.id}", f"/scheduling/appointments/{appt.id}/menu", "/intake/review",
               "/intake/workflows",
               "/scheduling/waitlist", "/scheduling/templates", "/patients", "/patients?q=Access", "/patients/new",
               f"/patients/{p}", "/patients/import", "/admin/users", "/admin/roles", "/admin/api-clients",
               "/admin/webhooks", "/admin/audit", "/admin/break-glass", "/account"]
    # Pages reached from others: the confirmation step, a workflow's editor, a submission.
    page.goto(f"/scheduling/book?patient_id={p}&visit_type_id={w.visit_id}&from_date={day}")
    screens.append(page.locator("a.slot").first.get_attribute("href"))
    page.goto("/intake/workflows")
    editor = page.locator("a[href^='/intake/workflows/']").first.get_attribute("href")
    screens.append(editor)
    other = make_patient(org, first="Sid", last="Submitted")
    submitted = _submitted_intake(w, other)
    screens += [f"/intake/submissions/{submitted}", f"/book/{org.slug}/NYC",
                f"/book/{org.slug}/NYC?visit_type_id={w.new_visit_id}"]
    failures = []
    for url in screens:
        page.goto(url)
        bad = blocking(run_axe(page))
        if bad:
            failures.append(f"{url}\n{describe(bad)}")
    # The patient's side: the intake link's steps (as a stranger would see them: no session).
    page.context.clear_cookies()
    for step in range(4):
        page.goto(f"{link.path}?step={step}")
        bad = blocking(run_axe(page))
        if bad:
            failures.append(f"{link.path}?step={step}\n{describe(bad)}")
    page.goto("/login")
    bad = blocking(run_axe(page))
    if bad:
        failures.append(f"/login\n{describe(bad)}")
    assert not failures, "\n\n".join(failures)


def tab_to(page, selector: str, *, limit: int = 150) -> None:
    """Press Tab (only) until the focused element matches `selector`."""
    for _ in range(limit):
        if page.evaluate("(sel) => !!document.activeElement && document.activeElement.matches(sel)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_booking_day_sheet_and_check_in_with_the_keyboard_alone(page, org, make_user):
    w, _p, day, appt, _link = _world_with_a_day(org)
    make_patient(org, first="Kim", last="Keys")
    clock.advance(w.local(day, 10, 30) - now())
    desk = make_user(org, "front_desk", org.loc_a)
    browser_login(page, desk)

    # Booking: search, choose, find times, pick the first, confirm with a reason; no mouse.
    page.goto("/scheduling/book")
    assert page.evaluate("document.activeElement.name") == "q"  # the search box has focus
    page.keyboard.type("Keys")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=Keys**")
    tab_to(page, "a[aria-label^='Choose Keys, Kim']")
    page.keyboard.press("Enter")
    page.wait_for_url("**patient_id=**")
    tab_to(page, "form[aria-label='Find open times'] button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("a.slot")
    tab_to(page, "a.slot")
    page.keyboard.press("Enter")
    page.wait_for_url("**/scheduling/book/confirm**")
    assert page.evaluate("document.activeElement.name") == "reason_for_visit"
    page.keyboard.type("Sore throat")
    page.keyboard.press("Enter")
    page.wait_for_url("**booked=**")
    assert page.locator(".block.highlight").inner_text().find("Keys, Kim") >= 0

    # Day sheet -> check-in screen -> arrived -> room, by keyboard.
    page.goto(f"/desk/day-sheet?location_id={org.loc_a.id}&day={day}")
    tab_to(page, f"a[href='/desk/check-in/{appt.id}']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/desk/check-in/{appt.id}")
    tab_to(page, "#arrive button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**done=check_in**")
    assert page.locator(f"#appt-{appt.id}").get_attribute("data-status") == "checked_in"
    tab_to(page, f"#room-{appt.id}")
    tab_to(page, f"#appt-{appt.id} button[aria-label^='Room ']")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#appt-{appt.id}[data-status=roomed]")
    assert "Exam 1" in page.locator(f"#appt-{appt.id}").inner_text()
    assert page.page_errors == []

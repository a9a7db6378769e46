"""Real-browser flows: duplicate warning at registration; build a two-step intake with a
conditional field; fill it through the patient link on a phone-sized screen."""

from __future__ import annotations

from datetime import date

import pytest

from praxis.intake import ratelimit
from praxis.platform.context import system_context
from tests.conftest import browser_login
from tests.integration.patients.helpers import ensure_routes, register

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="session")
def _routes_wired():
    """Until wiring.py includes the patients/intake routers, add them to every app it builds."""
    from praxis import wiring

    original = wiring.routers

    def routers():
        found = original()
        from praxis.intake import api as intake_api
        from praxis.intake import ui as intake_ui
        from praxis.patients import api as patients_api
        from praxis.patients import ui as patients_ui

        mine = [patients_api.router, intake_api.router, patients_ui.router, intake_ui.router]
        return found + [r for r in mine if r not in found]

    wiring.routers = routers
    yield
    wiring.routers = original


@pytest.fixture
def staff_page(_routes_wired, app, page, org, make_user):
    ensure_routes(app)
    user = make_user(org, "org_admin")
    browser_login(page, user)
    return page


def test_registration_warns_about_duplicate(staff_page, org):
    register(system_context(org.id), "Renée", "Dupont", date(1979, 7, 14), location_id=org.loc_a.id)
    pg = staff_page
    pg.goto("/patients/new")
    pg.fill("#f-first_name", "Renee")
    pg.fill("#f-last_name", "DUPONT")
    pg.fill("#f-dob", "1979-07-14")
    pg.click("main button[type=submit]")
    warning = pg.locator("#duplicate-warning")
    warning.wait_for()
    assert "Dupont" in warning.inner_text()
    pg.check("#confirm_duplicate")
    pg.click("main button[type=submit]")
    pg.wait_for_url("**/patients/*")
    assert "Dupont, Renee" in pg.inner_text("h1") or "DUPONT, Renee" in pg.inner_text("h1")
    assert pg.page_errors == []  # type: ignore[attr-defined]


def test_build_two_step_intake_and_fill_by_link(staff_page, org, browser, live_server):
    ratelimit.reset()
    pg = staff_page
    pg.goto("/intake/workflows")
    pg.fill("#w-name", "Browser flow")
    pg.select_option("#w-loc", str(org.loc_a.id))
    pg.click("form[action='/intake/workflows'] button[type=submit]")
    pg.wait_for_url("**/intake/workflows/*")
    # Step 1 exists (first name); add a yes/no question to it.
    form = pg.locator("#step-0 form.add-field")
    pg.locator("#step-0 summary").click()
    form.locator("input[name=label]").fill("Do you smoke?")
    form.locator("input[name=key]").fill("smoker")
    form.locator("select[name=type]").select_option("select")
    form.locator("input[name=options]").fill("yes, no")
    form.locator("input[name=required]").check()
    with pg.expect_navigation():
        form.locator("button[type=submit]").click()
    assert pg.locator("#editor-error").count() == 0
    # Add step 2 together with its first (conditional) question, all in one form.
    pg.fill("#st-title", "Smoking")
    pg.select_option("#st-kind", "custom")
    pg.fill("#sf-label", "Packs per day")
    pg.fill("#sf-key", "packs")
    pg.select_option("#sf-type", "number")
    pg.check("#sf-required")
    pg.select_option("#sf-cf", "smoker")
    pg.fill("#sf-cv", "yes")
    with pg.expect_navigation():
        pg.click("#add-step button[type=submit]")
    assert pg.locator("#editor-error").count() == 0
    assert "smoker is yes" in pg.inner_text("#step-1")
    # A second question on step 2: a signature (key made from the label).
    pg.locator("#step-1 summary").click()
    form2 = pg.locator("#step-1 form.add-field")
    form2.locator("input[name=label]").fill("I confirm my answers")
    form2.locator("input[name=key]").fill("sign")
    form2.locator("select[name=type]").select_option("signature")
    form2.locator("input[name=required]").check()
    with pg.expect_navigation():
        form2.locator("button[type=submit]").click()
    assert pg.locator("#editor-error").count() == 0
    step2 = pg.inner_text("#step-1")
    assert "Packs per day" in step2 and "I confirm my answers" in step2 and "signature" in step2
    assert "v4" in pg.inner_text("h1")  # created, +question, +step, +question
    ctx = system_context(org.id)

    from praxis.intake import links

    patient = register(ctx, "Pia", "Phone", date(1990, 2, 2), location_id=org.loc_a.id)
    link = links.send_intake_link(ctx, patient.id, org.loc_a.id)
    phone = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    p = phone.new_page()
    p.goto(link.path)
    assert "Phone" not in p.inner_text("main")  # nothing of the record is shown
    p.fill("#q-first_name", "Pia")
    p.select_option("#q-smoker", "yes")
    p.click("#intake-step button[type=submit]")  # (the date-of-birth check above has its own button)
    p.wait_for_url("**step=1")
    p.fill("#q-sign", "Pia Phone")
    p.check("input[name=sign__agreed]")
    p.click("#intake-step button[type=submit]")
    assert "Packs per day" in p.inner_text("main") and "required" in p.inner_text("main")
    p.fill("#q-packs", "1")
    p.fill("#q-sign", "Pia Phone")
    p.check("input[name=sign__agreed]")
    p.click("#intake-step button[type=submit]")
    p.locator("#link-message").wait_for()
    assert "Thank you" in p.inner_text("#link-message")
    p.goto(link.path)
    assert "already submitted" in p.inner_text("#link-message")
    phone.close()

"""Real browser: the patient page as a workplace — edit demographics in place (htmx), see a
form message for bad input, then add a coverage with the payer picker; the saved values are
on the page and in the database."""

from __future__ import annotations

from datetime import date

import pytest

from praxis.patients import coverage, service
from praxis.platform.context import system_context
from tests.conftest import browser_login
from tests.integration.patients.helpers import payer, register

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_edit_demographics_and_add_coverage_through_the_page(page, org, make_user):
    ctx = system_context(org.id)
    p = register(ctx, "Teodora", "Vance", date(1968, 9, 30), location_id=org.loc_a.id)
    aetna = payer(ctx, "60054", "Aetna")
    payer(ctx, "62308", "Cigna")
    user = make_user(org, "front_desk", org.loc_a)
    browser_login(page, user)
    page.goto(f"/patients/{p.id}")

    page.click("#demographics >> text=Edit demographics")
    page.locator("#demographics form").wait_for()
    page.fill("#f-first_name", "")
    page.click("#demographics button[type=submit]")
    error = page.locator("#e-first_name")
    error.wait_for()
    assert error.inner_text()  # a message at the box, the page is still the patient page
    assert page.locator("#f-first_name").get_attribute("aria-invalid") == "true"
    page.fill("#f-first_name", "Theodora")
    page.fill("#f-city", "Albany")
    page.fill("#f-state", "ny")
    page.click("#demographics button[type=submit]")
    page.locator("#demographics >> text=Demographics saved.").wait_for()
    assert "Vance, Theodora" in page.locator("#demographics").inner_text()
    assert "Albany NY" in page.locator("#demographics").inner_text()
    assert service.get_patient(ctx, p.id).first_name == "Theodora"

    page.click("#coverage summary")
    page.select_option("#c-payer", label="Aetna · 60054")
    page.fill("#c-member", "W987654321")
    page.fill("#c-group", "GRP-7")
    page.click("#coverage-add button[type=submit]")
    page.locator("#coverage >> text=Insurance added.").wait_for()
    assert "W987654321" in page.locator("#coverages").inner_text()
    [cov] = coverage.list_coverages(ctx, p.id)
    assert (cov.payer_id, cov.member_id, cov.group_number, cov.priority) == (aetna.id, "W987654321", "GRP-7", 1)
    assert page.url.endswith(f"/patients/{p.id}")  # htmx swapped the cards; no page load
    assert page.page_errors == []

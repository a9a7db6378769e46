"""In Chromium, on the database `praxis demo` creates: the demo admin signs in through the form
and registers a patient (issue 13: registration failed forever on the demo data)."""

from __future__ import annotations

import re

import pytest

from praxis.demo import load_demo

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_demo_admin_registers_a_patient_in_the_browser(db, page):
    email, password, _created = load_demo("demo-test-password-1")
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto("/patients/new")
    page.fill("#f-first_name", "Browser")
    page.fill("#f-last_name", "Registrant")
    page.fill("#f-dob", "1988-08-08")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/patients/[0-9a-f-]{36}$"))
    text = page.locator("main").inner_text()
    assert "Registrant" in text
    mrn = re.search(r"\b0000(\d{4})\b", text)
    assert mrn is not None and int(mrn.group(1)) > 2000, text[:500]
    assert not page.page_errors

"""The page shell in a real browser: sign in with password + TOTP, see only what the role allows,
sign out, and be sent back to the sign-in page."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.conftest import browser_login
from tests.integration.identity.helpers import enable_mfa

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ADMIN_LINKS = ("Users", "Roles", "API clients", "Webhooks", "Audit", "Break-glass review")


def _nav_labels(page) -> list[str]:
    return [x.strip() for x in page.locator("nav[aria-label=Main] a").all_inner_texts()]


def test_mfa_sign_in_navigation_and_sign_out(page, org, make_user):
    admin = make_user(org, "org_admin")
    secret = enable_mfa(admin.user_id)
    page.goto("/admin/users")
    page.wait_for_url(re.compile(r"/login\?next=/admin/users$"))
    # Keyboard only: the email field has focus, Enter submits.
    assert page.evaluate("document.activeElement.name") == "email"
    page.keyboard.type(admin.email)
    page.keyboard.press("Tab")
    page.keyboard.type(admin.password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/login/mfa"))
    page.fill("input[name=code]", "000000")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text().strip().endswith("not valid or was already used")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/users$"))
    assert page.get_by_role("heading", name="Users").is_visible()
    labels = _nav_labels(page)
    for label in ADMIN_LINKS:
        assert label in labels
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.goto("/account")
    page.wait_for_url(re.compile(r"/login\?next=/account$"))
    assert not page.page_errors


def test_front_desk_sees_only_their_navigation(page, org, make_user):
    desk = make_user(org, "front_desk", org.loc_a)
    browser_login(page, desk)
    page.wait_for_url(re.compile(r"/desk/day-sheet$"))  # the front desk lands on its work screen
    assert page.get_by_role("heading", name="Day sheet").is_visible()
    labels = _nav_labels(page)
    for label in ADMIN_LINKS:
        assert label not in labels
    page.goto("/admin/users")
    assert page.get_by_role("heading", name=re.compile("403")).is_visible()
    assert not page.page_errors


def test_mfa_enrolment_in_the_browser(page, make_org, make_user):
    org = make_org("Strict Care", mfa_required=True)
    u = make_user(org, "location_manager", org.loc_a)
    page.goto("/login")
    page.fill("input[name=email]", u.email)
    page.fill("input[name=password]", u.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/account/mfa/enrol"))
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    assert page.locator("#recovery-codes li").count() == 10
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(re.compile(r"/desk/day-sheet$"))  # a location manager lands on the day sheet
    labels = _nav_labels(page)
    assert "Users" in labels and "Audit" not in labels
    assert not page.page_errors

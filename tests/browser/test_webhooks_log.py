"""The integration admin in a real browser: the webhooks list, one subscription's delivery log
with a dead delivery, Replay, and the delivery arriving after the worker runs; axe finds no serious
or critical violation on either page."""

from __future__ import annotations

import pytest

from praxis.interop import webhooks
from praxis.platform.context import system_context
from praxis.platform.settings import get_settings
from tests.browser.axe import assert_accessible
from tests.conftest import browser_login
from tests.integration.interop.hooks import Receiver, drain
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_open_the_log_and_replay_a_dead_delivery(page, org, make_user, monkeypatch):
    from praxis.scheduling import service as scheduling

    # After the live server fixture read its settings: the receiver listens on 127.0.0.1.
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)
    receiver = Receiver()
    try:
        sub, _ = webhooks.create_subscription(system_context(org.id, "test"), receiver.url,
                                              ["appointment.booked"], description="EHR bridge")
        receiver.fail_first = 10_000
        w = make_world(org)
        scheduling.book(w.ctx, patient_id=make_patient(org), visit_type_id=w.visit_id, provider_id=w.provider_id,
                        location_id=org.loc_a.id, start_at=w.local(future_weekday(), 10))
        drain(org, rounds=webhooks.MAX_ATTEMPTS + 3)  # before signing in: draining moves the clock
        receiver.fail_first = 0
        receiver.received.clear()

        browser_login(page, make_user(org, "org_admin"))
        page.goto("/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
        page.wait_for_url("**/admin/webhooks")
        assert_accessible(page)
        page.get_by_role("link", name=receiver.url).click()
        page.wait_for_url(f"**/admin/webhooks/{sub.id}")
        dead = page.locator('#delivery-log tr[data-status="dead"]')
        assert dead.count() == 1
        assert "HTTP 500" in dead.inner_text() and str(webhooks.MAX_ATTEMPTS) in dead.inner_text()
        assert_accessible(page)

        dead.get_by_role("button", name="Replay").click()
        page.get_by_text("queued again").wait_for()
        assert page.locator('#delivery-log tr[data-status="pending"]').count() == 1
        assert_accessible(page)
        drain(org, rounds=1)  # the worker's next pass: due now, so the clock stays
        page.reload()
        assert page.locator('#delivery-log tr[data-status="delivered"]').count() == 1
        assert len(receiver.received) == 1
        assert page.page_errors == []
    finally:
        receiver.server.shutdown()

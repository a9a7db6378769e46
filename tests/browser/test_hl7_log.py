"""The integration admin in a real browser: the HL7 menu entry, the inbound log filtered to the
failed messages, a message's page with its raw text (a `<script>` in it stays text), Replay after
the patient is registered, the outbound log's Resend, and an outbound message's page (the message
as sent and the ACK, a `<script>` in them text too) with its own Resend; axe finds no serious or
critical violation on any of the pages."""

from __future__ import annotations

import pytest

from praxis.formats.hl7v2 import build_message
from tests.browser.axe import assert_accessible
from tests.conftest import browser_login
from tests.integration.interop.test_hl7_log import FACILITY, _outbound, _row, adt, deliver

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _hostile_a08(control_id: str) -> bytes:
    return build_message([
        ("MSH", ["EHR", FACILITY, "PRAXIS", "CLINIC", "20261207090000", None, ["ADT", "A08", "ADT_A01"],
                 control_id, "P", "2.5"]),
        ("EVN", ["A08", "20261207090000"]),
        ("PID", ["1", None, ["B-1", None, None, "NSH", "MR"], None, ["<script>window.pwned=1</script>", "Eve"],
                 None, "19800102", "F"]),
    ]).encode()


def test_open_a_failed_message_and_replay_it(page, org, make_user):
    deliver(org, adt("A04", "B-0", "Settled", "BROWSER-0"))
    deliver(org, _hostile_a08("BROWSER-1"))  # an update for a patient not registered yet: AE
    failed = _row(org, "BROWSER-1")
    dead = _outbound(org)
    shown = _outbound(org, event="ADT^A08", last_ack_code="AE",
                      sent="MSH|^~\\&|PRAXIS|PRAXIS|LAB|LAB|20261207090000||ADT^A08^ADT_A01|PXB|P|2.5.1\r"
                           "PID|1||M-1^^^PRAXIS^MR||<script>window.pwned=2</script>^Eve",
                      last_ack="MSH|^~\\&|LAB|LAB|PRAXIS|PRAXIS|20261207090001||ACK^A08^ACK|AB|P|2.5.1\r"
                               "MSA|AE|PXB\rERR||PID^1^5|207^x^HL70357|E||||<img src=x onerror=window.pwned=3>")

    browser_login(page, make_user(org, "org_admin"))
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="HL7 messages").click()
    page.wait_for_url("**/admin/hl7")
    assert page.locator("#hl7-inbound tbody tr[data-message]").count() == 2
    assert_accessible(page)
    page.get_by_role("navigation", name="Filter by status").get_by_role("link", name="failed (1)").click()
    page.wait_for_url("**/admin/hl7?status=failed")
    row = page.locator(f'#hl7-inbound tr[data-message="{failed.id}"]')
    assert "is not known" in row.inner_text() and "ADT^A08" in row.inner_text()
    assert_accessible(page)

    row.get_by_role("link", name="BROWSER-1").click()
    page.wait_for_url(f"**/admin/hl7/messages/{failed.id}")
    raw = page.locator("#raw-message").inner_text()
    assert "<script>window.pwned=1</script>^Eve" in raw and raw.splitlines()[0].startswith("MSH|")
    assert page.evaluate("window.pwned") is None  # shown, never run
    assert "MSA|AE|BROWSER-1" in page.locator("#ack-message").inner_text()
    assert_accessible(page)

    deliver(org, build_message([
        ("MSH", ["EHR", FACILITY, "PRAXIS", "CLINIC", "20261207090000", None, ["ADT", "A04", "ADT_A01"],
                 "BROWSER-2", "P", "2.5"]),
        ("EVN", ["A04", "20261207090000"]),
        ("PID", ["1", None, ["B-1", None, None, "NSH", "MR"], None, ["Evans", "Eve"], None, "19800102", "F"]),
        ("PV1", ["1", "O"]),
    ]).encode())
    page.get_by_role("button", name="Replay").click()
    page.get_by_text("Message replayed: ACK AA, processed.").wait_for()
    assert page.locator(f'#hl7-inbound tr[data-message="{failed.id}"]').get_attribute("data-status") == "processed"
    assert_accessible(page)

    page.get_by_role("navigation", name="HL7 logs").get_by_role("link", name="Outbound").click()
    page.wait_for_url("**/admin/hl7?view=outbound")
    out = page.locator(f'#hl7-outbound tr[data-outbound="{dead}"]')
    assert out.get_attribute("data-status") == "dead"
    assert_accessible(page)
    out.get_by_role("button", name="Resend").click()
    page.get_by_text("queued again").wait_for()
    assert page.locator(f'#hl7-outbound tr[data-outbound="{dead}"]').get_attribute("data-status") == "pending"

    page.locator(f'#hl7-outbound tr[data-outbound="{shown}"]').get_by_role("link").click()
    page.wait_for_url(f"**/admin/hl7/outbound/{shown}")
    sent = page.locator("#sent-message").inner_text()
    assert sent.splitlines()[0].startswith("MSH|") and "<script>window.pwned=2</script>^Eve" in sent
    assert "<img src=x onerror=window.pwned=3>" in page.locator("#ack-message").inner_text()
    assert page.evaluate("window.pwned") is None  # shown, never run
    assert page.locator("#out-status").inner_text() == "dead"
    assert_accessible(page)
    page.get_by_role("button", name="Resend").click()
    page.get_by_text("Queued again").wait_for()
    assert page.locator("#out-status").inner_text() == "pending"
    assert page.get_by_role("button", name="Resend").count() == 0
    assert_accessible(page)
    assert page.page_errors == []

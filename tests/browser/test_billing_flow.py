"""A biller in a real browser: charges for a checked-out visit from the day sheet, a scrubber finding
fixed through its jump link, the batch submitted, the 999 uploaded and the claim accepted."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from praxis.billing import claims, reference, submission
from praxis.billing.schemas import ProcedureIn
from praxis.platform import clock
from praxis.scheduling import service as scheduling
from praxis.scheduling import setup
from tests.conftest import browser_login
from tests.integration.billing.helpers import make_billing_world
from tests.integration.scheduling.helpers import ALL_WEEK_9_TO_5

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_charges_fix_submit_and_acknowledge(page, org, make_user, tmp_path):
    w = make_billing_world(org)
    pid, _ = w.patient()
    vt = setup.create_visit_type(w.ctx, code=f"FU{secrets.token_hex(3)}", name="Follow-up", duration_minutes=30)
    reference.set_visit_type_procedures(w.ctx, vt.id, [ProcedureIn(code="99213")])
    zone = ZoneInfo("America/New_York")
    day = (clock.now().astimezone(zone) + timedelta(days=1)).date()
    setup.create_template(w.ctx, provider_id=w.provider_id, location_id=w.location_id,
                          effective_from=day - timedelta(days=1), effective_to=None, blocks=ALL_WEEK_9_TO_5)
    start = datetime(day.year, day.month, day.day, 10, tzinfo=zone)
    appt = scheduling.book(w.ctx, patient_id=pid, visit_type_id=vt.id, provider_id=w.provider_id,
                           location_id=w.location_id, start_at=start)
    clock.advance(start + timedelta(minutes=40) - clock.now())
    scheduling.change_status(w.ctx, appt.id, "check_in")
    scheduling.change_status(w.ctx, appt.id, "check_out")

    browser_login(page, make_user(org, "biller"))
    page.goto(f"/desk/day-sheet?location_id={w.location_id}&day={day.isoformat()}")
    page.locator("tr", has_text="Doe").locator("a", has_text="Superbill").click()
    page.wait_for_selector("#superbill")
    assert page.input_value("#f-lines-0-code") == "99213"
    page.fill("#f-diagnoses-0", "E11.9")
    page.fill("#f-lines-0-dx_pointers", "1,2")  # points at a diagnosis nobody entered
    page.click("#save-and-bill")
    page.wait_for_url("**saved=1")

    page.goto("/billing")
    fix = page.locator("#worklist a.fix", has_text="lines[0].dx_pointers")
    assert "Line 1 points to diagnosis 2" in page.inner_text("#worklist")
    fix.click()
    page.wait_for_url("**#f-lines-0-dx_pointers")
    page.fill("#f-lines-0-dx_pointers", "1")
    page.click("#save-superbill")
    page.wait_for_url("**saved=1")
    assert "ready" in page.inner_text("#superbill-claims")

    page.goto("/billing")
    page.click("#submit-batch")
    page.wait_for_selector("text=1 claim(s) in batch")
    [claim] = claims.list_claims(w.ctx, status="submitted")
    [batch] = submission.list_batches(w.ctx)
    conn = reference.list_connections(w.ctx)[0]
    st = claims.get_claim(w.ctx, claim.id).events[-1].detail["st02"]
    ack = tmp_path / "ack.999"
    ack.write_text(f"ISA*00*          *00*          *ZZ*{conn.receiver_id.ljust(15)}*ZZ*{conn.sender_id.ljust(15)}*"
                   f"261207*0900*^*00501*000000901*0*T*:~GS*FA*X*Y*20261207*0900*77*X*005010X231A1~ST*999*0001~"
                   f"AK1*HC*{batch.group_control_number}~AK2*837*{st}~IK5*A~AK9*A*1*1*1~SE*6*0001~GE*1*77~"
                   "IEA*1*000000901~")
    page.set_input_files("#e-file", str(ack))
    page.click("#ingest button[type=submit]")
    page.wait_for_selector("text=999 processed: 1 claim(s) updated")
    page.goto(f"/billing/claims/{claim.id}")
    assert page.inner_text("#claim-status") == "accepted"
    assert "999: transaction" in page.inner_text("#history")
    assert page.page_errors == []

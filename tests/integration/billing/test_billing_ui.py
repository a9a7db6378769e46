"""The billers' screens: worklist with a jump to the field, superbill save, claim detail, submission."""

from __future__ import annotations

import re

from praxis.billing import claims
from praxis.billing.schemas import LineIn
from tests.integration.billing.helpers import make_billing_world
from tests.integration.scheduling.helpers import signed_in


def test_worklist_jumps_to_the_field_and_the_superbill_fixes_it(org, make_user, login):
    w = make_billing_world(org)
    pid, _ = w.patient()
    enc = w.encounter(pid, diagnoses=["E11.9"], lines=[LineIn(code="99213", dx_pointers=[1, 2])])
    [claim] = claims.build_claims(w.ctx, enc.id)
    c = signed_in(login, make_user(org, "biller"))
    home = c.get("/billing")
    assert home.status_code == 200
    link = f"/billing/encounters/{enc.id}#f-lines-0-dx_pointers"
    assert link in home.text and "Line 1 points to diagnosis 2" in home.text
    page = c.get(f"/billing/encounters/{enc.id}")
    assert page.status_code == 200 and 'id="f-lines-0-dx_pointers"' in page.text
    form = {"rendering_provider_id": str(w.provider_id), "place_of_service": "11", "dx_0": "E11.9", "dx_1": "I10",
            "code_0": "99213", "mods_0": "", "units_0": "1", "charge_0": "", "ptr_0": "1,2"}
    bad = c.post(f"/billing/encounters/{enc.id}", data={**form, "dx_1": "XX"})
    assert bad.status_code == 422 and "is not an ICD-10-CM code" in bad.text
    ok = c.post(f"/billing/encounters/{enc.id}", data=form, follow_redirects=False)
    assert ok.status_code == 303
    detail = c.get(f"/billing/claims/{claim.id}")
    assert detail.status_code == 200 and re.search(r'id="claim-status">ready<', detail.text)
    sent = c.post("/billing/submit", data={}, follow_redirects=True)
    assert sent.status_code == 200 and "1 claim(s) in batch" in sent.text
    x12 = c.get(f"/billing/claims/{claim.id}/x12", follow_redirects=True)
    assert x12.status_code == 200 and f"CLM*{claim.claim_number}*" in x12.text


def test_provider_sees_the_superbill_but_not_the_claims(org, make_user, login):
    w = make_billing_world(org)
    pid, _ = w.patient()
    enc = w.encounter(pid)
    c = signed_in(login, make_user(org, "provider", org.loc_a))
    assert c.get(f"/billing/encounters/{enc.id}").status_code == 200
    assert c.get("/billing").status_code == 403

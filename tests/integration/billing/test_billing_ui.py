"""The billers' screens: worklist with a jump to the field, superbill save, claim detail, submission."""

from __future__ import annotations

import re

from praxis.billing import claims, reference, submission
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
    [batch] = submission.list_batches(w.ctx)
    conn = reference.list_connections(w.ctx)[0]
    st = claims.get_claim(w.ctx, claim.id).events[-1].detail["st02"]
    ack = (f"ISA*00*          *00*          *ZZ*{conn.receiver_id.ljust(15)}*ZZ*{conn.sender_id.ljust(15)}*"
           f"261207*0900*^*00501*000000901*0*T*:~GS*FA*X*Y*20261207*0900*77*X*005010X231A1~ST*999*0001~"
           f"AK1*HC*{batch.group_control_number}~AK2*837*{st}~IK5*A~AK9*A*1*1*1~SE*6*0001~GE*1*77~IEA*1*000000901~")
    up = c.post("/billing/edi", files={"file": ("ack.999", ack.encode(), "text/plain")}, follow_redirects=True)
    assert up.status_code == 200 and "999 processed: 1 claim(s) updated" in up.text
    assert re.search(r'id="claim-status">accepted<', c.get(f"/billing/claims/{claim.id}").text)
    again = c.post("/billing/edi", files={"file": ("ack.999", ack.encode(), "text/plain")}, follow_redirects=True)
    assert "received before; nothing changed" in again.text


def test_provider_sees_the_superbill_but_not_the_claims(org, make_user, login):
    w = make_billing_world(org)
    pid, _ = w.patient()
    enc = w.encounter(pid)
    c = signed_in(login, make_user(org, "provider", org.loc_a))
    assert c.get(f"/billing/encounters/{enc.id}").status_code == 200
    assert c.get("/billing").status_code == 403


def test_setup_saves_a_location_billing_identity_and_refuses_a_bad_npi(org, make_user, login):
    c = signed_in(login, make_user(org, "biller"))
    page = c.get("/billing/setup")
    assert page.status_code == 200 and f'id="loc-{org.loc_b.id}"' in page.text
    form = {"name": "Phoenix Billing", "npi": "1234567890", "tax_id": "12-3456789", "address_line1": "1 Main St",
            "city": "Phoenix", "state": "AZ", "postal_code": "85001"}
    bad = c.post(f"/billing/setup/locations/{org.loc_b.id}", data=form)
    assert bad.status_code == 422 and "check digit" in bad.text
    ok = c.post(f"/billing/setup/locations/{org.loc_b.id}", data={**form, "npi": "1234567893"},
                follow_redirects=True)
    assert ok.status_code == 200 and "Billing identity saved" in ok.text and "NPI 1234567893" in ok.text
    upload = c.post("/billing/setup/codes", data={"system": "ICD10CM", "apply": "1"},
                    files={"file": ("icd.csv", b"code,description\nE11.9,Type 2 diabetes\nXX,bad\n", "text/csv")})
    assert upload.status_code == 422 and "row 3 code" in upload.text


def test_a_standalone_superbill_from_the_patient_page(org, make_user, login):
    w = make_billing_world(org)
    pid, _ = w.patient()
    c = signed_in(login, make_user(org, "biller"))
    assert f"/billing/encounters/new?patient_id={pid}" in c.get(f"/patients/{pid}").text
    page = c.get(f"/billing/encounters/new?patient_id={pid}")
    assert page.status_code == 200
    bad = c.post("/billing/encounters/new", data={"patient_id": str(pid), "location_id": str(w.location_id),
                                                   "date_of_service": "not a date"})
    assert bad.status_code == 422 and "date_of_service" in bad.text
    ok = c.post("/billing/encounters/new", data={"patient_id": str(pid), "location_id": str(w.location_id),
                                                  "date_of_service": "2026-12-01"}, follow_redirects=True)
    assert ok.status_code == 200 and 'id="superbill"' in ok.text and "Superbill · 2026-12-01" in ok.text


def test_the_new_superbill_form_is_404_for_another_organisations_patient(org, other_org, make_user, login):
    w = make_billing_world(other_org)
    pid, _ = w.patient()
    c = signed_in(login, make_user(org, "biller"))
    assert c.get(f"/billing/encounters/new?patient_id={pid}").status_code == 404

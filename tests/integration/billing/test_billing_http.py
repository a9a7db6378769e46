"""The billing API for bots and the CLI: EHR charges idempotent, submission, EDI ingest."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from praxis.billing import claims, reference
from praxis.cli import app as cli_app
from praxis.platform.clock import now
from tests.integration.billing.helpers import make_billing_world


def test_ehr_charges_are_idempotent_by_encounter_id(org, bearer):
    w = make_billing_world(org)
    pid, _ = w.patient()
    bot = bearer(org, ["billing:charge"])
    body = {"source": "epic", "encounter_id": "ENC-1", "patient_id": str(pid), "location_id": str(w.location_id),
            "date_of_service": str(now().date() - timedelta(days=1)), "rendering_provider_id": str(w.provider_id),
            "diagnoses": ["E11.9"], "lines": [{"code": "99213", "dx_pointers": [1]}]}
    r1 = bot.post("/api/v1/billing/charges", json=body)
    assert r1.status_code == 201, r1.text
    assert r1.json()["total_charge_cents"] == 15000
    r2 = bot.post("/api/v1/billing/charges", json=body)
    assert r2.status_code == 200 and r2.json()["id"] == r1.json()["id"]
    body["lines"][0]["code"] = "99214"
    r3 = bot.post("/api/v1/billing/charges", json=body)
    assert r3.status_code == 200 and r3.json()["lines"][0]["code"] == "99214"
    assert r3.json()["total_charge_cents"] == 22000
    bad = bot.post("/api/v1/billing/charges", json={**body, "diagnoses": ["11.9"]})
    assert bad.status_code == 422 and bad.json()["field"].startswith("diagnoses")
    assert bot.get(f"/api/v1/billing/claims/{r1.json()['id']}").status_code == 403  # no billing:read


def test_submit_and_ingest_through_the_api_and_cli(org, bearer, tmp_path):
    w = make_billing_world(org)
    pid, _ = w.patient()
    claims.build_claims(w.ctx, w.encounter(pid).id)
    bot = bearer(org, ["billing:read", "billing:submit"])
    r = bot.post("/api/v1/billing/submissions", json={})
    assert r.status_code == 200, r.text
    [batch] = r.json()["batches"]
    conn = reference.list_connections(w.ctx)[0]
    ack = (f"ISA*00*          *00*          *ZZ*{conn.receiver_id.ljust(15)}*ZZ*{conn.sender_id.ljust(15)}*"
           f"261207*0900*^*00501*000000901*0*T*:~GS*FA*X*Y*20261207*0900*77*X*005010X231A1~ST*999*0001*005010X231A1~"
           f"AK1*HC*{batch['group_control_number']}*005010X222A1~AK2*837*0001*005010X222A1~IK5*A~AK9*A*1*1*1~"
           "SE*6*0001~GE*1*77~IEA*1*000000901~")
    first = bot.post("/api/v1/billing/edi-files", json={"content": ack, "file_name": "a.999"})
    assert first.status_code == 201 and first.json()["file"]["status"] == "processed"
    again = bot.post("/api/v1/billing/edi-files", json={"content": ack})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    raw = bot.get(f"/api/v1/billing/edi-files/{batch['edi_file_id']}/raw")
    assert raw.status_code == 200 and raw.text.startswith("ISA*")

    # the CLI: another ready claim goes out; the same ack file ingested from disk is a duplicate
    pid2, _ = w.patient()
    claims.build_claims(w.ctx, w.encounter(pid2).id)
    runner = CliRunner()
    out = runner.invoke(cli_app, ["claims", "submit", "--org", org.slug])
    assert out.exit_code == 0, out.output
    assert "1 claim(s)" in out.output
    f = tmp_path / "ack.999"
    f.write_text(ack)
    out = runner.invoke(cli_app, ["edi", "ingest", str(f), "--org", org.slug])
    assert out.exit_code == 0 and "nothing changed" in out.output, out.output
    out = runner.invoke(cli_app, ["claims", "submit", "--org", org.slug, "--payer", "NOPE"])
    assert out.exit_code == 2


def test_cms1500_pdf_of_a_claim(org, bearer):
    w = make_billing_world(org)
    pid, _ = w.patient(dependant=True, secondary=True)
    [claim] = claims.build_claims(w.ctx, w.encounter(pid, prior_auth="AUTH9").id)
    bot = bearer(org, ["billing:read"])
    r = bot.get(f"/api/v1/billing/claims/{claim.id}/cms1500")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    body = r.content
    assert body.startswith(b"%PDF")
    for text in (claim.claim_number, "E11.9", "99213", "AUTH9", "Acme Health", "175.00", "Child"):
        assert text.encode() in body, text


def test_code_sets_import_all_or_nothing_and_search(org, bearer):
    w = make_billing_world(org)
    bot = bearer(org, ["billing:read", "billing:charge", "billing:manage"])
    content = "code,description\nE11.9,Type 2 diabetes mellitus\nI10,Hypertension\nZZ,x\n"
    body = {"system": "ICD10CM", "content": content, "apply": True}
    bad = bot.post("/api/v1/billing/code-sets/import", json=body)
    assert bad.status_code == 200 and not bad.json()["applied"]
    assert bad.json()["errors"] == [{"row": 4, "field": "code", "message": "'ZZ' is not a ICD10CM code"}]
    assert bot.get("/api/v1/billing/code-sets/ICD10CM?q=diab").json() == []  # nothing was loaded
    ok = bot.post("/api/v1/billing/code-sets/import", json={**body, "content": body["content"].replace("ZZ,x\n", "")})
    assert ok.json()["applied"] and ok.json()["added"] == 2
    assert [c["code"] for c in bot.get("/api/v1/billing/code-sets/ICD10CM?q=diab").json()] == ["E119"]
    assert [c["code"] for c in bot.get("/api/v1/billing/code-sets/ICD10CM?q=e11.").json()] == ["E119"]
    assert bot.get("/api/v1/billing/code-sets/ICD10CM?q=%25").json() == []  # a wildcard is only a character
    assert {"code": "11", "description": "Office"} in bot.get("/api/v1/billing/code-sets/places-of-service").json()
    assert any(m["code"] == "25" for m in bot.get("/api/v1/billing/code-sets/modifiers").json())
    # with a list loaded, a code outside it is a scrubber finding
    pid, _ = w.patient()
    [claim] = claims.build_claims(w.ctx, w.encounter(pid, diagnoses=["E11.9", "J45.909"]).id)
    assert [(f.rule, f.field) for f in claim.findings] == [("icd10", "diagnoses[1]")]

"""FHIR Encounter and Claim over billing: read, search, scopes, location scope and tenancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from praxis.billing import claims
from praxis.platform.clock import now
from tests.integration.billing.helpers import make_billing_world
from tests.integration.interop.support import fhir, outcome

BILLING = ["system/Encounter.read", "system/Claim.read"]


def test_encounter_read_and_search_valid(org: Any, bearer: Any) -> None:
    w = make_billing_world(org)
    pid, _ = w.patient()
    old = w.encounter(pid, days_ago=30)
    new = w.encounter(pid, days_ago=2)
    c = bearer(org, BILLING)
    e = fhir(c.get(f"/fhir/R4/Encounter/{new.id}"))
    assert e["subject"]["reference"] == f"Patient/{pid}" and e["status"] == "finished"
    assert e["reasonCode"][0]["coding"][0] == {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}
    assert e["participant"][0]["individual"]["reference"] == f"Practitioner/{w.provider_id}"
    got = fhir(c.get("/fhir/R4/Encounter", params={"patient": f"Patient/{pid}"}))
    assert [x["resource"]["id"] for x in got["entry"]] == [str(new.id), str(old.id)]  # newest first
    day = (now().date() - timedelta(days=2)).isoformat()
    got = fhir(c.get("/fhir/R4/Encounter", params={"patient": str(pid), "date": day}))
    assert [x["resource"]["id"] for x in got["entry"]] == [str(new.id)]
    got = fhir(c.get("/fhir/R4/Encounter", params={"patient": str(pid), "date": f"lt{day}"}))
    assert [x["resource"]["id"] for x in got["entry"]] == [str(old.id)]
    got = fhir(c.get("/fhir/R4/Encounter", params={"patient": str(pid), "location": str(org.loc_b.id)}))
    assert "entry" not in got
    got = fhir(c.get("/fhir/R4/Encounter", params={"patient": str(pid), "status": "entered-in-error"}))
    assert "entry" not in got
    assert outcome(c.get("/fhir/R4/Encounter", params={"status": "open"}), 400)["expression"] == ["status"]
    paged = fhir(c.get("/fhir/R4/Encounter", params={"patient": str(pid), "_count": 1}))
    assert any(link["relation"] == "next" for link in paged["link"])


def test_claim_read_and_search_valid(org: Any, bearer: Any) -> None:
    w = make_billing_world(org)
    pid, cov = w.patient()
    enc = w.encounter(pid, prior_auth="AUTH9")
    [claim] = claims.build_claims(w.ctx, enc.id)
    c = bearer(org, BILLING)
    r = fhir(c.get(f"/fhir/R4/Claim/{claim.id}"))
    assert r["status"] == "draft" and r["use"] == "claim"
    assert r["identifier"][0]["value"] == claim.claim_number
    assert r["insurance"][0]["coverage"]["reference"] == f"Coverage/{cov}"
    assert r["total"] == {"value": 175.0, "currency": "USD"}
    assert [i["productOrService"]["coding"][0]["code"] for i in r["item"]] == ["99213", "36415"]
    assert r["item"][0]["diagnosisSequence"] == [1, 2]
    got = fhir(c.get("/fhir/R4/Claim", params={"patient": str(pid), "status": "draft", "use": "claim"}))
    assert [x["resource"]["id"] for x in got["entry"]] == [str(claim.id)]
    assert "entry" not in fhir(c.get("/fhir/R4/Claim", params={"patient": str(pid), "status": "active"}))
    assert "entry" not in fhir(c.get("/fhir/R4/Claim", params={"patient": str(pid), "use": "preauthorization"}))
    today = now().date()
    got = fhir(c.get("/fhir/R4/Claim", params={"patient": str(pid), "created": f"ge{today - timedelta(days=1)}"}))
    assert len(got["entry"]) == 1
    got = fhir(c.get("/fhir/R4/Claim", params={"patient": str(pid), "created": f"gt{today + timedelta(days=1)}"}))
    assert "entry" not in got


def test_billing_scopes_location_scope_and_tenancy(org: Any, other_org: Any, bearer: Any) -> None:
    w = make_billing_world(org)
    pid, _ = w.patient()
    enc = w.encounter(pid)
    [claim] = claims.build_claims(w.ctx, enc.id)
    assert "system/Encounter.read" in outcome(bearer(org, ["system/Patient.read"]).get(
        f"/fhir/R4/Encounter/{enc.id}"), 403)["diagnostics"]
    elsewhere = bearer(org, BILLING, location_ids=[org.loc_b.id])  # the encounter is at loc_a
    assert outcome(elsewhere.get(f"/fhir/R4/Encounter/{enc.id}"), 404)["code"] == "not-found"
    assert outcome(elsewhere.get(f"/fhir/R4/Claim/{claim.id}"), 404)["code"] == "not-found"
    assert "entry" not in fhir(elsewhere.get("/fhir/R4/Claim", params={"patient": str(pid)}))
    theirs = bearer(other_org, BILLING)
    assert outcome(theirs.get(f"/fhir/R4/Encounter/{enc.id}"), 404)["code"] == "not-found"
    assert outcome(theirs.get(f"/fhir/R4/Claim/{claim.id}"), 404)["code"] == "not-found"
    assert "entry" not in fhir(theirs.get("/fhir/R4/Encounter", params={"patient": str(pid)}))


def test_the_corpus_encounters_and_claims_are_searchable_as_the_spec_says(org: Any, bearer: Any) -> None:
    """Encounter and Claim are read-only here (they come from billing); every sample's own values
    work as search parameters (a FHIR status we never produce matches nothing, it is no error)."""
    import json
    from pathlib import Path

    corpus = Path("/work/shared/corpus/fhir/r4")
    w = make_billing_world(org)
    pid, _ = w.patient()
    c = bearer(org, BILLING)
    for name in ("encounter-example.json", "encounter-example-home.json"):
        sample = json.loads((corpus / name).read_text())
        params = {"status": sample["status"], "patient": str(pid)}
        if "period" in sample:
            params["date"] = "ge" + sample["period"]["start"]
        fhir(c.get("/fhir/R4/Encounter", params=params))
    for name in ("claim-example-professional.json", "claim-example-cms1500-medical.json"):
        sample = json.loads((corpus / name).read_text())
        fhir(c.get("/fhir/R4/Claim", params={"status": sample["status"], "use": sample["use"],
                                             "created": "ge" + sample["created"], "patient": str(pid)}))
    enc = w.encounter(pid)
    claims.build_claims(w.ctx, enc.id)
    assert "entry" not in fhir(c.get("/fhir/R4/Encounter", params={"patient": str(pid), "status": "in-progress"}))
    assert len(fhir(c.get("/fhir/R4/Encounter", params={"patient": str(pid), "status": "finished"}))["entry"]) == 1

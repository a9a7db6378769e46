"""From encounter to claim to 837P file (judged by pyx12), and the claim's status machine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from praxis.billing import claims, reference, submission
from praxis.billing.schemas import AdjudicationIn, CorrectIn, LineIn, RuleSetIn
from praxis.platform.errors import Conflict, ValidationProblem
from tests.integration.billing.helpers import make_billing_world
from tests.unit.formats.pyx12_judge import pyx12_errors


def _submit_one(w, **kw) -> tuple[str, object]:
    result = submission.submit_ready(w.ctx, **kw)
    assert not result.refused and not result.delivery_errors, (result.refused, result.delivery_errors)
    assert len(result.batches) == 1
    batch = result.batches[0]
    assert batch.status == "sent"
    conn = next(c for c in reference.list_connections(w.ctx) if c.id == batch.connection_id)
    text = (Path(conn.outbound_dir) / batch.file_name).read_text()
    return text, batch


def test_encounter_to_claim_to_file_passes_pyx12(org):
    w = make_billing_world(org)
    pid, _ = w.patient()
    enc = w.encounter(pid, referring_npi="1234567893", referring_first_name="Rita", referring_last_name="Ref",
                      prior_auth="AUTH123")
    assert enc.total_charge_cents == 15000 + 2500  # from the fee schedule
    [claim] = claims.build_claims(w.ctx, enc.id)
    assert claim.findings == [], claim.findings
    assert claim.status == "ready"
    assert [e.to_status for e in claim.events] == ["draft", "scrubbed", "ready"]
    text, batch = _submit_one(w)
    ok, errors = pyx12_errors(text)
    assert ok and not errors, errors
    assert f"CLM*{claim.claim_number}*175***11:B:1" in text
    assert f"REF*6R*{claim.claim_number}-1" in text
    assert "NM1*DN*1*Ref*Rita****XX*1234567893" in text
    assert "NM1*PR*2*Acme Health*****PI*60054" in text
    after = claims.get_claim(w.ctx, claim.id)
    assert after.status == "submitted" and after.batch_id == batch.id


def test_dependant_secondary_twelve_diagnoses_and_modifiers_pass_pyx12(org):
    w = make_billing_world(org)
    pid, _ = w.patient(dependant=True, secondary=True, sex="M")
    dx = ["E11.9", "I10", "E78.5", "J45.909", "M54.50", "R51.9", "Z00.00", "K21.9", "F41.1", "G47.00",
          "N39.0", "L30.9"]
    enc = w.encounter(pid, diagnoses=dx, lines=[
        LineIn(code="99214", modifiers=["25"], dx_pointers=[1, 2, 3, 4]),
        LineIn(code="20610", modifiers=["RT", "59"], dx_pointers=[12]),
    ])
    [primary] = claims.build_claims(w.ctx, enc.id)
    assert primary.status == "ready", primary.findings
    text, _ = _submit_one(w)
    ok, errors = pyx12_errors(text)
    assert ok and not errors, errors
    assert "HL*3*2*23*0" in text  # the dependant's own HL under the subscriber
    assert "HI*ABK:E119*ABF:I10" in text
    assert "SV1*HC:20610:RT:59*300*UN*1***4" in text or "SV1*HC:20610:RT:59*300*UN*1***12" in text

    # the primary pays; the secondary claim is built with the primary's payment and goes out too
    claims.get_claim(w.ctx, primary.id)
    out = claims.record_adjudication(w.ctx, primary.id, AdjudicationIn(
        outcome="paid", paid_cents=30000, patient_responsibility_cents=2000, adjudicated_on=date.today(),
        payer_claim_number="PCN-1"))
    assert out[0].status == "paid"
    secondary = out[1]
    assert secondary.responsibility == "S" and secondary.status == "ready", secondary.findings
    text2, _ = _submit_one(w)
    ok, errors = pyx12_errors(text2)
    assert ok and not errors, errors
    assert "SBR*S*" in text2 and "AMT*D*300" in text2


def test_scrubber_finding_keeps_claim_in_draft_until_encounter_fixed(org):
    w = make_billing_world(org)
    pid, _ = w.patient()
    enc = w.encounter(pid, diagnoses=["E11.9"], lines=[LineIn(code="99213", dx_pointers=[1, 2])])
    [claim] = claims.build_claims(w.ctx, enc.id)
    assert claim.status == "draft"
    assert [(f.rule, f.field) for f in claim.findings] == [("dx_pointers", "lines[0].dx_pointers")]
    from praxis.billing import charges
    from praxis.billing.schemas import EncounterUpdate

    charges.update_encounter(w.ctx, enc.id, EncounterUpdate(
        rendering_provider_id=w.provider_id, diagnoses=["E11.9", "I10"], place_of_service="11",
        lines=[LineIn(code="99213", dx_pointers=[1, 2])]))
    fixed = claims.get_claim(w.ctx, claim.id)
    assert fixed.status == "ready" and fixed.findings == []
    rates = claims.clean_claim_rates(w.ctx)
    [builtin] = [r for r in rates if r.rule_set_id is None]
    assert builtin.runs == 2 and builtin.clean == 1 and builtin.first_pass_runs == 1 and builtin.first_pass_clean == 0


def test_payer_rule_set_requires_prior_auth(org):
    w = make_billing_world(org)
    from praxis.billing import rules

    rs = rules.save_rule_set(w.ctx, RuleSetIn(name="Acme", payer_id=w.payer_id,
                                              rules=[{"rule": "prior_auth", "codes": ["20610"]},
                                                     {"rule": "timely_filing", "days": 90}]))
    pid, _ = w.patient()
    enc = w.encounter(pid, lines=[LineIn(code="20610", dx_pointers=[1])])
    [claim] = claims.build_claims(w.ctx, enc.id)
    assert [f.rule for f in claim.findings] == ["prior_auth"]
    [rate] = [r for r in claims.clean_claim_rates(w.ctx) if r.rule_set_id == rs.id]
    assert rate.runs == 1 and rate.clean == 0


def test_status_machine_correct_and_void(org):
    w = make_billing_world(org)
    pid, _ = w.patient()
    enc = w.encounter(pid)
    [claim] = claims.build_claims(w.ctx, enc.id)
    with pytest.raises(Conflict):
        claims.build_claims(w.ctx, enc.id)  # one live claim per encounter and coverage
    with pytest.raises(ValidationProblem):
        claims.correct_claim(w.ctx, claim.id, CorrectIn(note="typo"))  # never sent, no payer number
    _submit_one(w)
    with pytest.raises(Conflict):
        claims.scrub_claim(w.ctx, claim.id)
    paid = claims.record_adjudication(w.ctx, claim.id, AdjudicationIn(
        outcome="paid", paid_cents=10000, adjudicated_on=date.today(), payer_claim_number="ICN77"))[0]
    assert paid.status == "paid"
    replacement = claims.correct_claim(w.ctx, claim.id, CorrectIn(note="wrong units"))
    assert replacement.frequency == "7" and replacement.payer_claim_number == "ICN77"
    assert replacement.claim_number != claim.claim_number and replacement.status == "ready"
    assert claims.get_claim(w.ctx, claim.id).status == "corrected"
    text, _ = _submit_one(w)
    assert "*11:B:7*" in text and "REF*F8*ICN77" in text
    ok, errors = pyx12_errors(text)
    assert ok and not errors, errors
    claims.record_adjudication(w.ctx, replacement.id, AdjudicationIn(
        outcome="denied", adjudicated_on=date.today()))
    voider = claims.void_claim(w.ctx, replacement.id, "billed in error")
    assert voider.frequency == "8" and claims.get_claim(w.ctx, replacement.id).status == "void"
    text, _ = _submit_one(w)
    assert "*11:B:8*" in text
    ok, errors = pyx12_errors(text)
    assert ok and not errors, errors


def test_control_numbers_are_persistent_and_unique(org):
    w = make_billing_world(org)
    seen = set()
    for _ in range(3):
        pid, _ = w.patient()
        claims.build_claims(w.ctx, w.encounter(pid).id)
        _, batch = _submit_one(w)
        seen.add(batch.interchange_control_number)
    assert len(seen) == 3
    assert sorted(seen) == [f"{n:09d}" for n in (1, 2, 3)]


def test_encounters_and_claims_follow_a_patient_merge(org):
    from praxis.billing import charges
    from praxis.patients import merge

    w = make_billing_world(org)
    from praxis.patients import coverage

    keep, keep_cov = w.patient()
    coverage.end_coverage(w.ctx, keep_cov)  # two active primaries would collide in the merge (patients' rule)
    gone, _ = w.patient()
    enc = w.encounter(gone)
    [claim] = claims.build_claims(w.ctx, enc.id)
    merge.merge_patients(w.ctx, keep, gone, "duplicate registration")
    assert charges.get_encounter(w.ctx, enc.id).patient_id == keep
    assert claims.get_claim(w.ctx, claim.id).patient_id == keep

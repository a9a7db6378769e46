"""Each scrubber rule catches its defect with a clear finding; a clean claim passes (pure, no DB)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from praxis.billing import codes, scrubber
from praxis.billing.scrubber import ClaimFacts, LineFacts, Party

TODAY = date(2026, 12, 7)
DOS = date(2026, 11, 30)


def clean() -> ClaimFacts:
    return ClaimFacts(
        claim_number="000123", frequency="1", payer_claim_number="", date_of_service=DOS, place_of_service="11",
        diagnoses=("E119", "I10"), prior_auth="", total_charge_cents=17500,
        lines=(LineFacts("99213", ("25",), 1, 15000, (1, 2), DOS), LineFacts("36415", (), 1, 2500, (1,), DOS)),
        billing=Party(last_name="Alpha Clinics", npi="1234567893", tax_id="123456789", taxonomy="261QP2300X",
                      address_line1="100 Broadway", city="New York", state="NY", postal_code="100051234"),
        rendering=Party(last_name="Lovelace", first_name="Ada", npi="1245319599"),
        referring=None,
        patient=Party(last_name="Doe", first_name="Jane", dob=date(1985, 3, 4), sex="F", address_line1="12 Main St",
                      city="New York", state="NY", postal_code="10001"),
        subscriber=Party(), relationship="18", member_id="M123", coverage_active=True,
        coverage_from=date(2020, 1, 1), coverage_to=None, payer_name="Acme", payer_edi_id="60054", today=TODAY)


def rules_hit(facts: ClaimFacts, rules: list[dict] | None = None) -> list[tuple[str, str]]:
    return [(f.rule, f.field) for f in scrubber.scrub(facts, rules)]


def test_a_clean_claim_passes():
    assert scrubber.scrub(clean()) == []


def test_every_finding_names_rule_field_message_fix_and_target():
    f = scrubber.scrub(replace(clean(), diagnoses=()))
    assert f and all(x.rule in scrubber.RULES and x.field and x.message and x.fix and x.target for x in f)


@pytest.mark.parametrize(("change", "expected"), [
    (dict(billing=None), ("required_fields", "billing")),
    (dict(member_id=""), ("required_fields", "coverage.member_id")),
    (dict(payer_edi_id=""), ("required_fields", "payer.edi_id")),
    (dict(rendering=None), ("required_fields", "rendering_provider_id")),
    (dict(place_of_service="88"), ("required_fields", "place_of_service")),
    (dict(frequency="7"), ("required_fields", "payer_claim_number")),
])
def test_required_fields(change, expected):
    assert expected in rules_hit(replace(clean(), **change))


def test_required_patient_address_and_billing_taxonomy():
    c = clean()
    hits = rules_hit(replace(c, patient=replace(c.patient, postal_code=""),
                             billing=replace(c.billing, taxonomy="")))
    assert ("required_fields", "patient.postal_code") in hits
    assert ("required_fields", "billing.taxonomy") in hits


def test_npi_check_digit():
    c = clean()
    assert codes.npi_ok("1234567893") and not codes.npi_ok("1234567890")
    hits = rules_hit(replace(c, billing=replace(c.billing, npi="1234567890"),
                             referring=Party(last_name="Ref", npi="1234567891")))
    assert ("npi_check_digit", "billing.npi") in hits and ("npi_check_digit", "referring_npi") in hits


def test_tax_id_format():
    c = clean()
    assert rules_hit(replace(c, billing=replace(c.billing, tax_id="001234567"))) == [("tax_id_format",
                                                                                      "billing.tax_id")]


def test_icd10_format_and_loaded_list():
    c = clean()
    assert ("icd10", "diagnoses[1]") in rules_hit(replace(c, diagnoses=("E119", "1234")))
    assert rules_hit(replace(c, known_diagnoses=frozenset({"E119"}))) == [("icd10", "diagnoses[1]")]
    assert rules_hit(replace(c, known_diagnoses=frozenset({"E119", "I10"}))) == []


def test_dx_pointer_validity():
    c = clean()
    bad = replace(c, lines=(replace(c.lines[0], dx_pointers=(1, 3)), replace(c.lines[1], dx_pointers=())))
    assert rules_hit(bad) == [("dx_pointers", "lines[0].dx_pointers"), ("dx_pointers", "lines[1].dx_pointers")]


def test_procedure_codes_charges_and_total():
    c = clean()
    assert ("procedure_codes", "lines[1].code") in rules_hit(replace(c, lines=(c.lines[0],
                                                                               replace(c.lines[1], code="3641"))))
    assert ("procedure_codes", "total_charge_cents") in rules_hit(replace(c, total_charge_cents=1))
    assert rules_hit(replace(c, known_procedures=frozenset({"99213"}))) == [("procedure_codes", "lines[1].code")]


def test_coverage_active_on_the_date_of_service():
    c = clean()
    assert rules_hit(replace(c, coverage_active=False)) == [("coverage_active", "coverage")]
    assert rules_hit(replace(c, coverage_to=date(2026, 11, 1))) == [("coverage_active", "coverage.effective_to")]
    assert rules_hit(replace(c, coverage_from=date(2026, 12, 1))) == [("coverage_active", "coverage.effective_from")]


def test_subscriber_data_complete_for_a_dependant():
    c = replace(clean(), relationship="19",
                subscriber=Party(last_name="Doe", first_name="John", dob=date(1960, 1, 2), sex="U",
                                 address_line1="12 Main St", city="New York", state="NY", postal_code=""))
    assert rules_hit(c) == [("subscriber_complete", "coverage.subscriber_postal_code"),
                            ("subscriber_complete", "coverage.subscriber_sex")]


def test_timely_filing_limit_is_a_parameter():
    c = replace(clean(), date_of_service=date(2026, 8, 1),
                lines=tuple(replace(ln, service_date=date(2026, 8, 1)) for ln in clean().lines))
    assert rules_hit(c) == []  # 128 days, within the default 365
    assert rules_hit(c, [{"rule": "timely_filing", "days": 90}]) == [("timely_filing", "date_of_service")]


def test_duplicate_claim():
    assert rules_hit(replace(clean(), duplicates=("000100",))) == [("duplicate_claim", "claim_number")]
    assert rules_hit(replace(clean(), duplicates=("000100",), frequency="7", payer_claim_number="X")) == []


def test_modifier_combinations():
    c = clean()
    hits = rules_hit(replace(c, lines=(replace(c.lines[0], modifiers=("LT", "RT")),
                                       replace(c.lines[1], modifiers=("59", "59")))))
    assert hits == [("modifier_combinations", "lines[0].modifiers"), ("modifier_combinations", "lines[1].modifiers")]


def test_payer_specific_prior_auth_and_required_modifiers():
    c = replace(clean(), place_of_service="10")
    rules = [{"rule": "prior_auth", "codes": ["36415"]},
             {"rule": "required_modifiers", "requirements": [{"places_of_service": ["02", "10"],
                                                              "codes": ["99213"], "modifiers": ["95", "93"]}]}]
    assert rules_hit(c, rules) == [("prior_auth", "prior_auth"), ("required_modifiers", "lines[0].modifiers")]
    fixed = replace(c, prior_auth="AUTH1", lines=(replace(c.lines[0], modifiers=("95",)), c.lines[1]))
    assert rules_hit(fixed, rules) == []


def test_disabled_rules_and_merged_rule_sets():
    c = replace(clean(), member_id="")
    assert rules_hit(c, [{"rule": "required_fields", "enabled": False}]) == []
    merged = scrubber.merge_rules(scrubber.default_rules(), [{"rule": "required_fields", "enabled": False}])
    assert len(merged) == len(scrubber.default_rules()) and rules_hit(c, merged) == []


def test_rule_set_documents_are_checked():
    assert scrubber.check_rule_set([{"rule": "nope"}])[0].startswith("rules[0].rule: unknown rule")
    assert scrubber.check_rule_set([{"rule": "timely_filing", "days": 0}]) == [
        "rules[0].days: a whole number of days, 1 to 3650"]
    assert scrubber.check_rule_set(scrubber.default_rules()) == []

"""The 837P writer: every claim shape validates under pyx12 4.0.0 with no errors."""

from __future__ import annotations

from dataclasses import replace

import pytest

from praxis.formats.x12 import Separators
from praxis.formats.x12.write837 import X12WriteError, money, write_837p
from tests.unit.formats import claims as c
from tests.unit.formats.pyx12_judge import pyx12_errors


@pytest.mark.parametrize("shape", sorted(c.ALL_SHAPES))
def test_each_claim_shape_validates_under_pyx12(shape: str) -> None:
    text = write_837p(c.interchange(c.ALL_SHAPES[shape]()))
    ok, errors = pyx12_errors(text)
    assert errors == []
    assert ok is True


def test_many_claims_many_transactions_validate_under_pyx12() -> None:
    claims = [fn() for fn in c.ALL_SHAPES.values()]
    claims += [c.claim(f"PX9{n:05d}", lines=(c.line(1, cents=100 * n),), total_charge_cents=100 * n)
               for n in range(1, 6)]
    text = write_837p(c.interchange(*claims, per_transaction=4))
    assert text.count("ST*837*") == -(-len(claims) // 4)
    ok, errors = pyx12_errors(text)
    assert errors == []
    assert ok is True


@pytest.mark.parametrize("seps", [
    Separators(line_ending=""),
    Separators(line_ending="\r\n"),
    Separators(element="|", component=">", repetition="{", segment="~", line_ending="\n"),
    Separators(element="^", component="\\", repetition="`", segment="'", line_ending=""),
])
def test_separators_and_line_endings_are_configurable(seps: Separators) -> None:
    text = write_837p(c.interchange(c.secondary_claim(), c.modifiers_claim(), separators=seps))
    assert text[3] == seps.element
    assert text[104] == seps.component and text[105] == seps.segment
    assert text.endswith(seps.segment + seps.line_ending)
    assert text.count(seps.segment + seps.line_ending) == text.count(seps.segment)
    ok, errors = pyx12_errors(text)
    assert errors == []
    assert ok is True


def test_hl_hierarchy_groups_claims_by_provider_subscriber_and_patient() -> None:
    text = write_837p(c.interchange(c.claim("A1"), c.dependant_claim(), c.claim("A2")))
    hls = [s for s in text.split("~\n") if s.startswith("HL*")]
    # one billing provider, the subscriber-as-patient (2 claims), the subscriber of a dependant, the dependant
    assert hls == ["HL*1**20*1", "HL*2*1*22*0", "HL*3*1*22*1", "HL*4*3*23*0"]
    segments = text.split("~\n")
    st, se = segments.index("ST*837*0001*005010X222A1"), next(i for i, s in enumerate(segments) if s.startswith("SE*"))
    assert segments[se] == f"SE*{se - st + 1}*0001"


def test_money_is_written_from_integer_cents() -> None:
    assert [money(v) for v in (0, 5, 50, 100, 12345, 12340, 12300, -250)] == [
        "0", "0.05", "0.5", "1", "123.45", "123.4", "123", "-2.5"]


def test_data_that_cannot_be_written_is_refused_with_every_problem_named() -> None:
    bad = c.claim("X" * 21, diagnoses=(*c.TWELVE, "Z00"), total_charge_cents=1,
                  lines=(c.line(1, modifiers=("25", "59", "XS", "76", "GT"), pointers=(14,)),),
                  frequency_code="7", prior_authorization="AB*C")
    with pytest.raises(X12WriteError) as err:
        write_837p(c.interchange(bad))
    problems = "\n".join(err.value.problems)
    for expected in ("claims[0].claim_id", "claims[0].diagnoses: 13 given", "lines[0].modifiers: 5 given",
                     "diagnosis_pointers: 14 points at no diagnosis", "payer_claim_control_number: required",
                     "total_charge_cents: 1 is not the sum", "claims[0].prior_authorization: contains a separator"):
        assert expected in problems


def test_a_separator_in_a_nested_name_is_refused() -> None:
    bad = c.claim(subscriber=replace(c.SUBSCRIBER, last_name="O~NEIL"))
    with pytest.raises(X12WriteError, match=r"claims\[0\]\.subscriber\.last_name"):
        write_837p(c.interchange(bad))


def test_a_value_of_the_wrong_type_is_refused_not_crashed_on() -> None:
    bad = c.claim(subscriber=replace(c.SUBSCRIBER, sex=None), payer=replace(c.ACME, payer_id=60054))  # type: ignore[arg-type]
    with pytest.raises(X12WriteError) as err:
        write_837p(c.interchange(bad))
    assert "transactions[0].claims[0].subscriber.sex: NoneType given, text expected" in err.value.problems
    assert "transactions[0].claims[0].payer.payer_id: int given, text expected" in err.value.problems


def test_element_lengths_and_state_codes_are_checked() -> None:
    bad = c.claim(subscriber=replace(c.SUBSCRIBER, member_id="W", address=replace(c.SUBSCRIBER.address, city="X",
                                                                                     state="ZZ")),
                  lines=(c.line(1, modifiers=("2",)),), billing_provider=replace(c.BILLING, npi="12345"))
    with pytest.raises(X12WriteError) as err:
        write_837p(c.interchange(bad))
    problems = "\n".join(err.value.problems)
    for expected in ("claims[0].subscriber.member_id: has 1 characters; 2..80 allowed",
                     "claims[0].subscriber.address.city: has 1 characters; 2..30 allowed",
                     "claims[0].subscriber.address: a US address needs a state code",
                     "claims[0].lines[0].modifiers[0]: '2' has 1 characters; 2..2 allowed",
                     "claims[0].billing_provider.npi: has 5 characters; 10..10 allowed"):
        assert expected in problems

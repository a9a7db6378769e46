"""The MRN format is a declared grammar: prefix, zero-padded width, optional check digit (issue 17
finding 6). Nothing in it is evaluated, and everything it can produce fits the column."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from praxis.patients.models import Patient
from praxis.practice.mrn import MAX_LENGTH, MrnFormat, luhn_check_digit
from praxis.practice.schemas import OrgSettings


def test_default_numbers_like_before():
    assert MrnFormat().format(42) == "00000042"
    assert MrnFormat(prefix="RB-", width=6).format(7) == "RB-000007"
    assert MrnFormat(width=2).format(12345) == "12345"  # never truncated


def test_luhn_check_digit():
    assert luhn_check_digit("7992739871") == 3  # the textbook example
    fmt = MrnFormat(prefix="P", width=6, check_digit="luhn")
    assert fmt.format(42) == "P000042" + str(luhn_check_digit("000042"))
    assert fmt.parse(fmt.format(42)) == 42
    wrong = fmt.format(42)[:-1] + str((int(fmt.format(42)[-1]) + 1) % 10)
    assert fmt.parse(wrong) is None


@pytest.mark.parametrize("bad", [
    "{seq.__class__}", "{seq:08d}", 8, {"prefix": "{seq.__class__}"}, {"prefix": "A" * 11},
    {"width": 0}, {"width": 13}, {"check_digit": "mod97"}, {"prefix": "X", "suffix": "Y"},
])
def test_anything_but_the_grammar_is_refused_naming_the_field(bad):
    with pytest.raises(ValidationError) as exc:
        OrgSettings.model_validate({"mrn_format": bad})
    assert exc.value.errors()[0]["loc"][0] == "mrn_format"


@given(prefix=st.text(alphabet="AZaz09-", max_size=10), width=st.integers(1, 12),
       check=st.sampled_from(["none", "luhn"]), seq=st.integers(0, 2**63 - 1))
def test_every_mrn_fits_the_column_and_parses_back(prefix, width, check, seq):
    fmt = MrnFormat(prefix=prefix, width=width, check_digit=check)
    mrn = fmt.format(seq)
    assert len(mrn) <= MAX_LENGTH <= Patient.__table__.c.mrn.type.length
    assert fmt.parse(mrn) == seq

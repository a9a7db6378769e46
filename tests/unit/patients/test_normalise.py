"""Pure normalisation and parsing used by registry, search, duplicates and import."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from praxis.patients import normalise as n


@pytest.mark.parametrize("raw,norm", [
    ("García", "garcia"), ("O'Brien", "obrien"), ("Núñez-López", "nunez lopez"), ("ØSTERGÅRD", "ostergard"),
    ("  Zoë  ", "zoe"), ("Straße", "strasse"), ("", ""), ("Łukasz", "lukasz"), ("50% off_", "50 off"),
])
def test_normalise_name(raw, norm):
    assert n.normalise_name(raw) == norm


@given(st.text(max_size=40))
def test_normalised_names_hold_no_like_wildcards(text):
    out = n.normalise_name(text)
    assert "%" not in out and "_" not in out and out == out.strip()


@pytest.mark.parametrize("raw,e164", [
    ("(212) 555-0101", "+12125550101"), ("212.555.0101", "+12125550101"), ("+44 20 7946 0958", "+442079460958"),
    ("", None), (None, None),
])
def test_parse_phone(raw, e164):
    assert n.parse_phone(raw) == e164


@pytest.mark.parametrize("raw", ["555", "123-456-7890", "phone", "+1 000 000 0000"])
def test_impossible_phones_refused(raw):
    with pytest.raises(n.ParseError):
        n.parse_phone(raw)


def test_parse_email():
    assert n.parse_email("Ana@Example.ORG") == "Ana@example.org"
    with pytest.raises(n.ParseError):
        n.parse_email("ana@")


@pytest.mark.parametrize("raw,expected", [
    ("1980-02-03", date(1980, 2, 3)), ("02/03/1980", date(1980, 2, 3)), ("19800203", date(1980, 2, 3)),
    ("2/3/1980", date(1980, 2, 3)),
])
def test_parse_date(raw, expected):
    assert n.parse_dob(raw, today=date(2025, 1, 1)) == expected


@pytest.mark.parametrize("raw", ["1980-02-30", "2/3/80", "31/12/1980", "tomorrow", "2099-01-01", "1850-01-01"])
def test_bad_dob_refused(raw):
    with pytest.raises(n.ParseError):
        n.parse_dob(raw, today=date(2025, 1, 1))


def test_ssn_and_member_id():
    assert n.parse_ssn("123-45-6789") == "123456789"
    for bad in ("000-12-3456", "666121234", "123-00-4567", "12345678", "9xx"):
        with pytest.raises(n.ParseError):
            n.parse_ssn(bad)
    assert n.normalise_member_id(" ab-12 3 ") == "AB123"



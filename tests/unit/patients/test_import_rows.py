"""Import file reading and row validation, without a database."""

from __future__ import annotations

import pytest

from praxis.patients import import_rows as ir


def _table(text: str) -> ir.Table:
    return ir.read_table(text.encode(), "x.csv")


def test_guess_mapping_prefers_exact_names():
    headers = ["Last Name", "first_name", "DOB", "Cell", "Home Phone", "Zip", "Something"]
    assert ir.guess_mapping(headers, "patients") == {
        "Last Name": "last_name", "first_name": "first_name", "DOB": "dob", "Cell": "phone_mobile",
        "Home Phone": "phone_home", "Zip": "postal_code"}


def test_mapping_must_cover_required_fields():
    with pytest.raises(ir.ImportFileError, match="dob"):
        ir.check_mapping(["a", "b"], {"a": "first_name", "b": "last_name"}, "patients")
    with pytest.raises(ir.ImportFileError, match="unknown field"):
        ir.check_mapping(["a"], {"a": "favourite_colour"}, "patients")
    with pytest.raises(ir.ImportFileError, match="does not have"):
        ir.check_mapping(["a"], {"zzz": "dob"}, "patients")


@pytest.mark.parametrize("cell,refused", [
    ("=SUM(A1)", True), ("@cmd", True), ("+cmd|' /C calc'!A0", True), ("-2+3+cmd|x", True), ("\tx", True),
    ("+1 (212) 555-0101", False), ("-5", False), ("Smith", False), ("", False),
])
def test_formula_detection(cell, refused):
    assert ir.is_formula(cell) is refused


def test_every_bad_row_reported_with_row_and_column():
    t = _table("last,first,dob,phone,email\n"
               "Ok,Row,1980-01-01,2125550100,a@example.org\n"
               "Bad,Dob,1980-13-01,,\n"
               ",Missing,1980-01-01,555,nope\n")
    m = ir.guess_mapping(t.headers, "patients")
    out = ir.validate_patient_rows(t, m)
    assert [r for r, _ in out.rows] == [2]
    assert {(e.row, e.column) for e in out.errors} == {(3, "dob"), (4, "last"), (4, "phone"), (4, "email")}


def test_bad_encoding_message_names_line():
    data = "last,first,dob\nM\u00fcller,A,1980-01-01\n".encode("latin-1")
    with pytest.raises(ir.ImportFileError) as exc:
        list(ir.read_table(data, "x.csv").rows)  # the rows stream: the problem surfaces at its line
    assert "line 2" in exc.value.detail
    assert next(iter(ir.read_table(data, "x.csv", "latin-1").rows))[0] == "Müller"


def test_semicolon_csv_and_bom():
    t = ir.read_table("\ufefflast;first;dob\nA;B;1980-01-01\n".encode(), "x.csv")
    assert t.headers == ["last", "first", "dob"]


def test_duplicate_header_and_empty_file():
    with pytest.raises(ir.ImportFileError, match="twice"):
        _table("a,a\n1,2\n")
    with pytest.raises(ir.ImportFileError, match="empty"):
        ir.read_table(b"", "x.csv")


def test_coverage_rows():
    t = _table("patient_mrn,payer_code,member_id,relationship,priority,effective_from,effective_to\n"
               "0001,60054,W1,spouse,secondary,2024-01-01,2024-12-31\n"
               "0002,60054,W2,brother,9,2024-02-01,2024-01-01\n")
    out = ir.validate_coverage_rows(t, ir.guess_mapping(t.headers, "coverages"))
    assert out.rows[0][1]["relationship"] == "01" and out.rows[0][1]["priority"] == 2
    assert {e.column for e in out.errors} == {"relationship", "priority", "effective_to"}

"""Issue 13, item 10: ambiguous dates follow the stated date format and are reported when it is
not stated; a required field that no column maps names the columns the file has; the CLI says
both in one line each, never with a traceback."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from praxis.cli import app as cli
from praxis.patients import importer, service
from praxis.patients.import_rows import ImportFileError, read_date
from praxis.patients.normalise import ParseError
from praxis.platform.context import system_context

FILE = (
    "Account,Last Name,First Name,DOB\n"
    "B1,Abbott,Ann,04/05/1969\n"
    "B2,Baker,Bo,25/12/1970\n"
    "B3,Cole,Cy,1971-03-09\n"
)


def test_read_date_follows_the_stated_format_and_refuses_to_guess():
    assert read_date("04/05/1969", "MM/DD/YYYY") == date(1969, 4, 5)
    assert read_date("04/05/1969", "DD/MM/YYYY") == date(1969, 5, 4)
    assert read_date("07/07/1969", None) == date(1969, 7, 7)  # same either way round
    assert read_date("25/12/1970", None) == date(1970, 12, 25)  # only one reading exists
    assert read_date("1971-03-09", None) == "1971-03-09"  # ISO: left to the usual parser
    with pytest.raises(ParseError) as exc:
        read_date("04/05/1969", None)
    assert "April 5 or 4 May" in str(exc.value) and "date format" in str(exc.value)
    with pytest.raises(ParseError):
        read_date("25/12/1970", "MM/DD/YYYY")


def _run(org, **kw):
    return importer.run_import(system_context(org.id), "patients", FILE.encode(), filename="p.csv",
                               location_code="NYC", source="dates", **kw)


def test_unstated_ambiguous_dates_are_row_errors_and_nothing_is_written(org):
    report = _run(org, dry_run=False)
    assert not report.applied and report.created == 0
    assert [(e.row, e.column) for e in report.errors] == [(2, "DOB")]
    assert "April 5 or 4 May" in report.errors[0].reason


def test_stated_format_in_the_mapping_is_followed_and_remembered(org):
    mapping = {"Account": "external_id", "Last Name": "last_name", "First Name": "first_name", "DOB": "dob",
               "date_format": "DD/MM/YYYY"}
    report = _run(org, dry_run=False, mapping=mapping)
    assert report.applied and report.created == 3 and report.date_format == "DD/MM/YYYY"
    [ann] = service.find_patients(system_context(org.id), q="abbott, ann")
    assert ann.dob == date(1969, 5, 4)
    saved = importer.get_saved_mapping(system_context(org.id), "dates", "patients")
    assert saved is not None and saved["date_format"] == "DD/MM/YYYY"
    with pytest.raises(Exception) as exc:
        _run(org, dry_run=True, date_format="05/04/1969")
    assert "date format must be one of" in str(exc.value.detail)


def test_unmapped_required_field_lists_the_columns_found(org):
    with pytest.raises(ImportFileError) as exc:
        importer.run_import(system_context(org.id), "patients", b"Surname,Given,Birth\nA,B,1970-01-01\n",
                            filename="p.csv", location_code="NYC")
    detail = exc.value.detail
    assert "first name" in detail and "date of birth" in detail
    assert "The file's columns are: 'Surname', 'Given', 'Birth'" in detail


def test_cli_import_reports_columns_and_follows_date_format(org, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Surname,Given,Birth\nA,B,1970-01-01\n")
    result = CliRunner().invoke(cli, ["import", "patients", str(bad), "--org", org.slug, "--location", "NYC"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = [x for x in result.output.splitlines() if x.strip()]
    assert line.startswith("error: No column is mapped") and "'Surname', 'Given', 'Birth'" in line

    good = tmp_path / "good.csv"
    good.write_text(FILE)
    unstated = CliRunner().invoke(cli, ["import", "patients", str(good), "--org", org.slug, "--location", "NYC"])
    assert unstated.exit_code == 1 and "row 2, column 'DOB'" in unstated.output
    stated = CliRunner().invoke(cli, ["import", "patients", str(good), "--org", org.slug, "--location", "NYC",
                                      "--date-format", "DD/MM/YYYY"])
    assert stated.exit_code == 0, stated.output
    assert "errors 0" in stated.output and "would create 3" in stated.output

    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"columns": {"Account": "external_id", "Last Name": "last_name",
                                               "First Name": "first_name", "DOB": "dob"},
                                   "date_format": "DD/MM/YYYY"}))
    via_file = CliRunner().invoke(cli, ["import", "patients", str(good), "--org", org.slug, "--location", "NYC",
                                        "--mapping", str(mapping), "--apply"])
    assert via_file.exit_code == 0, via_file.output
    [ann] = service.find_patients(system_context(org.id), q="abbott, ann")
    assert ann.dob == date(1969, 5, 4)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    r = CliRunner().invoke(cli, ["import", "patients", str(good), "--org", org.slug, "--location", "NYC",
                                 "--mapping", str(broken)])
    assert r.exit_code == 2 and "Traceback" not in r.output and "cannot read the mapping file" in r.output

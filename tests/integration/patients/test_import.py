"""Spreadsheet import: dry run reports every bad row, apply is all-or-nothing, re-runs add nothing."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from praxis.patients import importer, service
from praxis.patients.import_rows import ImportFileError
from praxis.patients.models import Coverage, Patient
from praxis.platform import audit
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from tests.integration.patients.helpers import payer, register

GOOD = (
    "Account,Last Name,First Name,DOB,Sex,Cell Phone,Email,Zip,Legacy MRN\n"
    "A1,Álvarez,Lucía,1980-02-03,F,(212) 555-0100,lucia@example.org,10001,OLD-1\n"
    "A2,Brown,Tom,04/05/1975,M,,tom@example.org,,OLD-2\n"
    "A3,Chen,Wei,1990-12-31,U,602-555-0123,,85004,\n"
)
BAD = (
    "A4,Doe,Jane,31/31/1990,F,,,,\n"  # bad DOB
    "A5,Evans,Ed,1970-01-01,M,555,,,\n"  # impossible phone
    "A6,=HYPERLINK(\"http://x\"),Eve,1970-01-01,F,,,,\n"  # formula injection
)


def _count(org_id, model=Patient):
    with session_scope(org_id) as s:
        return s.scalar(select(func.count()).select_from(model))


def _run(ctx, text, dry_run, **kw):
    kw.setdefault("date_format", "MM/DD/YYYY")  # GOOD has 04/05/1975: the file states US dates
    return importer.run_import(ctx, "patients", text.encode(), filename="p.csv", location_code="NYC",
                               source="oldpm", dry_run=dry_run, **kw)


def test_dry_run_reports_every_bad_row_and_apply_is_all_or_nothing(org):
    ctx = system_context(org.id)
    report = _run(ctx, GOOD + BAD, dry_run=True)
    assert report.total_rows == 6 and report.valid_rows == 3
    errors = {(e.row, e.column) for e in report.errors}
    assert errors == {(5, "DOB"), (6, "Cell Phone"), (7, "Last Name")}
    assert "formula" in next(e.reason for e in report.errors if e.row == 7)
    assert _count(org.id) == 0
    applied = _run(ctx, GOOD + BAD, dry_run=False)
    assert not applied.applied and applied.created == 0
    assert _count(org.id) == 0  # one bad row: nothing written


def test_apply_then_rerun_creates_nothing_new(org):
    ctx = system_context(org.id)
    progress: list[tuple[str, int, int]] = []
    report = _run(ctx, GOOD, dry_run=False, progress=lambda *a: progress.append(a))
    assert report.applied and report.created == 3
    assert any(stage == "patients" for stage, _, _ in progress)
    found = service.find_patients(ctx, q="alvarez, lucia")
    assert len(found) == 1 and found[0].phone_mobile == "+12125550100"
    assert service.get_patient_by_mrn(ctx, "OLD-1").id == found[0].id  # legacy MRN kept as alias
    with session_scope(org.id) as s:
        assert "patient.import" in [r.action for r in audit.list_records(s, patient_id=found[0].id)]
    again = _run(ctx, GOOD, dry_run=False)
    assert again.created == 0 and again.already_imported == 3
    assert _count(org.id) == 3
    # The mapping was remembered for the source.
    assert importer.get_saved_mapping(ctx, "oldpm", "patients")["Account"] == "external_id"


def test_duplicates_of_existing_patients_are_reported_not_created(org):
    ctx = system_context(org.id)
    existing = register(ctx, "Wei", "Chen", date(1990, 12, 31), location_id=org.loc_a.id)
    report = _run(ctx, GOOD, dry_run=False)
    assert report.created == 2
    assert [(d.row, d.patient_id) for d in report.duplicates] == [(4, str(existing.id))]


def test_bad_encoding_and_wrong_type_are_clear_errors(org):
    ctx = system_context(org.id)
    latin1 = GOOD.encode("cp1252", errors="replace").replace(b"\xc1", b"\xc1")
    with pytest.raises(ImportFileError) as exc:
        importer.run_import(ctx, "patients", latin1, filename="p.csv", location_code="NYC")
    assert "line 2" in exc.value.detail and "UTF-8" in exc.value.detail
    ok = importer.run_import(ctx, "patients", latin1, filename="p.csv", location_code="NYC", encoding="cp1252",
                             date_format="MM/DD/YYYY")
    assert ok.valid_rows == 3
    with pytest.raises(ImportFileError):
        importer.run_import(ctx, "patients", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, filename="p.xls",
                            location_code="NYC")
    with pytest.raises(ImportFileError):
        importer.run_import(ctx, "patients", b"Name,Age\nx,1\n", filename="p.csv", location_code="NYC")
    assert _count(org.id) == 0


def test_xlsx_import_and_formula_cells(org):
    ctx = system_context(org.id)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["external_id", "last_name", "first_name", "dob"])
    ws.append(["X1", "Xu", "Li", date(1988, 8, 8)])
    ws.append(["X2", "Yang", "=1+2", "1977-07-07"])
    buf = io.BytesIO()
    wb.save(buf)
    report = importer.run_import(ctx, "patients", buf.getvalue(), filename="p.xlsx", location_code="NYC")
    assert [(e.row, e.column) for e in report.errors] == [(3, "first_name")]


def test_coverage_import_unknown_payer_and_rerun(org):
    ctx = system_context(org.id)
    _run(ctx, GOOD, dry_run=False)
    payer(ctx, "60054", "Aetna")
    rows = ("Account,Payer ID,Member ID,Group,Relationship,Priority\n"
            "A1,60054,W111,G1,self,primary\n"
            "A2,NOPE,W222,,18,1\n")
    rep = importer.run_import(ctx, "coverages", rows.encode(), location_code="NYC", source="oldpm", dry_run=False)
    assert not rep.applied and [(e.row, e.column) for e in rep.errors] == [(3, "Payer ID")]
    assert _count(org.id, Coverage) == 0
    good = rows.splitlines()[0] + "\n" + rows.splitlines()[1] + "\n"
    rep = importer.run_import(ctx, "coverages", good.encode(), location_code="NYC", source="oldpm", dry_run=False)
    assert rep.applied and rep.created == 1
    assert [p.last_name for p in service.find_patients(ctx, member_id="w111")] == ["Álvarez"]
    rep = importer.run_import(ctx, "coverages", good.encode(), location_code="NYC", source="oldpm", dry_run=False)
    assert rep.created == 0 and rep.already_imported == 1

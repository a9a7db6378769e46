"""Spreadsheet import of an existing care programme (issue 16 item 9): enrolments with consents
and past time logs, from CSV and XLSX, with a dry run, row-level errors, all or nothing, and
re-running the same file creating nothing new."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from praxis.care import closing, importing, rules
from praxis.care.models import CareConsent, CareEnrolment, CareProblem, CareTimeEntry
from praxis.patients import import_jobs
from praxis.patients import service as patients
from praxis.patients.import_rows import ImportFileError
from praxis.patients.schemas import PatientCreate
from praxis.platform.db import session_scope
from praxis.scheduling import setup
from tests.integration.scheduling.helpers import run_jobs

NPI = "1234567893"  # a valid check digit
NPI_ELSEWHERE = "1245319599"


def _count(org_id, model) -> int:
    with session_scope(org_id) as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(org, make_user, ctx_for):
    from praxis.platform.context import system_context

    sys_ctx = system_context(org.id, "test")
    prov = setup.create_provider(sys_ctx, first_name="Ada", last_name="Import", npi=NPI, location_ids=[org.loc_a.id])
    setup.create_provider(sys_ctx, first_name="Phx", last_name="Only", npi=NPI_ELSEWHERE, location_ids=[org.loc_b.id])
    people = []
    for first, last, dob in (("Rosa", "Parks", date(1950, 2, 4)), ("Tom", "Hardy", date(1948, 7, 9)),
                             ("Ann", "Lee", date(1960, 1, 1))):
        p = patients.register_patient(sys_ctx, PatientCreate(first_name=first, last_name=last, dob=dob,
                                                             preferred_location_id=org.loc_a.id,
                                                             confirm_duplicate=True), location_id=org.loc_a.id)
        people.append(p)
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    return org, coord, prov, people


def _enrolments_csv(people) -> bytes:
    rosa, _tom, _ann = people
    return (
        "MRN,First Name,Last Name,DOB,Program,NPI,Complexity,Consent Type,Consent Date,Consent By,"
        "Initiating Visit Date,Problems\n"
        f"{rosa.mrn},,,,CCM,{NPI},,verbal,2025-01-10,Nora Reyes,2025-01-05,E11.9;I10\n"
        f",Tom,Hardy,1948-07-09,Complex CCM,{NPI},high,written,2025-01-12,Sam Okafor,2025-01-03,E11.9;N18.3;I50.9\n"
        f"{rosa.mrn},,,,RPM,{NPI},,verbal,2025-01-10,Nora Reyes,2025-01-05,\n"
    ).encode()


TIME_CSV = ("MRN,Date,Time,Minutes,Lane,Activity,Interactive,Author,Program,Note\n"
            "{rosa},2025-05-06,09:00,15,staff,patient call,yes,Nora Reyes,CCM,refills\n"
            "{rosa},2025-05-07,10:00,6,staff,coordination,no,Nora Reyes,CCM,\n"
            "{rosa},2025-05-08,10:00,21,staff,device_review,yes,Nora Reyes,RPM,readings reviewed\n"
            "{tom},2025-05-09,11:00,45,staff,care_plan_revision,no,Sam Okafor,,plan revised\n"
            "{tom},2025-05-10,11:00,20,staff,medication,no,Sam Okafor,,\n")


def test_csv_enrolments_then_time_logs_dry_run_apply_and_rerun(world):
    org, coord, _prov, people = world
    data = _enrolments_csv(people)
    dry = importing.run_care_import(coord, "care_enrolments", data, filename="e.csv", location_code="NYC")
    assert dry.ok and dry.dry_run and not dry.applied and dry.created == 3 and dry.total_rows == 3
    assert _count(org.id, CareEnrolment) == 0 and _count(org.id, CareConsent) == 0  # a dry run writes nothing

    done = importing.run_care_import(coord, "care_enrolments", data, filename="e.csv", location_code="NYC",
                                     dry_run=False)
    assert done.applied and done.created == 3
    assert _count(org.id, CareEnrolment) == 3
    assert _count(org.id, CareConsent) == 2  # one per patient and practitioner (Rosa's CCM and RPM share it)
    with session_scope(org.id) as s:
        tom = s.scalars(select(CareEnrolment).where(CareEnrolment.patient_id == people[1].id)).one()
        assert tom.program == "ccm" and tom.complex and tom.start_date == date(2025, 1, 12)
        assert {p.icd10 for p in s.scalars(select(CareProblem).where(CareProblem.patient_id == people[1].id))} == {
            "E11.9", "N18.3", "I50.9"}
    again = importing.run_care_import(coord, "care_enrolments", data, filename="e.csv", location_code="NYC",
                                      dry_run=False)
    assert again.applied and again.created == 0 and again.already_imported == 3
    assert _count(org.id, CareEnrolment) == 3 and _count(org.id, CareConsent) == 2

    times = TIME_CSV.format(rosa=people[0].mrn, tom=people[1].mrn).encode()
    t = importing.run_care_import(coord, "care_time", times, filename="t.csv", location_code="NYC", dry_run=False)
    assert t.applied and t.created == 5, t.errors
    t2 = importing.run_care_import(coord, "care_time", times, filename="t.csv", location_code="NYC", dry_run=False)
    assert t2.created == 0 and t2.already_imported == 5 and _count(org.id, CareTimeEntry) == 5

    rows = {(r.enrolment.patient_id, r.enrolment.program): r.result for r in closing.billing_preview(coord, "2025-05")}
    assert rows[(people[0].id, "ccm")].codes == {"99490": 1}  # 15 + 6 = 21 minutes
    assert rows[(people[0].id, "rpm")].codes.get("99457") == 1  # 21 interactive minutes
    # Complex and 65 minutes, but the plan revision was logged as an activity in the old system:
    # 99487 needs a care-plan version in Praxis (decision 43), so the month bills ordinary CCM
    # and says why.
    tom_month = rows[(people[1].id, "ccm")]
    assert tom_month.codes == {"99490": 1, "99439": 2}
    assert rules.NO_CARE_PLAN_REVISION in tom_month.reasons


def test_row_errors_name_row_and_column_and_nothing_is_written(world):
    org, coord, _prov, people = world
    rosa = people[0]
    bad = (
        "MRN,First Name,Last Name,DOB,Program,NPI,Complexity,Consent Type,Consent Date,Consent By,"
        "Initiating Visit Date,Problems\n"
        f"{rosa.mrn},,,,CCM,{NPI},,verbal,2025-01-10,Nora,2025-01-05,E11.9;I10\n"  # good
        f"NOPE-1,,,,CCM,{NPI},,verbal,2025-01-10,Nora,2025-01-05,E11.9;I10\n"  # unknown MRN
        f",Nobody,Here,1970-01-01,CCM,{NPI},,verbal,2025-01-10,Nora,2025-01-05,E11.9;I10\n"  # unknown person
        f"{people[1].mrn},,,,BHI,{NPI},,verbal,2025-01-10,Nora,2025-01-05,E11.9;I10\n"  # programme
        f"{people[1].mrn},,,,CCM,1234567890,,verbal,2025-01-10,Nora,2025-01-05,E11.9;I10\n"  # NPI check
        f"{people[1].mrn},,,,CCM,{NPI_ELSEWHERE},,verbal,2025-01-10,Nora,2025-01-05,E11.9;I10\n"  # other location
        f"{people[2].mrn},,,,CCM,{NPI},,shouted,2025-01-10,Nora,2025-01-05,E11.9;I10\n"  # consent type
        f"{people[2].mrn},,,,CCM,{NPI},,verbal,2025-01-10,Nora,2023-01-05,E11.9;I10\n"  # visit too old
        f"{people[1].mrn},,,,PCM,{NPI},,verbal,2025-01-10,Nora,2025-01-05,I10\n"  # PCM needs a high-risk one
        f"{people[2].mrn},,,,CCM,{NPI},,verbal,2025-01-10,,2025-01-05,=HYPERLINK(1)\n"  # formula, no consent by
    ).encode()
    rep = importing.run_care_import(coord, "care_enrolments", bad, filename="e.csv", location_code="NYC",
                                    dry_run=False)
    assert not rep.applied and rep.valid_rows == 1
    got = {(e.row, e.column) for e in rep.errors}
    assert {(3, "MRN"), (4, "Last Name"), (5, "Program"), (6, "NPI"), (7, "NPI"), (8, "Consent Type"),
            (9, "Initiating Visit Date"), (10, "Problems"), (11, "Problems"), (11, "Consent By")} <= got, got
    assert _count(org.id, CareEnrolment) == 0 and _count(org.id, CareProblem) == 0  # all or nothing

    with pytest.raises(ImportFileError):  # a missing required column is a file error
        importing.run_care_import(coord, "care_enrolments", b"MRN,Program\n1,CCM\n", filename="e.csv",
                                  location_code="NYC")
    times = ("MRN,Date,Minutes,Lane,Activity,Author\n"
             f"{rosa.mrn},2025-05-06,15,staff,coordination,Nora\n").encode()  # Rosa has no enrolment yet
    rep = importing.run_care_import(coord, "care_time", times, filename="t.csv", location_code="NYC")
    assert [(e.row, e.column) for e in rep.errors] == [(2, "Date")] and "enrolment" in rep.errors[0].reason


def test_xlsx_workbook_with_two_sheets(world):
    org, coord, _prov, people = world
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Enrolments"
    ws.append(["MRN", "Program", "NPI", "Consent Type", "Consent Date", "Consent By", "Initiating Visit Date",
               "Problems"])
    ws.append([people[2].mrn, "PCM", NPI, "written", date(2025, 2, 1), "Lena Fischer", date(2025, 1, 20), "I10"])
    ws.append([people[0].mrn, "CCM", NPI, "verbal", date(2025, 2, 1), "Lena Fischer", date(2025, 1, 20),
               "E11.9; I10"])
    tl = wb.create_sheet("Time logs")
    tl.append(["MRN", "Date", "Minutes", "Lane", "Activity", "Author", "Note"])
    tl.append([people[0].mrn, date(2025, 5, 6), 12.0, "clinical staff", "coordination", "Lena Fischer", "x"])
    tl.append([people[0].mrn, date(2025, 5, 7), 700, "staff", "coordination", "Lena Fischer", ""])
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    rep = importing.run_care_import(coord, "care_enrolments", data, filename="p.xlsx", location_code="NYC",
                                    dry_run=False)
    # PCM needs a high-risk condition on the problem list: row 2 is refused, so nothing is written.
    assert not rep.applied and [(e.row, e.column) for e in rep.errors] == [(2, "Problems")]
    ws.delete_rows(2)
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    rep = importing.run_care_import(coord, "care_enrolments", data, filename="p.xlsx", location_code="NYC",
                                    dry_run=False)
    assert rep.applied and rep.created == 1
    rep = importing.run_care_import(coord, "care_time", data, filename="p.xlsx", location_code="NYC", dry_run=False)
    assert not rep.applied and [(e.row, e.column) for e in rep.errors] == [(3, "Minutes")]
    tl.delete_rows(3)
    buf = io.BytesIO()
    wb.save(buf)
    rep = importing.run_care_import(coord, "care_time", buf.getvalue(), filename="p.xlsx", location_code="NYC",
                                    dry_run=False)
    assert rep.applied and rep.created == 1 and _count(org.id, CareTimeEntry) == 1


def test_import_over_http_the_screen_and_the_worker(world, login, make_user, app):
    org, _coord, _prov, people = world

    coord_user = make_user(org, "care_coordinator", org.loc_a)
    c = login(coord_user)
    data = _enrolments_csv(people)
    r = c.post("/api/v1/care/imports", data={"location_code": "NYC", "kind": "care_enrolments"},
               files={"file": ("e.csv", data, "text/csv")})
    assert r.status_code == 200 and r.json()["created"] == 3 and not r.json()["applied"], r.text
    r = c.post("/api/v1/care/imports", data={"location_code": "PHX", "kind": "care_enrolments"},
               files={"file": ("e.csv", data, "text/csv")})
    assert r.status_code in (403, 404)  # not a location of this coordinator
    # The worker hand-off: queued, run by the outbox handler, applied once.
    r = c.post("/api/v1/care/imports", data={"location_code": "NYC", "kind": "care_enrolments", "dry_run": "false",
                                             "background": "true"}, files={"file": ("e.csv", data, "text/csv")})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert run_jobs(org, import_jobs.TOPIC, import_jobs.handle_import_job) == 1
    job = c.get(f"/api/v1/care/imports/{job_id}").json()
    assert job["status"] == "done" and job["report"]["created"] == 3, job
    assert _count(org.id, CareEnrolment) == 3
    assert c.get(f"/api/v1/patient-imports/{job_id}").status_code in (403, 404)  # not a patient import job

    page = c.get("/care/import")
    assert page.status_code == 200 and "Import a care programme" in page.text
    csrf = c.headers.get("X-CSRF-Token") or ""
    times = TIME_CSV.format(rosa=people[0].mrn, tom=people[1].mrn).encode()
    checked = c.post("/care/import", data={"kind": "care_time", "location_code": "NYC", "csrf_token": csrf},
                     files={"file": ("t.csv", times, "text/csv")})
    assert checked.status_code == 200 and "Dry run: ready to apply" in checked.text, checked.text[-3000:]
    import re

    token = re.search(r'name="upload" value="([0-9a-f]{32})"', checked.text).group(1)
    applied = c.post("/care/import", data={"kind": "care_time", "location_code": "NYC", "upload": token,
                                           "apply": "1", "csrf_token": csrf})
    assert applied.status_code == 200 and "Imported" in applied.text and _count(org.id, CareTimeEntry) == 5
    assert login(make_user(org, "front_desk", org.loc_a)).get("/care/import").status_code == 403


def test_cli_import_care_dry_run_apply_and_errors(world, tmp_path):
    from typer.testing import CliRunner

    from praxis.cli import app as cli

    org, _coord, _prov, people = world
    f = tmp_path / "programme.csv"
    f.write_bytes(_enrolments_csv(people))
    args = ["import", "care", str(f), "--org", org.slug, "--location", "NYC"]
    dry = CliRunner().invoke(cli, args)
    assert dry.exit_code == 0 and "dry run" in dry.output and "would create 3" in dry.output, dry.output
    assert _count(org.id, CareEnrolment) == 0
    done = CliRunner().invoke(cli, [*args, "--apply"])
    assert done.exit_code == 0 and "created 3" in done.output and _count(org.id, CareEnrolment) == 3
    t = tmp_path / "time.csv"
    t.write_text("MRN,Date,Minutes,Lane,Activity,Author\n"
                 f"{people[0].mrn},2025-05-06,15,robot,coordination,Nora\n")
    bad = CliRunner().invoke(cli, ["import", "care", str(t), "--org", org.slug, "--location", "NYC", "--kind", "time",
                                   "--apply"])
    assert bad.exit_code == 1 and "row 2, column 'Lane'" in bad.output and _count(org.id, CareTimeEntry) == 0

"""MRN allocation is never stuck: the seed and the importer advance the counter, and a counter
value already taken moves past every taken number at once and keeps that position (issue 13)."""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import insert, select

from praxis.patients import importer
from praxis.patients.models import MrnCounter, Patient
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.platform.ids import new_id
from praxis.seed import generate
from tests.integration.patients.helpers import register


def _counter(org_id):
    with session_scope(org_id) as s:
        return s.scalar(select(MrnCounter.last_value).where(MrnCounter.org_id == org_id))


def _raw_patients(db, org_id, mrns):
    """Patients written as a seed or a migration would: MRNs of the sequence, counter untouched."""
    with db.begin() as conn:
        conn.execute(insert(Patient.__table__), [
            {"org_id": org_id, "id": new_id(), "mrn": m, "first_name": "Raw", "last_name": f"Row{i}",
             "dob": date(1970, 1, 1)} for i, m in enumerate(mrns)])


def test_a_taken_counter_value_moves_past_every_taken_number_and_is_kept(db, org):
    _raw_patients(db, org.id, [f"{i:08d}" for i in range(1, 151)])  # more than the old 100 attempts
    ctx = system_context(org.id)
    first = register(ctx, "Ana", "Moves", location_id=org.loc_a.id)
    assert first.mrn == "00000151"
    assert _counter(org.id) == 151  # the jump is committed with the patient, not rolled back
    assert register(ctx, "Bo", "Next", location_id=org.loc_a.id).mrn == "00000152"


def test_a_gap_in_the_taken_numbers_is_used_after_the_counter(db, org):
    _raw_patients(db, org.id, ["00000001", "00000002", "00000004"])
    ctx = system_context(org.id)
    assert register(ctx, "Ana", "Gap", location_id=org.loc_a.id).mrn == "00000003"
    assert register(ctx, "Bo", "Gap", location_id=org.loc_a.id).mrn == "00000005"


def test_import_skipping_a_taken_value_advances_the_counter_past_what_it_used(db, org):
    _raw_patients(db, org.id, ["00000002"])
    ctx = system_context(org.id)
    csv = "First Name,Last Name,DOB\n" + "".join(f"Imp,Person{i},1980-01-{i + 1:02d}\n" for i in range(3))
    report = importer.run_import(ctx, "patients", csv.encode(), filename="p.csv", location_code="NYC",
                                 dry_run=False)
    assert report.created == 3
    with session_scope(org.id) as s:
        mrns = sorted(s.scalars(select(Patient.mrn).where(Patient.first_name == "Imp")))
    assert mrns == ["00000001", "00000003", "00000004"]
    assert _counter(org.id) == 4
    assert register(ctx, "After", "Import", location_id=org.loc_a.id).mrn == "00000005"


def test_registration_after_an_import_of_1000_patients(org):
    ctx = system_context(org.id)
    rows = "".join(f"Bulk,Person{i},{1930 + i % 80}-{1 + i % 12:02d}-{1 + i % 28:02d}\n" for i in range(1000))
    report = importer.run_import(ctx, "patients", ("First Name,Last Name,DOB\n" + rows).encode(),
                                 filename="p.csv", location_code="NYC", dry_run=False)
    assert report.created == 1000 and not report.errors
    assert register(ctx, "After", "Thousand", location_id=org.loc_a.id).mrn == "00001001"


def test_registration_after_seed_small(db):
    info = generate(db, "small", 3, slug=f"seed-small-{secrets.token_hex(4)}")
    from praxis.identity.service import seed_builtin_roles

    seed_builtin_roles(info["org_id"])
    assert _counter(info["org_id"]) == info["patients"] == 2000
    ctx = system_context(info["org_id"])
    p = register(ctx, "Seeded", "Newcomer", location_id=info["flagship_id"])
    assert p.mrn == "00002001"

"""`update_patients_in` (set-based, an HL7 batch's path) writes what `update_patient_in` writes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from praxis.patients import service
from praxis.patients.merge import merge_patients
from praxis.patients.models import Patient
from praxis.patients.schemas import PatientCreate, PatientUpdate
from praxis.platform.audit import AuditRecord
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.platform.errors import NotFound
from praxis.platform.outbox import OutboxMessage
from praxis.platform.uow import unit_of_work
from tests.sqlcount import statements

_SKIP = {"id", "org_id", "mrn", "created_at", "updated_at", "merged_into_id"}


def _register(org: Any) -> list[uuid.UUID]:
    """Four patients; the fourth merged into the third (a change to it goes to the survivor)."""
    ctx = system_context(org.id, "test")
    with unit_of_work(ctx) as session:
        ids = [service.register_patient_in(session, ctx, PatientCreate(**d, confirm_duplicate=True),
                                           location_id=org.loc_a.id).id
               for d in ({"first_name": "Ana", "last_name": "García", "dob": date(1980, 5, 6), "ssn": "123-45-6789",
                          "city": "Springfield", "phone_mobile": "(212) 555-0101"},
                         {"first_name": "Bo", "last_name": "Lee", "dob": date(1990, 1, 1)},
                         {"first_name": "Cy", "last_name": "Ode", "dob": date(1970, 2, 3)},
                         {"first_name": "Cyrus", "last_name": "Ode", "dob": date(1970, 2, 3)})]
    merge_patients(ctx, ids[2], ids[3], "test")
    return ids


def _updates(ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, PatientUpdate, dict[str, Any]]]:
    return [
        # A name change (the normalised columns follow), the SSN (encrypted, blind index, last 4).
        (ids[0], PatientUpdate(last_name="Núñez-García", ssn="234-56-7890"), {"via": "hl7", "event": "A08"}),
        # The same patient again: sees the first change; a null does not clear (HL7's "not sent").
        (ids[0], PatientUpdate(city="Shelbyville", phone_mobile=None), {"via": "hl7", "event": "A31"}),
        # Nothing changes: audited with no fields, no event, no UPDATE.
        (ids[1], PatientUpdate(first_name="Bo"), {"via": "hl7", "event": "A08"}),
        # The merged record: the survivor changes.
        (ids[3], PatientUpdate(address_line1="1 Main St", guarantor={"relationship": "self"}),
         {"via": "hl7", "event": "A08"}),
    ]


def _stored(org_id: Any, ids: list[uuid.UUID]) -> dict[str, Any]:
    with session_scope(org_id) as s:
        patients = {p.id: p for p in s.scalars(select(Patient).where(Patient.org_id == org_id))}
        rows = [{c.key: getattr(patients[i], c.key) for c in Patient.__table__.columns if c.key not in _SKIP}
                for i in ids]
        stamps = [patients[i].updated_at for i in ids]
        audits = [(ids.index(r.patient_id), r.detail, r.actor_name, r.location_id)
                  for r in s.scalars(select(AuditRecord).where(AuditRecord.org_id == org_id,
                                                               AuditRecord.action == "patient.update")
                                     .order_by(AuditRecord.created_at, AuditRecord.id))]
        events = sorted((ids.index(uuid.UUID(m.payload["patient_id"])), tuple(m.payload["fields"]),
                         m.payload["origin"])
                        for m in s.scalars(select(OutboxMessage).where(OutboxMessage.org_id == org_id,
                                                                       OutboxMessage.topic == "patient.updated")))
    return {"rows": rows, "stamps": stamps, "audits": sorted(audits, key=lambda a: (a[0], str(a[1]))),
            "events": events}


def test_set_based_updates_write_the_same_rows(make_org: Any) -> None:
    one, many = make_org("One at a time"), make_org("Set based")
    ids1, ids2 = _register(one), _register(many)
    then1, then2 = _stored(one.id, ids1)["stamps"], _stored(many.id, ids2)["stamps"]
    ctx1, ctx2 = system_context(one.id, "hl7:EHR|MAIN"), system_context(many.id, "hl7:EHR|MAIN")
    with unit_of_work(ctx1) as session:
        written1 = [service.update_patient_in(session, ctx1, pid, data, detail=detail).id
                    for pid, data, detail in _updates(ids1)]
    with unit_of_work(ctx2) as session:
        results = service.update_patients_in(session, ctx2, _updates(ids2))
    assert [ids1.index(i) for i in written1] == [ids2.index(r.patient_id) for r in results] == [0, 0, 1, 2]
    a, b = _stored(one.id, ids1), _stored(many.id, ids2)
    assert a["rows"] == b["rows"]  # decrypted SSN, blind index, last 4, norms, JSON, the survivor's address
    assert b["rows"][0]["last_name_norm"] == "nunez garcia" and b["rows"][0]["ssn_encrypted"] == "234567890"
    assert b["rows"][0]["city"] == "Shelbyville" and b["rows"][0]["phone_mobile"] == "+12125550101"
    assert b["rows"][2]["address_line1"] == "1 Main St" and b["rows"][3]["address_line1"] == ""
    # updated_at moves where something changed, and only there.
    moved1 = [now > then for now, then in zip(a["stamps"], then1, strict=True)]
    moved2 = [now > then for now, then in zip(b["stamps"], then2, strict=True)]
    assert moved1 == moved2 == [True, False, True, False]
    assert a["audits"] == b["audits"] and len(b["audits"]) == 4
    assert [x[1]["fields"] for x in b["audits"]] == [["last_name", "ssn"], ["city"], [],
                                                     ["address_line1", "guarantor"]]
    assert a["events"] == b["events"] == [(0, ("city",), "hl7:EHR|MAIN"), (0, ("last_name", "ssn"), "hl7:EHR|MAIN"),
                                          (2, ("address_line1", "guarantor"), "hl7:EHR|MAIN")]


def test_a_missing_patient_is_refused_and_the_others_written(org: Any) -> None:
    ids = _register(org)
    ctx = system_context(org.id, "test")
    with unit_of_work(ctx) as session:
        results = service.update_patients_in(session, ctx, [
            (uuid.uuid4(), PatientUpdate(city="Nowhere"), {}),
            (ids[1], PatientUpdate(city="Somewhere"), {}),
        ])
    assert isinstance(results[0].problem, NotFound) and results[0].patient_id is None
    assert results[1].patient_id == ids[1]
    with session_scope(org.id) as s:
        assert s.scalar(select(Patient.city).where(Patient.id == ids[1])) == "Somewhere"
        assert s.scalar(select(Patient.id).where(Patient.city == "Nowhere")) is None


def test_another_organisations_patient_is_not_found(make_org: Any) -> None:
    mine, theirs = make_org("Mine"), make_org("Theirs")
    their_ids = _register(theirs)
    ctx = system_context(mine.id, "test")
    with unit_of_work(ctx) as session:
        results = service.update_patients_in(session, ctx, [(their_ids[0], PatientUpdate(city="Taken"), {})])
    assert results[0].patient_id is None
    with session_scope(theirs.id) as s:
        assert s.scalar(select(Patient.city).where(Patient.id == their_ids[0])) == "Springfield"


@pytest.mark.parametrize("count", [1, 3])
def test_one_update_statement_per_set_of_changed_columns(org: Any, count: int) -> None:
    """No statement per change: one read, one UPDATE per set of changed columns."""
    ids = _register(org)
    ctx = system_context(org.id, "test")
    with unit_of_work(ctx) as session, statements() as seen:
        service.update_patients_in(session, ctx, [(ids[0], PatientUpdate(city=f"C{i}"), {}) for i in range(count)]
                                   + [(ids[1], PatientUpdate(city=f"D{i}"), {}) for i in range(count)])
    assert len([s for s in seen if s.startswith("UPDATE patients")]) == 1
    assert len([s for s in seen if s.startswith("SELECT") and "FROM patients" in s]) == 1

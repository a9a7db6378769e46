"""`register_patients_in` (set-based, an HL7 batch's path) writes what `register_patient_in` writes."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from praxis.patients import service
from praxis.patients.models import Patient, PatientLocation
from praxis.patients.schemas import PatientCreate
from praxis.platform.audit import AuditRecord
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.platform.outbox import OutboxMessage
from praxis.platform.uow import unit_of_work

_SKIP = {"id", "org_id", "created_at", "updated_at", "preferred_location_id"}


def _drafts(org: Any) -> list[PatientCreate]:
    return [
        PatientCreate(first_name="Ana", last_name="García", dob=date(1980, 5, 6), ssn="123-45-6789",
                      phone_mobile="(212) 555-0101", city="Springfield", confirm_duplicate=True),
        # Same name and DOB as the first (a duplicate of a patient registered earlier in the list).
        PatientCreate(first_name="ana", last_name="GARCIA", dob=date(1980, 5, 6), confirm_duplicate=True),
        # Same phone as the first; a preferred location other than the registering one.
        PatientCreate(first_name="Bo", last_name="Lee", dob=date(1990, 1, 1), phone_home="212-555-0101",
                      preferred_location_id=org.loc_b.id, confirm_duplicate=True),
        # Same SSN as the first: found through the blind index.
        PatientCreate(first_name="Cy", last_name="Ode", dob=date(1970, 2, 3), ssn="123456789",
                      middle_name="Q", confirm_duplicate=True),
    ]


def _stored(org_id: Any) -> dict[str, Any]:
    with session_scope(org_id) as s:
        patients = list(s.scalars(select(Patient).where(Patient.org_id == org_id).order_by(Patient.mrn)))
        rows = [{c.key: getattr(p, c.key) for c in Patient.__table__.columns if c.key not in _SKIP}
                for p in patients]
        ids = [p.id for p in patients]
        links = sorted((ids.index(pid), loc) for pid, loc in s.execute(
            select(PatientLocation.patient_id, PatientLocation.location_id).where(PatientLocation.org_id == org_id)))
        audits = sorted((ids.index(r.patient_id), r.action, len((r.detail or {}).get("duplicate_confirmed", [])),
                         r.location_id, r.actor_name)
                        for r in s.scalars(select(AuditRecord).where(AuditRecord.org_id == org_id,
                                                                     AuditRecord.action == "patient.create")))
        events = sorted(str(ids.index(__import__("uuid").UUID(m.payload["patient_id"]))) + m.topic
                        + m.payload["origin"]
                        for m in s.scalars(select(OutboxMessage).where(OutboxMessage.org_id == org_id,
                                                                       OutboxMessage.topic == "patient.registered")))
        return {"rows": rows, "links": links, "audits": audits, "events": events, "ids": ids}


def test_set_based_registration_writes_the_same_rows(make_org: Any) -> None:
    one, many = make_org("One at a time"), make_org("Set based")
    ctx1, ctx2 = system_context(one.id, "hl7:test"), system_context(many.id, "hl7:test")
    with unit_of_work(ctx1) as session:
        for draft in _drafts(one):
            service.register_patient_in(session, ctx1, draft, location_id=one.loc_a.id)
    with unit_of_work(ctx2) as session:
        results = service.register_patients_in(session, ctx2, _drafts(many), location_id=many.loc_a.id)
    assert [r.mrn for r in results] == ["00000001", "00000002", "00000003", "00000004"]
    a, b = _stored(one.id), _stored(many.id)
    assert [r.patient_id for r in results] == b["ids"]
    assert len(a["rows"]) == 4 and a["rows"] == b["rows"]  # decrypted SSN, blind index, norms, defaults
    assert b["rows"][0]["ssn_encrypted"] == "123456789" and b["rows"][0]["phone_mobile"] == "+12125550101"

    def norm(links: list[Any], org: Any) -> list[Any]:
        return [(i, {org.loc_a.id: "a", org.loc_b.id: "b"}[loc]) for i, loc in links]

    assert norm(a["links"], one) == norm(b["links"], many) == [(0, "a"), (1, "a"), (2, "a"), (2, "b"), (3, "a")]

    def where(audits: list[Any], org: Any) -> list[Any]:
        return [(i, act, dups, {org.loc_a.id: "a"}[loc], actor) for i, act, dups, loc, actor in audits]

    # The duplicates flagged: 2nd (the 1st by name and DOB), 3rd (phone), 4th (SSN).
    assert where(a["audits"], one) == where(b["audits"], many)
    assert [x[2] for x in b["audits"]] == [0, 1, 1, 1]
    assert a["events"] == b["events"] and len(b["events"]) == 4
    assert all(e.endswith("patient.registeredhl7:test") for e in b["events"])  # the origin travels too
    # The blind index finds the set-based rows as it finds the others.
    with unit_of_work(ctx2) as session:
        check = service.find_duplicate_candidates(session, ctx2, service.DuplicateProbe(
            first_name="Zed", last_name="Nobody", dob=None, ssn="123-45-6789"))
    assert {c.id for c in check.candidates} == {b["ids"][0], b["ids"][3]}


def test_set_based_registration_refuses_unconfirmed_duplicates_like_the_form(org: Any) -> None:
    ctx = system_context(org.id, "test")
    with unit_of_work(ctx) as session:
        first = service.register_patient_in(session, ctx, PatientCreate(first_name="José", last_name="Núñez",
                                            dob=date(1975, 3, 4)), location_id=org.loc_a.id)
    with unit_of_work(ctx) as session:
        results = service.register_patients_in(session, ctx, [
            PatientCreate(first_name="Jose", last_name="NUNEZ", dob=date(1975, 3, 4)),
            PatientCreate(first_name="Una", last_name="Other", dob=date(1975, 3, 4)),
        ], location_id=org.loc_a.id)
    assert results[0].patient_id is None and results[0].duplicates is not None
    assert [c.id for c in results[0].duplicates.candidates] == [first.id]
    assert results[1].patient_id is not None
    with session_scope(org.id) as s:
        assert s.scalar(select(AuditRecord.patient_id).where(
            AuditRecord.action == "patient.duplicate_candidate")) == first.id
        assert len(list(s.scalars(select(Patient.id)))) == 2

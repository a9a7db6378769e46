"""Registry on a real database: registration, MRN, duplicates, search, scope, audit, coverage."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from sqlalchemy import String, func, select, type_coerce

from praxis.patients import coverage, service
from praxis.patients.models import Patient
from praxis.patients.schemas import CoverageIn, PatientCreate, PatientUpdate
from praxis.platform import audit
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.practice.models import Organisation
from tests.integration.patients.helpers import cover, payer, register, user_ctx


def _count(org_id):
    with session_scope(org_id) as s:
        return s.scalar(select(func.count()).select_from(Patient))


def test_register_assigns_sequential_mrn_and_links_location(org):
    ctx = system_context(org.id)
    a = register(ctx, "Ana", "García", location_id=org.loc_a.id, phone_mobile="(212) 555-0101")
    b = register(ctx, "Bo", "Lee", date(1990, 1, 1), location_id=org.loc_b.id)
    assert a.mrn == "00000001" and b.mrn == "00000002"
    assert a.phone_mobile == "+12125550101"
    assert a.location_ids == [org.loc_a.id]
    with session_scope(org.id) as s:
        rows = audit.list_records(s, patient_id=a.id)
    assert [r.action for r in rows] == ["patient.create"]


def test_mrn_format_comes_from_org_settings(make_org):
    org = make_org("Formatted", mrn_format={"prefix": "P-", "width": 5})
    p = register(system_context(org.id), location_id=org.loc_a.id)
    assert p.mrn == "P-00001"


def test_bad_input_is_refused_by_schema():
    with pytest.raises(ValidationError) as exc:
        PatientCreate(first_name="A", last_name="B", dob="2999-01-01", phone_mobile="555", email="not-an-email")
    fields = {e["loc"][0] for e in exc.value.errors()}
    assert {"dob", "phone_mobile", "email"} <= fields


def test_duplicate_warning_requires_confirmation(org):
    ctx = system_context(org.id)
    first = register(ctx, "José", "Núñez", date(1975, 3, 4), location_id=org.loc_a.id)
    before = _count(org.id)
    data = PatientCreate(first_name="Jose", last_name="NUNEZ", dob=date(1975, 3, 4))
    with pytest.raises(service.PossibleDuplicates) as exc:
        service.register_patient(ctx, data, location_id=org.loc_a.id)
    assert exc.value.status == 409
    assert exc.value.check.candidates[0].id == first.id
    assert "similar name and same date of birth" in exc.value.check.candidates[0].reasons
    assert _count(org.id) == before  # nothing created
    confirmed = service.register_patient(ctx, data.model_copy(update={"confirm_duplicate": True}),
                                         location_id=org.loc_a.id)
    assert confirmed.id != first.id


def test_duplicate_candidates_shown_in_a_409_are_audited(org):
    ctx = system_context(org.id)
    first = register(ctx, "Rosa", "Quintero", date(1968, 7, 8), location_id=org.loc_a.id)
    second = register(ctx, "Rosa", "Quintero", date(1968, 7, 8), location_id=org.loc_b.id)
    with pytest.raises(service.PossibleDuplicates) as exc:
        service.register_patient(ctx, PatientCreate(first_name="Rosa", last_name="Quintero", dob=date(1968, 7, 8)),
                                 location_id=org.loc_a.id)
    assert {c.id for c in exc.value.check.candidates} == {first.id, second.id}
    with session_scope(org.id) as s:
        for p in (first, second):
            rows = [r for r in audit.list_records(s, patient_id=p.id) if r.action == "patient.duplicate_candidate"]
            assert [(r.resource_type, r.resource_id) for r in rows] == [("patient", str(p.id))]
        created = s.scalars(select(func.count()).select_from(Patient).where(Patient.last_name == "Quintero")).one()
    assert created == 2  # the refused registration wrote nothing else


def test_duplicate_by_phone_and_member_id(org):
    ctx = system_context(org.id)
    p = register(ctx, "Kim", "Park", location_id=org.loc_a.id, phone_mobile="212-555-0199")
    py = payer(ctx, "PHONEDUP")
    cover(ctx, p.id, py.id, member_id="ZX-99 881")
    check = service.find_duplicate_candidates
    with session_scope(org.id) as s:
        res = check(s, ctx, service.DuplicateProbe("Other", "Person", date(2000, 1, 1), phones=["+12125550199"],
                                                   member_ids=["zx99881"]))
    assert res.candidates[0].id == p.id
    assert set(res.candidates[0].reasons) == {"same phone number", "same insurance member id"}


def test_search_by_name_accent_and_case_insensitive(org):
    ctx = system_context(org.id)
    p = register(ctx, "Zoë", "Ólafsdóttir", date(1999, 9, 9), location_id=org.loc_a.id)
    for q in ("olaf", "OLAFSDOTTIR", "ólafs, zo", "zoe olaf"):
        assert [r.id for r in service.find_patients(ctx, q=q)] == [p.id], q
    assert [r.id for r in service.find_patients(ctx, last="olafsd", first="zo")] == [p.id]
    assert service.find_patients(ctx, q="olafx") == []
    assert service.find_patients(ctx, q="%") == []  # wildcards are not patterns


def test_search_by_dob_phone_mrn_member_id(org):
    ctx = system_context(org.id)
    p = register(ctx, "Ivy", "Stone", date(1961, 12, 24), location_id=org.loc_a.id, phone_home="+1 602 555 0142")
    py = payer(ctx, "MEMBERSRCH")
    cover(ctx, p.id, py.id, member_id="abc 777 123")
    assert p.id in [r.id for r in service.find_patients(ctx, q="12/24/1961")]
    assert [r.id for r in service.find_patients(ctx, phone="(602) 555-0142")] == [p.id]
    assert [r.id for r in service.find_patients(ctx, q=p.mrn)] == [p.id]
    assert [r.id for r in service.find_patients(ctx, member_id="ABC777123")] == [p.id]
    assert [r.id for r in service.find_patients(ctx, q="6025550142")] == [p.id]
    with pytest.raises(ValidationProblem):
        service.find_patients(ctx, phone="12")


def test_every_search_result_and_read_is_audited(org):
    ctx = system_context(org.id)
    p = register(ctx, "Audit", "Trail", location_id=org.loc_a.id)
    service.find_patients(ctx, q="trail")
    service.get_patient(ctx, p.id)
    with session_scope(org.id) as s:
        actions = [r.action for r in audit.list_records(s, patient_id=p.id)]
    assert "patient.search_result" in actions and "patient.read" in actions


def test_each_search_result_gets_exactly_one_audit_row(org):
    ctx = system_context(org.id)
    a = register(ctx, "Ada", "Manyresults", location_id=org.loc_a.id)
    b = register(ctx, "Bob", "Manyresults", location_id=org.loc_a.id)
    assert {r.id for r in service.find_patients(ctx, q="manyresults")} == {a.id, b.id}
    with session_scope(org.id) as s:
        for p in (a, b):
            rows = [r for r in audit.list_records(s, patient_id=p.id) if r.action == "patient.search_result"]
            assert [(r.resource_type, r.resource_id, r.actor_type) for r in rows] == [
                ("patient", str(p.id), ctx.actor_type)]


def _restrict(org_id):
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        o = s.get(Organisation, org_id)
        o.settings = {**(o.settings or {}), "restrict_patient_search_to_locations": True}


def test_location_scope_restricts_search_and_access(org, make_user):
    admin = system_context(org.id)
    at_b = register(admin, "Bea", "Phoenix", location_id=org.loc_b.id)
    desk_a = user_ctx(make_user, org, "front_desk", org.loc_a)
    # Default: the whole organisation is searchable.
    assert [r.id for r in service.find_patients(desk_a, q="phoenix")] == [at_b.id]
    _restrict(org.id)
    assert service.find_patients(desk_a, q="phoenix") == []
    with pytest.raises(NotFound):
        service.get_patient(desk_a, at_b.id)
    with pytest.raises(NotFound):
        coverage.list_coverages(desk_a, at_b.id)
    # An org-wide user still sees everyone.
    assert [r.id for r in service.find_patients(admin, q="phoenix")] == [at_b.id]
    # Once the patient is seen at A (location-bound work), A's desk finds them.
    service.touch(admin, at_b.id, org.loc_a.id)
    assert [r.id for r in service.find_patients(desk_a, q="phoenix")] == [at_b.id]


def test_other_org_patient_is_not_found(org, other_org):
    p = register(system_context(org.id), location_id=org.loc_a.id)
    with pytest.raises(NotFound):
        service.get_patient(system_context(other_org.id), p.id)


def test_update_and_ssn_blind_index(org):
    ctx = system_context(org.id)
    p = register(ctx, "Sam", "Secret", location_id=org.loc_a.id)
    out = service.update_patient(ctx, p.id, PatientUpdate(ssn="123-45-6789", preferred_name="Sammy"))
    assert out.ssn_last4 == "6789" and out.preferred_name == "Sammy"
    with session_scope(org.id) as s:
        row = s.scalars(select(Patient).where(Patient.id == p.id)).one()
        assert row.ssn_encrypted == "123456789"
        t = Patient.__table__
        raw = s.execute(select(type_coerce(t.c.ssn_encrypted, String))
                        .where(t.c.org_id == org.id, t.c.id == p.id)).scalar()
    assert raw.startswith("v1:") and "123456789" not in raw
    with session_scope(org.id) as s:
        res = service.find_duplicate_candidates(s, ctx, service.DuplicateProbe("X", "Y", None, ssn="123456789"))
    assert res.candidates[0].id == p.id


def test_coverage_order_unique_among_active(org):
    ctx = system_context(org.id)
    p = register(ctx, location_id=org.loc_a.id)
    py = payer(ctx, "ORDER1")
    c1 = cover(ctx, p.id, py.id, "M1", 1)
    with pytest.raises(Conflict):
        cover(ctx, p.id, py.id, "M2", 1)
    coverage.end_coverage(ctx, c1.id)
    c2 = cover(ctx, p.id, py.id, "M2", 1)
    assert c2.priority == 1
    with pytest.raises(ValidationProblem):
        coverage.add_coverage(ctx, p.id, CoverageIn(payer_id=p.id, member_id="X"))  # unknown payer


def test_payer_code_unique(org):
    ctx = system_context(org.id)
    payer(ctx, "DUPPAYER")
    with pytest.raises(Conflict):
        payer(ctx, "duppayer")

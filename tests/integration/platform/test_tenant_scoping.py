"""Tenant scoping of Core statements and system sessions, on the real database (both engines).

The suite runs with PRAXIS_CHECK_TENANT_SCOPE=true (tests/conftest.py), as `make run` does.
"""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, delete, select, text, update

from praxis.patients.models import Patient
from praxis.platform import audit
from praxis.platform.context import system_context
from praxis.platform.db import get_engine, make_engine, new_session, session_scope
from praxis.platform.errors import TenantScopeError
from praxis.platform.hotsql import HotStatement
from praxis.platform.scoping import cross_org
from praxis.platform.settings import get_settings

from ..patients.helpers import register

P = Patient.__table__


def test_a_core_select_without_the_org_condition_is_refused(org):
    register(system_context(org.id), location_id=org.loc_a.id)
    with get_engine().connect() as conn, pytest.raises(TenantScopeError, match="patients without an org_id"):
        conn.execute(select(P.c.id, P.c.last_name))


def test_a_core_select_through_an_org_session_is_checked_too(org):
    # The session hook scopes ORM entities; a Core select on the table is held to the Core rule.
    with session_scope(org.id) as s, pytest.raises(TenantScopeError):
        s.execute(select(P.c.id))


def test_update_and_delete_without_the_org_condition_are_refused(org):
    with get_engine().begin() as conn:
        with pytest.raises(TenantScopeError):
            conn.execute(update(P).where(P.c.last_name == "x").values(first_name="y"))
        with pytest.raises(TenantScopeError):
            conn.execute(delete(P).where(P.c.id == bindparam("id")), {"id": org.id})
        with pytest.raises(TenantScopeError):
            conn.execute(text("UPDATE patients SET first_name = 'y' WHERE last_name = 'x'"))


def test_scoped_and_opted_out_statements_run(org, other_org):
    mine = register(system_context(org.id), "Mine", location_id=org.loc_a.id)
    theirs = register(system_context(other_org.id), "Theirs", location_id=other_org.loc_a.id)
    with get_engine().connect() as conn:
        scoped = conn.execute(select(P.c.id).where(P.c.org_id == org.id)).scalars().all()
        assert scoped == [mine.id]
        every = conn.execute(cross_org(select(P.c.id), "test: a report across organisations")).scalars().all()
        assert {mine.id, theirs.id} <= set(every)
    with session_scope(org.id) as s:  # ORM: the session hook adds the organisation
        assert [p.id for p in s.scalars(select(Patient))] == [mine.id]


def test_a_hot_statement_is_checked_when_it_is_built(org):
    with pytest.raises(TenantScopeError, match="patients without an org_id"):
        HotStatement(select(P.c.id).where(P.c.last_name == bindparam("last")))
    mine = register(system_context(org.id), "Hot", "Path", location_id=org.loc_a.id)
    scoped = HotStatement(select(P.c.id).where(P.c.org_id == bindparam("org"), P.c.last_name == bindparam("last")))
    crossing = HotStatement(select(P.c.id).where(P.c.last_name == bindparam("last")),
                            cross_org="test: a lookup before the organisation is known")
    with get_engine().connect() as conn:
        assert [r.id for r in scoped.rows(conn, {"org": org.id, "last": "Path"})] == [mine.id]
        assert mine.id in [r.id for r in crossing.rows(conn, {"last": "Path"})]


def test_a_system_session_must_state_its_reason():
    with pytest.raises(TenantScopeError, match="state its reason"), session_scope(None, system=True):
        pass
    with pytest.raises(TenantScopeError, match="state its reason"):
        new_session(None, system=True, reason="  ")


def test_a_system_session_reading_patients_is_audited_with_its_reason(org, other_org):
    a = register(system_context(org.id), "Audit", "Me", location_id=org.loc_a.id)
    b = register(system_context(other_org.id), "Audit", "Me", location_id=other_org.loc_a.id)
    reason = "test: duplicate check across the group"
    with session_scope(None, system=True, reason=reason) as s:
        found = s.scalars(select(Patient).where(Patient.last_name == "Me", Patient.id.in_([a.id, b.id]))).all()
        assert {p.id for p in found} == {a.id, b.id}
    for o in (org, other_org):
        with session_scope(o.id) as s:
            rows = s.scalars(select(audit.AuditRecord).where(audit.AuditRecord.action == "system.read")).all()
        assert [(r.reason, r.resource_type, r.detail, r.actor_type) for r in rows] == [
            (reason, "patients", {"rows": 1}, "system")]


def test_a_system_read_of_patients_must_show_the_organisation(org):
    register(system_context(org.id), "No", "Org", location_id=org.loc_a.id)
    with pytest.raises(TenantScopeError, match="must select org_id"), \
            session_scope(None, system=True, reason="test: names only") as s:
        s.execute(select(Patient.first_name).where(Patient.last_name == "Org")).all()
    with session_scope(None, system=True, reason="test: names with their organisation") as s:
        assert s.execute(select(Patient.org_id, Patient.first_name).where(Patient.last_name == "Org")).all()


def test_the_core_check_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "check_tenant_scope", False)
    engine = make_engine(f"sqlite:///{tmp_path / 'off.db'}")
    try:
        with engine.begin() as conn:
            P.create(conn)  # the FK to organisations is not enforced without the table: PRAGMA only
            assert conn.execute(select(P.c.id)).all() == []
    finally:
        engine.dispose()
    monkeypatch.setattr(get_settings(), "check_tenant_scope", True)
    engine = make_engine(f"sqlite:///{tmp_path / 'on.db'}")
    try:
        with engine.begin() as conn:
            P.create(conn)
            with pytest.raises(TenantScopeError):
                conn.execute(select(P.c.id))
    finally:
        engine.dispose()

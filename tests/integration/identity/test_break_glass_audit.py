"""Break-glass widens scope for a while and is audited as such; the audit chain detects tampering."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from praxis.cli import app as cli
from praxis.identity import service
from praxis.platform import audit, clock
from praxis.platform.context import system_context
from praxis.platform.db import get_engine
from tests.integration.identity.helpers import fix_session_cookie, member_ctx
from tests.integration.patients.helpers import register

# Direct table statements, bypassing the ORM, as someone with database access would tamper.
T = audit.AuditRecord.__table__


@pytest.fixture
def login(login):
    return lambda u: fix_session_cookie(login(u))


def test_break_glass_widens_scope_expires_and_is_audited(org, make_user, login):
    prov = make_user(org, "provider", org.loc_a)
    c = login(prov)
    a2 = f"/api/v1/locations/{org.loc_b.id}"
    assert c.get(a2).status_code == 404
    short = c.post("/api/v1/break-glass", json={"reason": "urgent"})
    assert short.status_code == 422 and short.json()["field"] == "reason"
    reason = "Covering Phoenix: patient arrived unscheduled"
    r = c.post("/api/v1/break-glass", json={"reason": reason, "location_id": str(org.loc_b.id), "minutes": 10})
    assert r.status_code == 201
    assert c.get(a2).status_code == 200
    me = c.get("/api/v1/me").json()
    assert me["break_glass_until"] is not None
    # Audited with its reason, flagged as break-glass; later actions carry the flag too.
    admin = member_ctx(make_user(org, "org_admin"))
    opened = service.list_audit(admin, actor_id=prov.user_id, break_glass=True)
    assert any(x.action == "break_glass_open" and x.reason == reason and x.break_glass for x in opened)
    # And it waits for review.
    assert [e.reason for e in service.list_break_glass_views(admin)] == [reason]
    clock.advance(timedelta(minutes=8))
    assert c.get(a2).status_code == 200
    clock.advance(timedelta(minutes=3))  # past the 10 minutes, within the session's idle limit
    assert c.get(a2).status_code == 404
    assert c.get("/api/v1/me").json()["break_glass_until"] is None


def test_actions_under_break_glass_are_flagged(make_org, make_user, login):
    # Patients are seen per location only when the organisation restricts search to locations.
    org = make_org("Restricted Clinics", restrict_patient_search_to_locations=True)
    lm = make_user(org, "location_manager", org.loc_a)
    far = register(system_context(org.id, "test"), location_id=org.loc_b.id)
    c = login(lm)
    assert c.get(f"/api/v1/patients/{far.id}").status_code == 404
    reason = "Phoenix manager out sick; covering the front desk"
    assert c.post("/api/v1/break-glass", json={"reason": reason}).status_code == 201
    assert c.get(f"/api/v1/patients/{far.id}").status_code == 200
    rows = service.list_audit(member_ctx(make_user(org, "org_admin")), actor_id=lm.user_id)
    read = next(x for x in rows if x.action == "patient.read" and x.resource_id == str(far.id))
    assert read.break_glass and read.reason == reason


def test_break_glass_needs_the_permission(org, make_user, login):
    c = login(make_user(org, "front_desk", org.loc_a))
    assert c.post("/api/v1/break-glass", json={"reason": "I would like to see more"}).status_code == 403


def _verify(org):
    return CliRunner().invoke(cli, ["audit", "verify", "--org", org.slug])


def _sealed_rows(org, make_user, login):
    admin = make_user(org, "org_admin")
    c = login(admin)
    for m in (make_user(org, "front_desk", org.loc_a) for _ in range(3)):
        assert c.get(f"/api/v1/users/{m.membership_id}").status_code == 200
    audit.seal_pending(org.id)
    with get_engine().connect() as conn:
        return conn.execute(select(T.c.id, T.c.seq).where(T.c.org_id == org.id).order_by(T.c.seq)).all()


def test_audit_verify_passes_then_names_an_edited_row(org, make_user, login):
    rows = _sealed_rows(org, make_user, login)
    ok = _verify(org)
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    victim = rows[1]
    with get_engine().begin() as conn:
        conn.execute(update(T).where(T.c.org_id == org.id, T.c.id == victim.id).values(actor_name="Someone else"))
    bad = _verify(org)
    assert bad.exit_code == 1
    assert "FAIL" in bad.output and str(victim.id) in bad.output


def test_audit_verify_names_a_deleted_row(org, make_user, login):
    rows = _sealed_rows(org, make_user, login)
    victim = rows[1]
    with get_engine().begin() as conn:
        conn.execute(delete(T).where(T.c.org_id == org.id, T.c.id == victim.id))
    bad = _verify(org)
    assert bad.exit_code == 1
    assert f"seq {victim.seq}" in bad.output and "deleted" in bad.output


def test_other_org_chains_unaffected_by_tampering(org, other_org, make_user, login):
    rows = _sealed_rows(org, make_user, login)
    _sealed_rows(other_org, make_user, login)
    with get_engine().begin() as conn:
        conn.execute(delete(T).where(T.c.org_id == org.id, T.c.id == rows[0].id))
    assert _verify(other_org).exit_code == 0
    assert _verify(org).exit_code == 1

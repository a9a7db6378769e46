"""The MRN format setting is a declared grammar, validated when saved (issue 17 finding 6), and
the migration converts the old format strings."""

from __future__ import annotations

import importlib.util
import secrets

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select

from praxis.migrations.runner import HERE
from praxis.platform import clock
from praxis.platform.context import system_context
from praxis.platform.ids import new_id
from praxis.practice.models import Organisation
from tests.integration.identity.helpers import fix_session_cookie
from tests.integration.patients.helpers import register


@pytest.mark.parametrize("bad,field", [
    ("{seq.__class__}", "settings.mrn_format"),
    ({"prefix": "{seq.__class__}"}, "settings.mrn_format.prefix"),
    ({"width": 40}, "settings.mrn_format.width"),
    ({"prefix": "ABCDEFGHIJK"}, "settings.mrn_format.prefix"),
    ({"check_digit": "sum"}, "settings.mrn_format.check_digit"),
])
def test_a_format_outside_the_grammar_is_refused_naming_the_field(login, org, make_user, bad, field):
    admin = fix_session_cookie(login(make_user(org, "org_admin")))
    r = admin.patch("/api/v1/organisation", json={"settings": {"mrn_format": bad}})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.json()["field"] == field
    assert admin.get("/api/v1/organisation").json()["settings"]["mrn_format"] == {
        "prefix": "", "width": 8, "check_digit": "none"}  # nothing changed


def test_a_saved_format_numbers_new_patients(login, org, make_user):
    admin = fix_session_cookie(login(make_user(org, "org_admin")))
    fmt = {"prefix": "RB-", "width": 6, "check_digit": "luhn"}
    r = admin.patch("/api/v1/organisation", json={"settings": {"mrn_format": fmt}})
    assert r.status_code == 200 and r.json()["settings"]["mrn_format"] == fmt
    assert register(system_context(org.id), location_id=org.loc_a.id).mrn == "RB-0000018"  # Luhn("000001") = 8


def _migration():
    spec = importlib.util.spec_from_file_location("m", HERE / "versions" / "core_0002_secinput_mrn_format.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_converts_old_format_strings(db):
    """Run against rows written as the old code wrote them, in a transaction rolled back after."""
    m = _migration()
    olds = {"{seq:08d}": {"prefix": "", "width": 8, "check_digit": "none"},
            "P-{seq:05d}": {"prefix": "P-", "width": 5, "check_digit": "none"},
            "{seq}": {"prefix": "", "width": 1, "check_digit": "none"},
            "{seq.__class__}": {"prefix": "", "width": 8, "check_digit": "none"},
            "{seq:08d}-{seq}": {"prefix": "", "width": 8, "check_digit": "none"}}
    ids = {old: new_id() for old in olds}
    table = Organisation.__table__
    with db.connect() as conn, conn.begin() as tx:
        conn.execute(insert(table), [
            {"id": oid, "slug": f"mig-{secrets.token_hex(4)}", "name": "Old", "created_at": clock.now(),
             "settings": {"mrn_format": old, "allow_overbooking": True}} for old, oid in ids.items()])
        with Operations.context(MigrationContext.configure(conn)):
            m.upgrade()
            got = dict(conn.execute(select(table.c.id, table.c.settings).where(table.c.id.in_(ids.values()))).all())
            for old, oid in ids.items():
                assert got[oid] == {"mrn_format": olds[old], "allow_overbooking": True}, old
            m.downgrade()
            back = conn.execute(select(table.c.settings).where(table.c.id == ids["P-{seq:05d}"])).scalar_one()
            assert back["mrn_format"] == "P-{seq:05d}"
        tx.rollback()

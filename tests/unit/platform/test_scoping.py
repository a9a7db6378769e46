"""platform.scoping on statements alone (no database): which uses of tenant tables are scoped."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)

from praxis.platform.errors import TenantScopeError
from praxis.platform.scoping import check, cross_org, is_tenant_table, unscoped_tables

md = MetaData()
orgs = Table("orgs", md, Column("id", String, primary_key=True), Column("slug", String))
patients = Table("patients", md, Column("org_id", String, primary_key=True), Column("id", String, primary_key=True),
                 Column("name", String), Column("active", Integer))
visits = Table("visits", md, Column("org_id", String, primary_key=True), Column("id", String, primary_key=True),
               Column("patient_id", String))
outbox = Table("outbox", md, Column("id", Integer, primary_key=True), Column("org_id", String, nullable=True))
ORG = uuid.uuid4()

SCOPED = {
    "where": select(patients.c.id).where(patients.c.org_id == ORG),
    "bind": select(patients.c.id).where(patients.c.org_id == bindparam("org")),
    "in": select(patients.c.id).where(patients.c.org_id.in_([ORG])),
    "tuple in": select(patients.c.id).where(tuple_(patients.c.org_id, patients.c.id).in_([(ORG, ORG)])),
    "join on org, one anchor": select(patients.c.id).join(
        visits, (visits.c.org_id == patients.c.org_id) & (visits.c.patient_id == patients.c.id))
    .where(visits.c.org_id == ORG),
    "correlated subquery": select(patients.c.id).where(
        patients.c.org_id == ORG,
        select(visits.c.id).where(visits.c.org_id == patients.c.org_id, visits.c.patient_id == patients.c.id)
        .exists()),
    "count": select(func.count()).select_from(patients).where(patients.c.org_id == ORG),
    "update": update(patients).where(patients.c.org_id == ORG, patients.c.id == "x").values(active=0),
    "delete": delete(patients).where(patients.c.org_id == ORG),
    "insert (org_id is a key column)": insert(patients),
    "not a tenant table": select(orgs.c.id, outbox.c.id),
    "text naming org_id": text("SELECT id FROM patients WHERE org_id = :o"),
}

UNSCOPED = {
    "no condition": (select(patients.c.id), ["patients"]),
    "other column only": (select(patients.c.id).where(patients.c.id == "x"), ["patients"]),
    "or": (select(patients.c.id).where(or_(patients.c.org_id == ORG, patients.c.id == "x")), ["patients"]),
    "join on org, no anchor": (select(patients.c.id).join(
        visits, (visits.c.org_id == patients.c.org_id) & (visits.c.patient_id == patients.c.id)),
        ["patients", "visits"]),
    "joined table without org": (select(patients.c.id).join(visits, visits.c.patient_id == patients.c.id)
                                 .where(patients.c.org_id == ORG), ["visits"]),
    "alias": (select(patients.alias("p2").c.id), ["patients"]),
    "subquery": (select(orgs.c.id).where(orgs.c.id.in_(select(patients.c.org_id))), ["patients"]),
    "update": (update(patients).where(patients.c.id == "x").values(active=0), ["patients"]),
    "delete": (delete(patients), ["patients"]),
    "insert from select": (insert(visits).from_select(["org_id", "id", "patient_id"],
                                                      select(patients.c.org_id, patients.c.id, patients.c.id)),
                           ["patients"]),
    "text": (text("DELETE FROM patients WHERE id = :x"), ["patients"]),
}


def test_a_tenant_table_has_org_id_in_its_primary_key() -> None:
    assert is_tenant_table(patients) and not is_tenant_table(orgs) and not is_tenant_table(outbox)


@pytest.mark.parametrize("name", list(SCOPED))
def test_scoped_statements_pass(name: str) -> None:
    assert unscoped_tables(SCOPED[name], md) == []
    check(SCOPED[name], md)


@pytest.mark.parametrize("name", list(UNSCOPED))
def test_unscoped_statements_are_named(name: str) -> None:
    statement, expected = UNSCOPED[name]
    assert sorted(unscoped_tables(statement, md)) == sorted(expected)
    with pytest.raises(TenantScopeError, match="without an org_id condition"):
        check(statement, md)


def test_cross_org_names_its_reason() -> None:
    check(cross_org(select(patients.c.id), "test: every organisation"), md)
    with pytest.raises(ValueError, match="reason"):
        cross_org(select(patients.c.id), " ")


def test_covered_tables_are_left_to_the_session_hook() -> None:
    assert unscoped_tables(select(patients.c.id), md, covered=[patients]) == []


def test_whole_table_selects_are_seen() -> None:
    assert unscoped_tables(select(patients), md) == ["patients"]
    assert unscoped_tables(select(patients).where(patients.c.org_id == ORG), md) == []
    assert unscoped_tables(select(func.count()).select_from(patients), md) == ["patients"]

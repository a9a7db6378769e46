"""HotStatement runs a Core statement on the driver's cursor (PostgreSQL) or through SQLAlchemy
(SQLite) with the same results, the same stored values and SQLAlchemy's exception classes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    Uuid,
    bindparam,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, StatementError

from praxis.platform.crypto import EncryptedString
from praxis.platform.db import UTCDateTime, get_engine
from praxis.platform.hotsql import HotStatement, copy_rows, pipeline

meta = MetaData()
T = Table("hotsql_probe", meta,
          Column("id", Uuid, primary_key=True),
          Column("name", String(40), nullable=False, unique=True),
          Column("kind", String(10), nullable=False),
          Column("n", Integer, nullable=False),
          Column("flag", Boolean, nullable=False),
          Column("at", UTCDateTime, nullable=False),
          Column("detail", JSON),
          Column("state", String(10), nullable=False, default="new"),
          Column("stamped", UTCDateTime, nullable=False, default=lambda: datetime(2026, 1, 2, 3, 4, tzinfo=UTC)))


@pytest.fixture
def table(db: Any) -> Iterator[Table]:
    engine = get_engine()
    meta.create_all(engine)
    try:
        yield T
    finally:
        meta.drop_all(engine)


def _row(name: str, kind: str, n: int, *, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "name": name, "kind": kind, "n": n, "flag": n % 2 == 0,
            "at": datetime(2026, 3, 8, 6, 30, tzinfo=UTC) + timedelta(hours=n), "detail": detail}


def test_rows_match_sqlalchemy_for_binds_constants_and_lists(table: Table) -> None:
    with get_engine().begin() as conn:
        HotStatement(table.insert()).run_many(conn, [_row(f"p{i}", "ab"[i % 2], i) for i in range(6)])
    query = (select(table.c.name, table.c.n, table.c.flag, table.c.at,
                    (table.c.n > 2).label("big"))
             .where(table.c.kind.in_(["a", "x"]),  # a constant list
                    table.c.n.in_(bindparam("ns", expanding=True)),
                    table.c.name.not_in(bindparam("skip", expanding=True)),
                    table.c.at >= bindparam("since"))
             .order_by(table.c.n))
    hot = HotStatement(query)
    cases = [{"ns": [0, 2, 4, 5], "skip": ["p2"], "since": datetime(2026, 3, 8, 6, 30, tzinfo=UTC)},
             {"ns": [], "skip": [], "since": datetime(2026, 1, 1, tzinfo=UTC)},
             {"ns": [0, 2, 4], "skip": [], "since": datetime(2026, 3, 8, 9, tzinfo=UTC)}]
    with get_engine().connect() as conn:
        for params in cases:
            expected = [tuple(r) for r in conn.execute(query, params)]
            got = hot.rows(conn, params)
            assert [tuple(r) for r in got] == expected
        first = hot.rows(conn, cases[0])
    assert [(r.name, r.big) for r in first] == [("p0", False), ("p4", True)]
    assert first[0].at == datetime(2026, 3, 8, 6, 30, tzinfo=UTC) and first[0].at.tzinfo is UTC


def test_inserted_values_read_back_unchanged(table: Table) -> None:
    one = _row("json", "a", 3, detail={"start_at": "2026-03-08T07:00:00+00:00", "tags": [1, "x"], "ok": None})
    many = [_row(f"m{i}", "b", i, detail={"i": i}) for i in range(3)]
    with get_engine().begin() as conn:
        HotStatement(table.insert()).run(conn, one)
        HotStatement(table.insert()).run_many(conn, many)
        HotStatement(text("UPDATE hotsql_probe SET n = n + :by WHERE kind = :kind")).run(conn, {"by": 10, "kind": "b"})
    with get_engine().connect() as conn:
        stored = {r.name: r for r in conn.execute(select(table))}
    assert stored["json"].detail == one["detail"]
    assert stored["json"].at == one["at"] and stored["json"].id == one["id"] and stored["json"].flag is False
    assert [stored[f"m{i}"].n for i in range(3)] == [10, 11, 12]
    assert stored["m2"].detail == {"i": 2}


def test_a_driver_error_is_sqlalchemys_and_the_transaction_keeps_nothing(table: Table) -> None:
    insert = HotStatement(table.insert())
    with get_engine().begin() as conn:
        insert.run(conn, _row("dup", "a", 1))
    with pytest.raises(IntegrityError) as caught, get_engine().begin() as conn:
        insert.run(conn, _row("fresh", "a", 2))
        insert.run(conn, _row("dup", "a", 3))  # unique name
    if get_engine().dialect.name == "postgresql":
        assert caught.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
    with get_engine().connect() as conn:
        assert sorted(conn.scalars(select(table.c.name))) == ["dup"]


def test_a_bind_that_needs_a_conversion_is_refused(db: Any, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("SQLite runs every statement through SQLAlchemy, conversions included")
    secret = Table("hotsql_secret", MetaData(), Column("id", Integer, primary_key=True),
                   Column("ssn", EncryptedString(200)))
    with get_engine().connect() as conn:
        with pytest.raises(TypeError, match="ssn"):
            HotStatement(secret.insert()).run(conn, {"id": 1, "ssn": "123-45-6789"})
        with pytest.raises(TypeError, match="ssn"):  # read back, it would come out still encrypted
            HotStatement(select(secret.c.ssn).where(secret.c.id == bindparam("id"))).rows(conn, {"id": 1})


def test_a_naive_time_stamp_is_refused_as_utcdatetime_refuses_it(table: Table) -> None:
    naive = {**_row("naive", "a", 1), "at": datetime(2026, 3, 8, 6, 30)}
    with pytest.raises((ValueError, StatementError), match="naive datetime refused"), \
            get_engine().begin() as conn:
        HotStatement(table.insert()).run(conn, naive)
    with get_engine().connect() as conn:
        assert conn.scalar(select(table.c.name)) is None


def test_left_out_columns_get_their_python_defaults_and_lists_of_any_kind_bind(table: Table) -> None:
    with get_engine().begin() as conn:
        HotStatement(table.insert()).run(conn, _row("d1", "a", 1))
        HotStatement(table.insert()).run_many(conn, [_row("d2", "b", 2)])
        HotStatement(table.insert()).run_many(conn, [{**_row("d3", "b", 3), "state": "old"}])
        with pytest.raises(ValueError, match="same keys"):
            HotStatement(table.insert()).run_many(conn, [_row("d4", "b", 4), {**_row("d5", "b", 5), "state": "x"}])
    query = HotStatement(select(table.c.name, table.c.state, table.c.stamped)
                         .where(table.c.kind.in_(bindparam("kinds", expanding=True))).order_by(table.c.name))
    with get_engine().connect() as conn:
        for kinds in (("a", "b"), {"a", "b"}, ["b", "a"]):
            assert [tuple(r) for r in query.rows(conn, {"kinds": kinds})] == [
                ("d1", "new", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
                ("d2", "new", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
                ("d3", "old", datetime(2026, 1, 2, 3, 4, tzinfo=UTC))]


def test_a_dropped_connection_is_reported_invalidated(table: Table, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no server to drop connections")
    from sqlalchemy.exc import DBAPIError

    probe = HotStatement(select(table.c.name))
    with get_engine().connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
        with get_engine().connect() as killer:
            assert killer.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        with pytest.raises(DBAPIError) as caught:
            probe.rows(conn)
        assert caught.value.connection_invalidated and conn.invalidated
    with get_engine().connect() as conn:  # the pool hands out a live connection next
        assert probe.rows(conn) == []


@pytest.mark.parametrize("queued", [False, True], ids=["copy", "in-a-pipeline"])
def test_copy_rows_stores_what_an_insert_stores(table: Table, queued: bool) -> None:
    # In pipeline mode (PostgreSQL) the rows go as one INSERT from arrays instead of COPY.
    at = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    rows = [{"id": uuid.uuid4(), "name": f"c{i}", "kind": "k", "n": i, "flag": i % 2 == 0, "at": at,
             "detail": {"i": i, "s": "tab\there"} if i else None, "state": "new", "stamped": at} for i in range(3)]
    with get_engine().begin() as conn, pipeline(conn) if queued else nullcontext():
        copy_rows(conn, table, rows)
    with get_engine().connect() as conn:
        got = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.n))]
    assert [{**g, "at": g["at"], "stamped": g["stamped"]} for g in got] == rows


def test_copy_rows_refuses_uneven_rows_naive_times_and_converted_columns(table: Table) -> None:
    at = datetime(2026, 5, 6, tzinfo=UTC)
    row = {"id": uuid.uuid4(), "name": "x", "kind": "k", "n": 1, "flag": True, "at": at, "detail": None,
           "state": "new", "stamped": at}
    with get_engine().begin() as conn, pytest.raises(ValueError):
        copy_rows(conn, table, [row, {k: v for k, v in row.items() if k != "detail"}])
    if get_engine().dialect.name == "postgresql":
        with get_engine().begin() as conn, pytest.raises(ValueError):
            copy_rows(conn, table, [{**row, "at": datetime(2026, 5, 6)}])
    odd = Table("hotsql_odd", MetaData(), Column("id", Uuid, primary_key=True), Column("s", _Odd(80)))
    with get_engine().begin() as conn, pytest.raises(TypeError):
        copy_rows(conn, odd, [{"id": uuid.uuid4(), "s": "x"}])


class _Odd(TypeDecorator[str]):
    """A conversion over a type the driver does not take plain (a PostgreSQL array)."""

    impl = ARRAY(String)
    cache_ok = True


@pytest.mark.parametrize("queued", [False, True], ids=["copy", "in-a-pipeline"])
def test_copy_rows_applies_a_columns_own_conversion(db: Any, queued: bool) -> None:
    # An encrypted column: stored encrypted, read back as given, as through SQLAlchemy.
    secret = Table("hotsql_secret", MetaData(), Column("id", Uuid, primary_key=True), Column("s", EncryptedString(400)))
    secret.create(get_engine())
    try:
        ids = [uuid.uuid4(), uuid.uuid4()]
        with get_engine().begin() as conn, pipeline(conn) if queued else nullcontext():
            copy_rows(conn, secret, [{"id": ids[0], "s": "123-45-6789"}, {"id": ids[1], "s": None}])
        with get_engine().connect() as conn:
            got = {r.id: r.s for r in conn.execute(select(secret.c.id, secret.c.s))}
            assert got == {ids[0]: "123-45-6789", ids[1]: None}
            stored = conn.execute(text("SELECT s FROM hotsql_secret WHERE s IS NOT NULL")).scalar_one()
        # Not the plain value (a bare "123" can occur in the key id or the ciphertext by chance).
        assert "123-45-6789" not in stored and stored.startswith("v1:") and len(stored) > 20
    finally:
        secret.drop(get_engine())

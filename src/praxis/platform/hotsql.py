"""Core statements for the hottest paths, run on psycopg's own cursor on PostgreSQL.

SQLAlchemy's execution path (cache key, execution context, result set-up) costs several times the
round trip itself: on the booking probe about 230 us of CPU against 45 us for the same SQL on the
driver's cursor (docs/performance.md). A `HotStatement` is compiled once per shape of its
parameters for PostgreSQL and then sent straight to psycopg, inside whatever transaction the
SQLAlchemy connection has open; on other databases it simply goes through SQLAlchemy. The SQL
stays defined once, as Core.

Only plain types are allowed, for binds and selected columns alike (UUID, text, numbers, booleans,
dates, time stamps with a zone, JSON): a statement that needs a Python-side conversion (an
encrypted column, say) is refused when compiled, because the driver would store or return the
value unconverted. Time stamps read back are converted to UTC as `UTCDateTime` does. Driver
errors are raised as SQLAlchemy's exception classes, so callers catch one vocabulary on both
paths.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, TypeDecorator, event, exc
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from praxis.platform import scoping
from praxis.platform.db import Base, UTCDateTime

# Bind types the driver adapts exactly as SQLAlchemy would (UTCDateTime only checks the zone).
_PLAIN = (sqltypes.Uuid, sqltypes.String, sqltypes.Integer, sqltypes.Boolean, sqltypes.DateTime,
          sqltypes.Date, sqltypes.NullType, UTCDateTime, JSON)
_EXPANDING = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: bytes
    constants: dict[str, Any]  # values bound in the statement itself
    defaults: tuple[tuple[str, Any], ...]  # Python-side column defaults, applied when a value is left out
    json: frozenset[str]  # JSON binds, wrapped for the driver
    aware: frozenset[str]  # UTCDateTime binds: a naive value is refused, as UTCDateTime refuses it
    arrays: frozenset[str]  # expanding IN binds, sent as one array
    utc: tuple[str, ...]  # selected time stamp columns, returned in UTC


class HotStatement:
    """One Core statement (SELECT, INSERT, or `text()`) for a hot path. `rows()` returns fetched
    rows with attribute access; `run()` executes without reading a result; `run_many()` is an
    executemany. Parameters are a dict keyed by bind name (an INSERT: by column name).

    Its tenant scoping is checked once, here: a statement that uses a tenant table without an
    org_id condition is refused unless `cross_org` states why it crosses organisations
    (platform.scoping)."""

    def __init__(self, statement: Executable, *, cross_org: str | None = None) -> None:
        if cross_org is not None:
            statement = scoping.cross_org(statement, cross_org)
        else:
            assert isinstance(statement, ClauseElement)
            scoping.check(statement, Base.metadata)
            # Checked: the Core hook need not walk it again on every execution (SQLite's path).
            statement = statement.execution_options(**{scoping.SCOPE_CHECKED: True})
        self.statement = statement
        self._compiled: dict[tuple[str, ...] | None, _Compiled] = {}

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Sequence[Any]:
        if conn.dialect.name != "postgresql":
            return conn.execute(self.statement, dict(params or {})).all()
        from psycopg.rows import namedtuple_row

        cur = self._cursor(conn, namedtuple_row)
        compiled = self._send(cur, conn, None, params or {})
        # In pipeline mode an earlier queued statement's failure surfaces here: raised as
        # SQLAlchemy's exception too, so callers catch one vocabulary.
        with _driver_errors(conn, compiled.sql):
            rows = cur.fetchall()
        if compiled.utc:
            rows = [r._replace(**{c: _utc(getattr(r, c)) for c in compiled.utc}) for r in rows]
        return rows

    def rows_later(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Callable[[], Sequence[Any]]:
        """PostgreSQL inside `pipeline`: send the statement now and read its rows later (the
        returned function), so that what is queued after it goes out in the same round trip."""
        from psycopg.rows import namedtuple_row

        cur = self._cursor(conn, namedtuple_row)
        compiled = self._send(cur, conn, None, params or {})

        def fetch() -> Sequence[Any]:
            with _driver_errors(conn, compiled.sql):
                rows = cur.fetchall()
            if compiled.utc:
                rows = [r._replace(**{c: _utc(getattr(r, c)) for c in compiled.utc}) for r in rows]
            return rows  # type: ignore[no-any-return]

        return fetch

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> None:
        if conn.dialect.name != "postgresql":
            conn.execute(self.statement, dict(params or {}))
            return
        self._send(self._cursor(conn), conn, tuple(params) if params else None, params or {})

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if any(r.keys() != rows[0].keys() for r in rows):
            # SQLAlchemy would silently use the first row's columns for all of them.
            raise ValueError("HotStatement.run_many: every row must have the same keys")
        if conn.dialect.name != "postgresql":
            conn.execute(self.statement, [dict(r) for r in rows])
            return
        compiled = self._compile(conn, tuple(rows[0]))
        batch = [self._params(compiled, r) for r in rows]
        with _driver_errors(conn, compiled.sql):
            self._cursor(conn).executemany(compiled.sql, batch)

    def _cursor(self, conn: Connection, row_factory: Any = None) -> Any:
        driver = conn.connection.driver_connection
        assert driver is not None
        return driver.cursor(row_factory=row_factory) if row_factory else driver.cursor()

    def _send(self, cur: Any, conn: Connection, keys: tuple[str, ...] | None, params: Mapping[str, Any]
              ) -> _Compiled:
        compiled = self._compile(conn, keys)
        values = self._params(compiled, params)
        with _driver_errors(conn, compiled.sql):
            cur.execute(compiled.sql, values)
        return compiled

    def _params(self, compiled: _Compiled, params: Mapping[str, Any]) -> dict[str, Any]:
        from psycopg.types.json import Json

        out = {**compiled.constants, **params}
        for name, default in compiled.defaults:
            if name not in out:
                out[name] = default.arg(None) if default.is_callable else default.arg
        for name in compiled.arrays:
            out[name] = list(out[name])
        for name in compiled.aware:
            value = out.get(name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"naive datetime refused for {name!r}: Praxis stores timezone-aware UTC only")
        for name in compiled.json:
            if out.get(name) is not None:
                out[name] = Json(out[name])
        return out

    def _compile(self, conn: Connection, keys: tuple[str, ...] | None) -> _Compiled:
        found = self._compiled.get(keys)
        if found is not None:
            return found
        assert isinstance(self.statement, ClauseElement)
        compiled = self.statement.compile(dialect=conn.dialect, column_keys=list(keys) if keys else None)
        json: set[str] = set()
        aware: set[str] = set()
        for name, bind in compiled.binds.items():
            _check_plain(f"bind {name!r}", bind.type)
            if isinstance(bind.type, JSON):
                json.add(name)
            elif isinstance(bind.type, UTCDateTime):
                aware.add(name)
        utc = []
        for column in getattr(self.statement, "selected_columns", ()):
            _check_plain(f"column {column.key!r}", column.type)
            if isinstance(column.type, sqltypes.DateTime | UTCDateTime):
                utc.append(column.key)
        constants = {name: value for name, value in compiled.construct_params(_check=False).items()
                     if value is not None}
        # Expanding IN lists become one typed array: `x IN (a, b)` is `x = ANY(%(name)s::UUID[])`.
        types = conn.dialect.type_compiler_instance
        arrays = {m.group(2) for m in _EXPANDING.finditer(compiled.string)}
        sql = _EXPANDING.sub(lambda m: f"{'<> ALL' if m.group(1) else '= ANY'}"
                                       f"(%({m.group(2)})s::{types.process(compiled.binds[m.group(2)].type)}[])",
                             compiled.string)
        if "__[POSTCOMPILE_" in sql:
            raise TypeError("HotStatement: a parameter is rendered at execution time in a way other than "
                            "IN (...); run this statement through SQLAlchemy")
        # Bytes: psycopg would encode a str query on every call, and hash it again for its cache.
        defaults = tuple([(c.key, c.default) for c in getattr(compiled, "insert_prefetch", ())]
                         + [(c.key, c.onupdate) for c in getattr(compiled, "update_prefetch", ())])
        result = _Compiled(sql.encode(), constants, defaults, frozenset(json), frozenset(aware),
                           frozenset(arrays), tuple(utc))
        self._compiled[keys] = result
        return result


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if value is not None and value.tzinfo is not None else value


def _check_plain(what: str, kind: Any) -> None:
    if not isinstance(kind, _PLAIN):
        raise TypeError(f"HotStatement: {what} has type {kind!r}, which needs a conversion the driver "
                        "would skip; run this statement through SQLAlchemy")


@contextmanager
def _driver_errors(conn: Connection, sql: bytes) -> Iterator[None]:
    """Raise a psycopg error as the SQLAlchemy exception SQLAlchemy itself would raise, and drop a
    connection the server has gone away from, as SQLAlchemy does, so the pool does not hand it out
    again."""
    import psycopg

    try:
        yield
    except psycopg.Error as err:
        gone = conn.dialect.is_disconnect(err, conn.connection.dbapi_connection, None)
        if gone:
            conn.invalidate(err)
        raise exc.DBAPIError.instance(sql.decode(), None, err, psycopg.Error,
                                      connection_invalidated=gone) from err


def json_document(value: Any) -> str:
    """`value` as JSON text, for a statement that takes many rows as one document
    (`json_to_recordset`, `json_populate_recordset`). orjson writes UUIDs and time stamps itself
    (RFC 3339), in C: the json module called back into Python for each of them, a tenth of an
    HL7 batch's CPU. Anything else it does not know is written as its `str()`, as before."""
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


@dataclass(frozen=True, slots=True)
class _CopyPlan:
    """What `copy_rows` works out once per table and column list (checked, then reused: on a hot
    path a batch of one row paid for this analysis on every call)."""

    converted: tuple[tuple[int, Any], ...]  # (position, TypeDecorator) converted in Python
    json: frozenset[int]  # JSON columns, wrapped for COPY
    aware: tuple[int, ...]  # UTCDateTime columns: a naive value is refused
    json_sql: str  # the pipeline-mode INSERT of one JSON document
    copy_sql: str


_COPY_PLANS: dict[tuple[str, tuple[str, ...]], _CopyPlan] = {}


def _copy_plan(table: Any, columns: tuple[str, ...]) -> _CopyPlan:
    key = (table.name, columns)
    plan = _COPY_PLANS.get(key)
    if plan is not None:
        return plan
    converted = []
    for i, name in enumerate(columns):
        kind = table.c[name].type
        if isinstance(kind, TypeDecorator) and not isinstance(kind, UTCDateTime):
            _check_plain(f"column {name!r}", kind.impl_instance)
            converted.append((i, kind))
        else:
            _check_plain(f"column {name!r}", kind)
    names = ", ".join(columns)  # the table's own column names, checked above
    plan = _COPY_PLANS[key] = _CopyPlan(
        tuple(converted),
        frozenset(i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)),
        tuple(i for i, name in enumerate(columns) if isinstance(table.c[name].type, UTCDateTime)),
        f"INSERT INTO {table.name} ({names}) SELECT {names} "  # noqa: S608
        f"FROM json_populate_recordset(NULL::{table.name}, %s)",
        f"COPY {table.name} ({names}) FROM STDIN",
    )
    return plan


def copy_rows(conn: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows of plain values into `table` in the connection's transaction: COPY on
    PostgreSQL (one round trip, and far less work per row for both sides than an executemany, which
    runs the INSERT once per row), one executemany through SQLAlchemy elsewhere. Every row has the
    same keys, all given (no column defaults are applied); the values must be plain, as for a
    `HotStatement` (JSON columns are sent as JSON), or of a column type that converts them in
    Python over a plain one (an encrypted column: its conversion is applied here, as SQLAlchemy
    would). For set-based writes of many new rows: an HL7 batch's patients, their links, audit
    rows and outbox events."""
    if not rows:
        return
    columns = tuple(rows[0])
    if any(tuple(r) != columns for r in rows):
        raise ValueError("copy_rows: every row must have the same keys, in the same order")
    plan = _copy_plan(table, columns)
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), [dict(r) for r in rows])
        return
    from psycopg.types.json import Json

    driver = conn.connection.driver_connection
    assert driver is not None
    dialect = conn.dialect

    def values_of(row: Mapping[str, Any], wrap_json: bool = True) -> list[Any]:
        values = list(row.values())
        for i, kind in plan.converted:
            values[i] = kind.process_bind_param(values[i], dialect)
        for i in plan.aware:
            if values[i] is not None and values[i].tzinfo is None:
                raise ValueError(f"naive datetime refused for {columns[i]!r}: Praxis stores timezone-aware UTC only")
        if wrap_json:
            for i in plan.json:
                if values[i] is not None:
                    values[i] = Json(values[i])
        return values

    if _in_pipeline(driver):
        # COPY cannot run in pipeline mode: one INSERT of the rows as one JSON document instead
        # (json_populate_recordset turns each value into its column's type), queued with the
        # pipeline's other statements. One parameter, so the SQL is the same at any row count and
        # psycopg keeps it parsed; the document is written in C (`json_document`), where arrays
        # of values would be dumped element by element.
        plain = [dict(zip(columns, values_of(row, wrap_json=False), strict=True)) for row in rows]
        with _driver_errors(conn, plan.json_sql.encode()), driver.cursor() as cur:
            cur.execute(plan.json_sql, [json_document(plain)])
        return
    with _driver_errors(conn, plan.copy_sql.encode()), driver.cursor() as cur, cur.copy(plan.copy_sql) as copy:
        for row in rows:
            copy.write_row(values_of(row))




def _in_pipeline(driver: Any) -> bool:
    from psycopg import pq

    return bool(driver.pgconn.pipeline_status != pq.PipelineStatus.OFF)


# Execution option for a statement sent through SQLAlchemy inside `pipeline` whose result the
# caller never reads (a Core UPDATE without RETURNING): it stays queued like an INSERT.
QUEUED = "praxis_queued"


@contextmanager
def pipeline(conn: Connection) -> Iterator[None]:
    """PostgreSQL's pipeline mode for the statements sent inside (psycopg's `Connection.pipeline`):
    a statement whose result nobody reads yet (an INSERT, an UPDATE whose row count is not asked)
    is queued rather than waited for, and the queue goes out with the next statement that must be
    answered (a SELECT) or at the end. For a unit of work that writes many small statements between
    few reads: one round trip for the writes instead of one each. An error surfaces at the next
    read or at the end, raised from whichever statement is then waiting; `copy_rows` sends INSERTs
    in this mode (COPY cannot run in it). SQLAlchemy reads a statement's result shape and row count
    as soon as it has executed it, so any statement sent through SQLAlchemy other than a plain
    INSERT is answered at once (a sync), as outside the pipeline, unless its execution options
    say `QUEUED`. Elsewhere (SQLite) nothing changes."""
    if conn.dialect.name != "postgresql":
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    engine = conn.engine
    if engine not in _ANSWERING:
        # Listened for once per engine, not per pipeline: adding and removing a listener costs
        # more than a small batch's statements (SQLAlchemy checks an engine's listeners at each
        # statement, so connections already open see it too).
        with _ANSWERING_LOCK:
            if engine not in _ANSWERING:
                event.listen(engine, "after_cursor_execute", _answered)
                _ANSWERING.add(engine)
    with driver.pipeline() as queue:
        conn.info[_QUEUE] = queue
        try:
            yield
        finally:
            conn.info.pop(_QUEUE, None)


_QUEUE = "praxis_pipeline"
_ANSWERING: weakref.WeakSet[Any] = weakref.WeakSet()  # engines with `_answered` listening
_ANSWERING_LOCK = threading.Lock()


def _answered(conn: Connection, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
    """Inside `pipeline`: sync after a statement SQLAlchemy reads the result of (see there)."""
    queue = conn.info.get(_QUEUE)
    if queue is None:
        return
    if statement.startswith("INSERT") and "RETURNING" not in statement:
        return
    if context is not None and context.execution_options.get(QUEUED):
        return  # the caller reads nothing of its result (see QUEUED)
    queue.sync()

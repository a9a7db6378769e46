"""Tenant scoping of Core statements: a statement that touches a tenant table names its organisation.

The session hook (platform.db) scopes ORM queries on `TenantScoped` entities by itself. Core
statements — hot paths, `HotStatement`, Core selects run through a session — carry their own
`org_id` condition; this module checks that they do, so the next one cannot forget it:

- every `HotStatement` is checked once, when it is built (platform.hotsql);
- every other statement is checked before it executes when the setting `check_tenant_scope` is on
  (the test suite and `make run` turn it on; production may leave it off to save the walk).

A *tenant table* is one whose primary key includes `org_id`. A use of it is *scoped* when its
`org_id` column is equated (`=` or `IN`) to a value that is not another column of the statement —
a bind parameter, a literal, a subquery — directly or through a chain of `org_id = other.org_id`
equalities (a join on the organisation). Only conditions joined by AND count: `org_id = :o OR ...`
does not scope anything. INSERT targets are not checked (their `org_id` is a NOT NULL key column
and their foreign keys include it); the SELECT of an INSERT ... SELECT is.

Limits, on purpose: one table object used unaliased in two places of one statement (an outer query
and a subquery) is one use, scoped if either place is; raw `text()` SQL is not parsed — it only
has to mention `org_id` when it reads or writes a tenant table. Raw SQL lives in platform/ only.

A statement that must cross organisations (login by e-mail, bearer-token lookup, the outbox, the
audit sealer) says so, with its reason: `cross_org(statement, "why")`. System sessions
(`session_scope(None, system=True, reason=...)`) pass their reason to every statement they run.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any, TypeVar

from sqlalchemy import MetaData, Table
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BooleanClauseList,
    ClauseElement,
    ColumnClause,
    Grouping,
    Null,
    TextClause,
    Tuple,
)
from sqlalchemy.sql.selectable import Alias, Join, Select, TableClause

from praxis.platform.errors import TenantScopeError

# Execution options read by the Core hook (platform.db) and set by cross_org(), HotStatement and
# the session hook.
CROSS_ORG = "praxis_cross_org"  # the stated reason a statement crosses organisations
SCOPE_CHECKED = "praxis_scope_checked"  # already checked (a HotStatement, when it was built)
ORM_SCOPED = "praxis_orm_scoped"  # an ORM statement the session hook scoped with loader criteria

S = TypeVar("S", bound=Executable)


def cross_org(statement: S, reason: str) -> S:
    """Mark `statement` as crossing organisations on purpose, naming why (shown in the code and in
    any error). Use it for the few statements that look an organisation up: login, bearer lookup,
    the outbox, the audit sealer."""
    if not reason or not reason.strip():
        raise ValueError("cross_org: a statement that crosses organisations must state its reason")
    return statement.execution_options(**{CROSS_ORG: reason})


def is_tenant_table(table: Any) -> bool:
    """A table whose primary key includes `org_id`."""
    columns = getattr(table, "c", None)
    if columns is None or "org_id" not in columns:
        return False
    return bool(columns.org_id.primary_key)


def check(statement: ClauseElement, metadata: MetaData | None = None, *,
          covered: Collection[Table] = ()) -> None:
    """Raise TenantScopeError when `statement` uses a tenant table without an `org_id` condition.

    `metadata` names the tenant tables raw `text()` SQL may mention; `covered` are tables already
    scoped some other way (the session hook's loader criteria for ORM entities)."""
    options = getattr(statement, "get_execution_options", None)
    if options is not None and options().get(CROSS_ORG):
        return
    missing = unscoped_tables(statement, metadata, covered=covered)
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise TenantScopeError(
            f"statement uses tenant table(s) {names} without an org_id condition: add "
            f"`.where(<table>.c.org_id == org_id)`, or, if it must cross organisations, wrap it in "
            f"platform.scoping.cross_org(statement, reason)")


def unscoped_tables(statement: ClauseElement, metadata: MetaData | None = None, *,
                    covered: Collection[Table] = ()) -> list[str]:
    """Names of the tenant tables `statement` uses without an `org_id` condition (see the module)."""
    walk = _Walk({id(t) for t in covered})
    for node in visitors.iterate(_read_part(statement)):
        if isinstance(node, ColumnClause) and node.table is not None:
            walk.source(node.table)
        elif isinstance(node, Select):
            # select(table) or select(Entity) lists the table itself among the columns;
            # select_from() adds sources (a Join among them is visited as a node of its own).
            for source in (*node._raw_columns, *node._from_obj):
                if isinstance(source, TableClause | Alias):
                    walk.source(source)
            # Select.join() keeps (target, onclause, ...) until compiled: no Join object exists yet.
            for target, onclause, *_ in node._setup_joins:
                walk.source(target)
                walk.conditions(onclause)
            walk.conditions(node.whereclause)
        elif isinstance(node, Update | Delete):
            walk.source(node.table)
            walk.conditions(node.whereclause)
        elif isinstance(node, Join):
            walk.source(node.left)
            walk.source(node.right)
            walk.conditions(node.onclause)
        elif isinstance(node, TextClause):
            walk.text(node.text, metadata)
    return walk.unscoped()


def tables_used(statement: ClauseElement) -> list[Table]:
    """The tables `statement` reads or changes (an INSERT's target excepted)."""
    found: dict[int, Table] = {}
    for node in visitors.iterate(_read_part(statement)):
        source = node.table if isinstance(node, ColumnClause) else node
        if isinstance(source, Alias):
            source = source.element
        if isinstance(source, Table):
            found.setdefault(id(_plain(source)), _plain(source))
    return list(found.values())


def _read_part(statement: ClauseElement) -> ClauseElement:
    """An INSERT's target is not a use (its org_id is a key column): only its SELECT is walked."""
    if isinstance(statement, Insert):
        return statement.select if statement.select is not None else Null()
    return statement


_TABLE_IN_SQL = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+\"?(\w+)\"?", re.IGNORECASE)

_Node = tuple[int, str]  # (id of the table or alias, column name)


class _Walk:
    def __init__(self, covered: set[int]) -> None:
        self.covered = covered
        self.uses: dict[int, str] = {}  # tenant table or alias -> its name
        self.parent: dict[_Node, _Node] = {}
        self.anchored: set[_Node] = set()
        self.raw: list[str] = []  # tenant tables named in text() without any org_id

    # --- what the statement reads or changes --------------------------------------------------

    def source(self, source: Any) -> None:
        if isinstance(source, Alias) and isinstance(source.element, TableClause):
            table: Any = source.element
        elif isinstance(source, TableClause):
            table = source
        else:
            return  # a subquery, a CTE, VALUES: its own SELECT is walked as a node of its own
        base = _plain(table)
        if is_tenant_table(base) and id(base) not in self.covered:
            self.uses[id(_plain(source))] = base.name

    def text(self, sql: str, metadata: MetaData | None) -> None:
        if metadata is None or "org_id" in sql:
            return
        for name in _TABLE_IN_SQL.findall(sql):
            table = metadata.tables.get(name)
            if table is not None and is_tenant_table(table):
                self.raw.append(name)

    # --- the conditions: AND-ed equalities only -----------------------------------------------

    def conditions(self, clause: Any) -> None:
        for term in _conjuncts(clause):
            if not isinstance(term, BinaryExpression):
                continue
            if term.operator is operators.eq:
                left, right = _column(term.left), _column(term.right)
                if left is not None and right is not None:
                    self._union(left, right)
                elif left is not None:
                    self.anchored.add(left)
                elif right is not None:
                    self.anchored.add(right)
            elif term.operator is operators.in_op:
                target = _ungroup(term.left)
                columns = target.clauses if isinstance(target, Tuple) else [target]
                for element in columns:
                    node = _column(element)
                    if node is not None:
                        self.anchored.add(node)

    def _find(self, node: _Node) -> _Node:
        while self.parent.get(node, node) != node:
            node = self.parent[node]
        return node

    def _union(self, a: _Node, b: _Node) -> None:
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        self.parent[self._find(a)] = self._find(b)

    def unscoped(self) -> list[str]:
        roots = {self._find(node) for node in self.anchored}
        missing = [name for key, name in self.uses.items() if self._find((key, "org_id")) not in roots]
        return missing + self.raw


def _plain(element: Any) -> Any:
    """The element without ORM annotations (an annotated copy is another object)."""
    deannotate = getattr(element, "_deannotate", None)
    return deannotate() if deannotate is not None else element


def _ungroup(element: Any) -> Any:
    while isinstance(element, Grouping):
        element = element.element
    return element


def _conjuncts(clause: Any) -> Iterable[Any]:
    clause = _ungroup(clause)
    if clause is None:
        return
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        for term in clause.clauses:
            yield from _conjuncts(term)
    else:
        yield clause


def _column(element: Any) -> _Node | None:
    element = _ungroup(element)
    if not isinstance(element, ColumnClause) or element.table is None:
        return None
    return id(_plain(element.table)), element.name

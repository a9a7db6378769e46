"""One command, one unit of work: a session bound to the context's organisation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from praxis.platform.context import Context
from praxis.platform.db import get_engine, session_scope


@contextmanager
def unit_of_work(ctx: Context) -> Iterator[Session]:
    """Open a transaction scoped to `ctx.org_id`; commit on success, roll back on error.

    Audit rows (platform.audit.record) and outbox events (platform.outbox.emit) written to this
    session commit atomically with the change.
    """
    with session_scope(ctx.org_id) as session:
        session.info["ctx"] = ctx
        yield session


def write_lock(session: Session) -> None:
    """SQLite: take the database write lock up front (BEGIN IMMEDIATE, the transaction's first
    statement), so two writers never both read and then collide. A no-op on PostgreSQL, whose
    writers lock what they touch (`platform.locks` for what has no row)."""
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


@contextmanager
def core_unit_of_work(*, write: bool = False) -> Iterator[Connection]:
    """One command's transaction on a plain Core connection, for hot paths that write only with
    Core (the ORM session's bookkeeping would cost more than their statements). Commits on success,
    rolls back on any error; `write=True` begins as `write_lock` does. Statements on this
    connection are not scoped by the session hook: each names its organisation."""
    with get_engine().connect() as conn:
        if write:
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn

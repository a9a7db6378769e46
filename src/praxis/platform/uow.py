"""One command, one unit of work: a session bound to the context's organisation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from praxis.platform.context import Context
from praxis.platform.db import session_scope


@contextmanager
def unit_of_work(ctx: Context) -> Iterator[Session]:
    """Open a transaction scoped to `ctx.org_id`; commit on success, roll back on error.

    Audit rows (platform.audit.record) and outbox events (platform.outbox.emit) written to this
    session commit atomically with the change.
    """
    with session_scope(ctx.org_id) as session:
        session.info["ctx"] = ctx
        yield session

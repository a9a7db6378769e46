"""Transactional outbox: events and jobs written in the same transaction as the change.

`emit()` adds a row to the caller's session. The worker (`praxis worker`) claims due rows —
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers never take the same row — and calls
the handlers that wiring.py registered for the topic. A failing handler is retried with
exponential backoff; after `max_attempts` the row is marked dead for an operator to see.
Handlers must be idempotent: a crash after the handler ran but before the row was marked done
runs it again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Index, Integer, Select, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from praxis.platform.clock import now
from praxis.platform.db import Base, session_scope
from praxis.platform.hotsql import HotStatement
from praxis.platform.ids import new_id
from praxis.platform.uow import write_lock

log = logging.getLogger("praxis.outbox")

Handler = Callable[[uuid.UUID | None, dict[str, Any]], None]
HANDLERS: dict[str, list[Handler]] = {}


class OutboxMessage(Base):
    """Not tenant-scoped in the ORM sense: the worker reads across organisations."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID | None]
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(default=now)
    created_at: Mapped[datetime] = mapped_column(default=now)
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_due", "status", "available_at"),)


def row(topic: str, payload: dict[str, Any], org_id: uuid.UUID | None, *, delay: timedelta | None = None,
        at: datetime | None = None) -> dict[str, Any]:
    """The column values of one pending message."""
    stamp = now()
    return {"id": new_id(), "org_id": org_id, "topic": topic, "payload": payload, "status": "pending",
            "attempts": 0, "available_at": at or (stamp + delay if delay else stamp), "created_at": stamp}


def emit(session: Session, topic: str, payload: dict[str, Any], *, org_id: uuid.UUID | None = None,
         delay: timedelta | None = None, at: datetime | None = None) -> OutboxMessage:
    """Queue an event/job in the caller's transaction."""
    msg = OutboxMessage(**row(topic, payload, org_id if org_id is not None else session.info.get("org_id"),
                              delay=delay, at=at))
    session.add(msg)
    return msg


def write(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert messages built by `row()` right away on the caller's connection (same transaction),
    in one executemany: for hot paths that write with Core."""
    _HOT_INSERT.run_many(conn, rows)


_HOT_INSERT = HotStatement(OutboxMessage.__table__.insert())


def subscribe(topic: str, handler: Handler) -> None:
    HANDLERS.setdefault(topic, [])
    if handler not in HANDLERS[topic]:
        HANDLERS[topic].append(handler)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** attempts * 5, 3600))


# SQLite: how long a claimed message stays invisible to other workers while its handlers run.
LEASE = timedelta(minutes=5)


def run_once(*, batch: int = 50, max_attempts: int = 8) -> int:
    """Claim and handle up to `batch` due messages; returns how many were handled."""
    from praxis.platform.db import get_engine

    if get_engine().dialect.name == "sqlite":
        return _run_once_leased(batch=batch, max_attempts=max_attempts)
    handled = 0
    with session_scope(None, system=True, reason="outbox: delivers every organisation's events") as s:
        for msg in s.scalars(_due(batch).with_for_update(skip_locked=True)).all():
            handled += 1
            try:
                # Each handler runs in its own savepoint so a failure rolls back only its writes.
                with s.begin_nested():
                    for handler in HANDLERS.get(msg.topic, []):
                        handler(msg.org_id, msg.payload)
                msg.status, msg.done_at, msg.last_error = "done", now(), None
            except Exception as exc:  # a failing handler must not stop the others
                _failed(msg, exc, max_attempts)
    return handled


def _due(batch: int) -> Select[tuple[OutboxMessage]]:
    """The oldest `batch` pending messages whose time has come."""
    return (select(OutboxMessage).where(OutboxMessage.status == "pending", OutboxMessage.available_at <= now())
            .order_by(OutboxMessage.available_at).limit(batch))


def _failed(msg: OutboxMessage, exc: Exception, max_attempts: int) -> None:
    msg.attempts += 1
    msg.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if msg.attempts >= max_attempts:
        msg.status = "dead"
        log.error("outbox message dead", extra={"topic": msg.topic, "id": str(msg.id)})
    else:
        msg.available_at = now() + backoff(msg.attempts)


def _run_once_leased(*, batch: int, max_attempts: int) -> int:
    """SQLite has one writer at a time: holding the claim transaction (BEGIN IMMEDIATE) while
    handlers write in their own sessions would deadlock. So claim under BEGIN IMMEDIATE by
    leasing the rows (moving `available_at` past the lease), commit, then run the handlers and
    record each outcome in its own transaction. A worker that dies mid-run leaves the lease to
    expire, and the message runs again (handlers are idempotent)."""
    with session_scope(None, system=True, reason="outbox: delivers every organisation's events") as s:
        write_lock(s)
        claimed = []
        for msg in s.scalars(_due(batch)).all():
            msg.available_at = now() + LEASE
            claimed.append((msg.id, msg.topic, msg.org_id, dict(msg.payload)))
    for msg_id, topic, org_id, payload in claimed:
        error: Exception | None = None
        try:
            for handler in HANDLERS.get(topic, []):
                handler(org_id, payload)
        except Exception as exc:  # a failing handler must not stop the others
            error = exc
        with session_scope(None, system=True, reason="outbox: delivers every organisation's events") as s:
            write_lock(s)  # read-then-write: lock first
            row = s.get(OutboxMessage, msg_id)
            if row is None or row.status != "pending":
                continue
            if error is None:
                row.status, row.done_at, row.last_error = "done", now(), None
            else:
                _failed(row, error, max_attempts)
    return len(claimed)


def purge_done(older_than: timedelta = timedelta(days=7)) -> int:
    with session_scope(None, system=True, reason="outbox: purges every organisation's delivered events") as s:
        result = s.execute(text("DELETE FROM outbox WHERE status = 'done' AND done_at < :t"),
                           {"t": now() - older_than})
        return int(getattr(result, "rowcount", 0) or 0)

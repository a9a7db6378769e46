"""Append-only, hash-chained audit log, one chain per organisation.

Services call `record()` inside their own transaction, so the audit row commits or rolls back
with the change it describes. Rows are written unsealed (no sequence number, no hash): writers
never contend on a chain head. `seal_pending()` (run by the web process's sealer thread and
the worker every couple of seconds) takes one organisation's head row under lock, orders the
committed unsealed rows and links them: seq, prev_hash, hash. `verify()` recomputes the chain.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Boolean, Connection, Index, Integer, String, Text, bindparam, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import Base, TenantScoped, session_scope, set_system_read_auditor
from praxis.platform.hotsql import HotStatement
from praxis.platform.ids import new_id
from praxis.platform.uow import write_lock

GENESIS = "0" * 64


class AuditRecord(TenantScoped, Base):
    __tablename__ = "audit_records"

    created_at: Mapped[datetime] = mapped_column(default=now)
    actor_id: Mapped[uuid.UUID | None]
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(400), default="")
    action: Mapped[str] = mapped_column(String(80))
    resource_type: Mapped[str] = mapped_column(String(60))
    resource_id: Mapped[str | None] = mapped_column(String(80))
    patient_id: Mapped[uuid.UUID | None]
    location_id: Mapped[uuid.UUID | None]
    client_ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[dict[str, Any] | None]
    # Chain fields, filled by the sealer.
    seq: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_records_org_seq", "org_id", "seq", unique=True),
        Index("ix_audit_records_org_patient", "org_id", "patient_id", "created_at"),
        Index("ix_audit_records_org_actor", "org_id", "actor_id", "created_at"),
        Index("ix_audit_records_unsealed", "org_id", "created_at", postgresql_where=text("seq IS NULL"),
              sqlite_where=text("seq IS NULL")),
    )


_INSERT = AuditRecord.__table__.insert()
_HOT_INSERT = HotStatement(_INSERT)


class AuditChainHead(Base):
    """The last sealed link of one organisation's chain (locked only by the sealer)."""

    __tablename__ = "audit_chain_heads"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def row(
    ctx: Context,
    action: str,
    resource_type: str,
    resource_id: object | None = None,
    *,
    patient_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of one audit row (who, role, what, patient, where, why)."""
    return {
        "org_id": ctx.org_id,
        "id": new_id(),
        "created_at": now(),
        "actor_id": ctx.actor_id,
        "actor_type": ctx.actor_type,
        "actor_name": ctx.actor_name,
        "role": ",".join(ctx.roles),
        "action": action,
        "resource_type": resource_type,
        "resource_id": None if resource_id is None else str(resource_id),
        "patient_id": patient_id,
        "location_id": location_id if location_id is not None else ctx.location_id,
        "client_ip": ctx.client_ip,
        "request_id": ctx.request_id,
        "reason": ctx.break_glass_reason or ctx.reason,
        "break_glass": ctx.is_break_glass,
        "detail": detail,
    }


def record(
    session: Session,
    ctx: Context,
    action: str,
    resource_type: str,
    resource_id: object | None = None,
    *,
    patient_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit row in the caller's transaction (who, role, what, patient, where, why)."""
    session.add(AuditRecord(**row(ctx, action, resource_type, resource_id, patient_id=patient_id,
                                  location_id=location_id, detail=detail)))


def write(conn: Connection, values: dict[str, Any]) -> None:
    """Insert one audit row built by `row()` right away on the caller's connection (same
    transaction), skipping the ORM unit of work: for hot paths that write with Core."""
    _HOT_INSERT.run(conn, values)


def record_many(
    session: Session,
    ctx: Context,
    action: str,
    resource_type: str,
    items: list[tuple[object, uuid.UUID | None]],
    *,
    location_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """One audit row per (resource id, patient id) — a list screen showing many patients — in the
    caller's transaction, each as `row()` builds it (`detail` goes on every row). PostgreSQL gets
    them through COPY (one round trip for hundreds of rows); other databases through one
    executemany. Returns the number of rows written."""
    if not items:
        return 0
    rows = [row(ctx, action, resource_type, rid, patient_id=pid, location_id=location_id, detail=detail)
            for rid, pid in items]
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        from psycopg.types.json import Json

        driver = conn.connection.driver_connection
        assert driver is not None
        columns = list(rows[0])  # every column row() fills, so COPY stores what write() and record() store
        with driver.cursor() as cur, cur.copy(f"COPY audit_records ({', '.join(columns)}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row([Json(v) if c == "detail" and v is not None else v
                                for c, v in values.items()])
    else:
        conn.execute(_INSERT, rows)
    return len(rows)


def _digest(row: Any, seq: int, prev_hash: str) -> str:
    """`row`: an AuditRecord or a Core row of audit_records (attribute access either way)."""
    body = {
        "org_id": str(row.org_id),
        "id": str(row.id),
        "seq": seq,
        "prev": prev_hash,
        "created_at": row.created_at.isoformat(),
        "actor_id": str(row.actor_id) if row.actor_id else None,
        "actor_type": row.actor_type,
        "actor_name": row.actor_name,
        "role": row.role,
        "action": row.action,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "patient_id": str(row.patient_id) if row.patient_id else None,
        "location_id": str(row.location_id) if row.location_id else None,
        "client_ip": row.client_ip,
        "request_id": row.request_id,
        "reason": row.reason,
        "break_glass": bool(row.break_glass),
        "detail": row.detail,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal_pending(org_id: uuid.UUID | None = None, *, batch: int = 5000) -> int:
    """Seal committed unsealed rows into their organisation's chain. Returns rows sealed."""
    sealed = 0
    with session_scope(None, system=True, reason="audit sealer: finds every organisation with unsealed records") as s:
        if org_id is None:
            orgs = list(s.scalars(select(AuditRecord.org_id).where(AuditRecord.seq.is_(None)).distinct()))
        else:
            orgs = [org_id]
    for org in orgs:
        sealed += _seal_org(org, batch)
    return sealed


def _seal_org(org_id: uuid.UUID, batch: int) -> int:
    # Core throughout: an ORM UPDATE per row re-evaluated its criteria against every loaded
    # record (quadratic in the batch), which made sealing the web process's largest CPU cost
    # under booking load. One executemany writes the whole batch's links.
    ar, heads = AuditRecord.__table__, AuditChainHead.__table__
    with session_scope(None, system=True, reason="audit sealer: one organisation's chain") as s:
        write_lock(s)
        conn = s.connection()
        # Create the head row once; concurrent sealers then serialise on its row lock.
        if conn.dialect.name == "postgresql":
            conn.execute(text("INSERT INTO audit_chain_heads (org_id, last_seq, last_hash) "
                              "VALUES (:o, 0, :g) ON CONFLICT (org_id) DO NOTHING"), {"o": org_id, "g": GENESIS})
            head = conn.execute(select(heads.c.last_seq, heads.c.last_hash).where(heads.c.org_id == org_id)
                                .with_for_update()).one()
        else:
            head = conn.execute(select(heads.c.last_seq, heads.c.last_hash).where(heads.c.org_id == org_id)).first()
            if head is None:
                conn.execute(heads.insert().values(org_id=org_id, last_seq=0, last_hash=GENESIS))
                head = SimpleNamespace(last_seq=0, last_hash=GENESIS)
        rows = conn.execute(
            select(ar).where(ar.c.org_id == org_id, ar.c.seq.is_(None))
            .order_by(ar.c.created_at, ar.c.id).limit(batch)).all()
        if not rows:
            return 0
        seq, prev = head.last_seq, head.last_hash
        links = []
        for row in rows:
            seq += 1
            digest = _digest(row, seq, prev)
            links.append({"b_id": row.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
            prev = digest
        conn.execute(update(ar).where(ar.c.org_id == org_id, ar.c.id == bindparam("b_id"))
                     .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
                     links)
        conn.execute(update(heads).where(heads.c.org_id == org_id).values(last_seq=seq, last_hash=prev))
        return len(rows)


@dataclass
class ChainProblem:
    org_id: uuid.UUID
    seq: int | None
    record_id: str | None
    problem: str

    def __str__(self) -> str:
        return f"org {self.org_id} seq {self.seq} record {self.record_id}: {self.problem}"


@dataclass
class VerifyReport:
    checked: int
    unsealed: int
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(org_id: uuid.UUID | None = None, *, stale_after: timedelta = timedelta(minutes=5)) -> VerifyReport:
    """Recompute every sealed chain: an edited, deleted or reordered row is named."""
    problems: list[ChainProblem] = []
    checked = unsealed = 0
    with session_scope(None, system=True, reason="audit verify: recomputes every organisation's chain") as s:
        heads = {h.org_id: h for h in s.scalars(select(AuditChainHead))}
        orgs = set(heads) | set(s.scalars(select(AuditRecord.org_id).distinct()))
        if org_id is not None:
            orgs &= {org_id}
        for org in sorted(orgs, key=str):
            expected_seq, prev = 1, GENESIS
            q = (select(AuditRecord).where(AuditRecord.org_id == org, AuditRecord.seq.is_not(None))
                 .order_by(AuditRecord.seq).execution_options(yield_per=2000))
            for row in s.scalars(q):
                checked += 1
                assert row.seq is not None
                if row.seq != expected_seq:
                    problems.append(ChainProblem(org, expected_seq, None,
                                                 f"record(s) {expected_seq}..{row.seq - 1} missing (deleted)"))
                if row.prev_hash != prev:
                    problems.append(ChainProblem(org, row.seq, str(row.id),
                                                 "link broken: prev_hash does not match the previous "
                                                 "record (reordered or a record removed)"))
                if _digest(row, row.seq, row.prev_hash or "") != row.hash:
                    problems.append(ChainProblem(org, row.seq, str(row.id),
                                                 "content does not match its hash (edited)"))
                expected_seq, prev = row.seq + 1, row.hash or ""
            head = heads.get(org)
            last = expected_seq - 1
            if head is not None and head.last_seq != last:
                problems.append(ChainProblem(org, head.last_seq, None,
                                             f"chain ends at {last} but the head says {head.last_seq} "
                                             "(records at the end deleted)"))
            elif head is not None and head.last_hash != prev:
                problems.append(ChainProblem(org, head.last_seq, None, "head hash does not match the chain"))
            old = s.scalars(select(AuditRecord.id).where(
                AuditRecord.org_id == org, AuditRecord.seq.is_(None),
                AuditRecord.created_at < now() - stale_after)).all()
            unsealed += len(old)
    return VerifyReport(checked, unsealed, problems)


def list_records(
    session: Session,
    *,
    patient_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    break_glass: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditRecord]:
    """Query the organisation's audit log (the session's org scopes it)."""
    q = select(AuditRecord)
    if patient_id is not None:
        q = q.where(AuditRecord.patient_id == patient_id)
    if actor_id is not None:
        q = q.where(AuditRecord.actor_id == actor_id)
    if since is not None:
        q = q.where(AuditRecord.created_at >= since)
    if until is not None:
        q = q.where(AuditRecord.created_at < until)
    if break_glass is not None:
        q = q.where(AuditRecord.break_glass.is_(break_glass))
    q = q.order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(q))


def _audit_system_read(session: Session, reason: str, tables: list[str], per_org: dict[uuid.UUID, int]) -> None:
    """A system session read patient data: one record per organisation, with the session's reason."""
    for org_id, rows in per_org.items():
        session.add(AuditRecord(org_id=org_id, actor_id=None, actor_type="system", actor_name="system",
                                role="system", action="system.read", resource_type=",".join(tables),
                                reason=reason, detail={"rows": rows}))


set_system_read_auditor(_audit_system_read)

"""Append-only, hash-chained audit log, one chain per organisation.

Services call `record()` inside their own transaction, so the audit row commits or rolls back
with the change it describes. Rows are written unsealed (no sequence number, no hash): writers
never contend on a chain head. `seal_pending()` (run by the web process's sealer thread and
the worker every couple of seconds) takes one organisation's head row under lock, orders the
committed unsealed rows and links them: seq, prev_hash, hash. `verify()` recomputes the chain.

The links are keyed (HMAC-SHA256 under the key ring's audit key, which is not in the database),
and the sealer appends signed checkpoints to a file outside the database
(`platform.audit_checkpoints`), so rewriting the database alone cannot rewrite history unseen:
see docs/decisions.md, "Audit chain without trusting the database".
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Boolean, Connection, Index, Integer, String, Text, bindparam, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from praxis.platform import audit_checkpoints, crypto
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import Base, TenantScoped, session_scope, set_system_read_auditor
from praxis.platform.hotsql import HotStatement
from praxis.platform.ids import new_id
from praxis.platform.settings import get_settings
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
    # Links from this sequence number on are keyed; earlier ones were sealed (unkeyed SHA-256)
    # before keyed links existed. Checkpoints carry it signed, so it cannot be moved unseen.
    keyed_from_seq: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The newest created_at sealed so far: unsealed records much older than it are back-dated.
    sealed_through: Mapped[datetime | None]


# Patients named by the audit rows of the request being handled, when someone is listening (the
# idempotency middleware: a stored answer remembers whose data it may carry, so its replays are
# audited as reads of those patients).
_patients_seen: ContextVar[set[uuid.UUID] | None] = ContextVar("audit_patients_seen", default=None)


@contextmanager
def collecting_patients() -> Iterator[set[uuid.UUID]]:
    """Collect the patient ids of every audit row built inside (threads started inside included)."""
    seen: set[uuid.UUID] = set()
    token = _patients_seen.set(seen)
    try:
        yield seen
    finally:
        _patients_seen.reset(token)


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
    if patient_id is not None and (seen := _patients_seen.get()) is not None:
        seen.add(patient_id)
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


def _canonical(row: Any, seq: int, prev_hash: str) -> bytes:
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
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _digest(row: Any, seq: int, prev_hash: str, *, keyed: bool = True) -> str:
    """The link of one record: HMAC-SHA256 under the audit key; `keyed=False` only for links sealed
    before keyed links existed (plain SHA-256, which anyone can recompute)."""
    canonical = _canonical(row, seq, prev_hash)
    if not keyed:
        return hashlib.sha256(canonical).hexdigest()
    return crypto.keyring().audit_mac("link", canonical)


def _max_late() -> timedelta:
    return timedelta(seconds=get_settings().audit_max_transaction_seconds)


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


# Organisation -> time.monotonic() of this process's last checkpoint of its chain.
_checkpointed: dict[uuid.UUID, float] = {}
_checkpoint_lock = threading.Lock()


def _seal_org(org_id: uuid.UUID, batch: int) -> int:
    # Core throughout: an ORM UPDATE per row re-evaluated its criteria against every loaded
    # record (quadratic in the batch), which made sealing the web process's largest CPU cost
    # under booking load. One executemany writes the whole batch's links.
    ar, heads = AuditRecord.__table__, AuditChainHead.__table__
    cols = (heads.c.last_seq, heads.c.last_hash, heads.c.keyed_from_seq, heads.c.sealed_through)
    with session_scope(None, system=True, reason="audit sealer: one organisation's chain") as s:
        write_lock(s)
        conn = s.connection()
        # Create the head row once; concurrent sealers then serialise on its row lock.
        if conn.dialect.name == "postgresql":
            conn.execute(text("INSERT INTO audit_chain_heads (org_id, last_seq, last_hash, keyed_from_seq) "
                              "VALUES (:o, 0, :g, 1) ON CONFLICT (org_id) DO NOTHING"),
                         {"o": org_id, "g": GENESIS})
            head = conn.execute(select(*cols).where(heads.c.org_id == org_id).with_for_update()).one()
        else:
            head = conn.execute(select(*cols).where(heads.c.org_id == org_id)).first()
            if head is None:
                conn.execute(heads.insert().values(org_id=org_id, last_seq=0, last_hash=GENESIS, keyed_from_seq=1))
                head = SimpleNamespace(last_seq=0, last_hash=GENESIS, keyed_from_seq=1, sealed_through=None)
        q = select(ar).where(ar.c.org_id == org_id, ar.c.seq.is_(None))
        if head.sealed_through is not None:
            # Refuse back-dated records: nothing written by a transaction shorter than the limit can
            # be this much older than a record already sealed. They stay unsealed; verify names them.
            q = q.where(ar.c.created_at >= head.sealed_through - _max_late())
        rows = conn.execute(q.order_by(ar.c.created_at, ar.c.id).limit(batch)).all()
        if not rows:
            return 0
        seq, prev = head.last_seq, head.last_hash
        links = []
        for row in rows:
            seq += 1
            digest = _digest(row, seq, prev, keyed=seq >= head.keyed_from_seq)
            links.append({"b_id": row.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
            prev = digest
        conn.execute(update(ar).where(ar.c.org_id == org_id, ar.c.id == bindparam("b_id"))
                     .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
                     links)
        newest = rows[-1].created_at
        through = newest if head.sealed_through is None else max(head.sealed_through, newest)
        conn.execute(update(heads).where(heads.c.org_id == org_id)
                     .values(last_seq=seq, last_hash=prev, sealed_through=through))
        sealed = len(rows)
    # After the commit: a checkpoint never names a link the database might still roll back.
    _checkpoint_if_due(audit_checkpoints.Checkpoint(org_id, seq, prev, head.keyed_from_seq, through, now()))
    return sealed


def _checkpoint_if_due(checkpoint: audit_checkpoints.Checkpoint) -> None:
    interval = get_settings().audit_checkpoint_interval_seconds
    with _checkpoint_lock:
        last = _checkpointed.get(checkpoint.org_id)
        if last is not None and time.monotonic() - last < interval:
            return
        audit_checkpoints.append(checkpoint)
        _checkpointed[checkpoint.org_id] = time.monotonic()


def checkpoint(org_id: uuid.UUID | None = None) -> int:
    """Write a checkpoint of every chain (or one) now, whatever the interval: after an upgrade,
    before a planned change, or at the end of a day. Returns the checkpoints written."""
    written = 0
    with session_scope(None, system=True, reason="audit checkpoint: anchors every organisation's chain head") as s:
        q = select(AuditChainHead).where(AuditChainHead.last_seq > 0)
        if org_id is not None:
            q = q.where(AuditChainHead.org_id == org_id)
        heads = list(s.scalars(q))
    with _checkpoint_lock:
        for h in heads:
            audit_checkpoints.append(audit_checkpoints.Checkpoint(
                h.org_id, h.last_seq, h.last_hash, h.keyed_from_seq, h.sealed_through, now()))
            _checkpointed[h.org_id] = time.monotonic()
            written += 1
    return written


@dataclass
class ChainProblem:
    org_id: uuid.UUID | None  # None: a checkpoint line that names no organisation it can be trusted for
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
    checkpoints: int = 0  # signed checkpoints the chains were compared with
    unanchored: list[uuid.UUID] = field(default_factory=list)  # sealed chains no checkpoint has seen

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(org_id: uuid.UUID | None = None, *, stale_after: timedelta = timedelta(minutes=5)) -> VerifyReport:
    """Recompute every sealed chain and compare it with the signed checkpoints outside the database:
    an edited, deleted, reordered or back-dated record is named, and so is a chain rewritten or
    removed since a checkpoint saw it."""
    problems: list[ChainProblem] = []
    checked = unsealed = 0
    cps = audit_checkpoints.read(org_id)
    problems += [ChainProblem(None, None, None, f"checkpoint file line {n}: {why}") for n, why in cps.bad_lines]
    by_org: dict[uuid.UUID, list[audit_checkpoints.Checkpoint]] = {}
    for cp in cps.checkpoints:
        by_org.setdefault(cp.org_id, []).append(cp)
    unanchored: list[uuid.UUID] = []
    late = _max_late()
    with session_scope(None, system=True, reason="audit verify: recomputes every organisation's chain") as s:
        heads = {h.org_id: h for h in s.scalars(select(AuditChainHead))}
        orgs = set(heads) | set(s.scalars(select(AuditRecord.org_id).distinct())) | set(by_org)
        if org_id is not None:
            orgs &= {org_id}
        for org in sorted(orgs, key=str):
            head = heads.get(org)
            seen = by_org.get(org, [])
            problems += _disagreeing(org, seen, head)
            at_seq = {cp.seq: cp for cp in seen}
            keyed_from = head.keyed_from_seq if head is not None else 1
            expected_seq, prev = 1, GENESIS
            newest: datetime | None = None  # the newest created_at among keyed records so far
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
                keyed = row.seq >= keyed_from
                if _digest(row, row.seq, row.prev_hash or "", keyed=keyed) != row.hash:
                    problems.append(ChainProblem(org, row.seq, str(row.id),
                                                 "content does not match its hash (edited, or re-hashed "
                                                 "without the audit key)"))
                cp = at_seq.get(row.seq)
                if cp is not None and cp.hash != row.hash:
                    problems.append(ChainProblem(org, row.seq, str(row.id),
                                                 f"does not match the checkpoint of {cp.at.isoformat()} "
                                                 "(the chain was rewritten)"))
                if keyed:
                    if newest is not None and row.created_at < newest - late:
                        problems.append(ChainProblem(org, row.seq, str(row.id),
                                                     f"dated {row.created_at.isoformat()}, before records "
                                                     "sealed earlier (back-dated insert)"))
                    newest = row.created_at if newest is None else max(newest, row.created_at)
                expected_seq, prev = row.seq + 1, row.hash or ""
            last = expected_seq - 1
            furthest = max(seen, key=lambda c: c.seq, default=None)
            if furthest is not None and furthest.seq > last:
                problems.append(ChainProblem(org, last + 1, None,
                                             f"the chain ends at {last} but the checkpoint of "
                                             f"{furthest.at.isoformat()} saw it at {furthest.seq} "
                                             "(records deleted)"))
            if head is not None and head.last_seq != last:
                problems.append(ChainProblem(org, head.last_seq, None,
                                             f"chain ends at {last} but the head says {head.last_seq} "
                                             "(records at the end deleted)"))
            elif head is not None and head.last_hash != prev:
                problems.append(ChainProblem(org, head.last_seq, None, "head hash does not match the chain"))
            if last and not seen:
                unanchored.append(org)
            if newest is not None:
                # Unsealed and older than what the chain already holds: inserted after the fact.
                for rid, created in s.execute(select(AuditRecord.id, AuditRecord.created_at).where(
                        AuditRecord.org_id == org, AuditRecord.seq.is_(None),
                        AuditRecord.created_at < newest - late).limit(100)):
                    problems.append(ChainProblem(org, None, str(rid),
                                                 f"unsealed record dated {created.isoformat()}, before "
                                                 "records already sealed (back-dated insert; the sealer "
                                                 "refuses it)"))
            old = s.scalars(select(AuditRecord.id).where(
                AuditRecord.org_id == org, AuditRecord.seq.is_(None),
                AuditRecord.created_at < now() - stale_after)).all()
            unsealed += len(old)
    return VerifyReport(checked, unsealed, problems, len(cps.checkpoints), unanchored)


def _disagreeing(org: uuid.UUID, seen: list[audit_checkpoints.Checkpoint], head: AuditChainHead | None
                 ) -> list[ChainProblem]:
    """Problems between an organisation's signed checkpoints and its head in the database."""
    out: list[ChainProblem] = []
    if head is not None:
        moved = sorted({cp.keyed_from for cp in seen if cp.keyed_from != head.keyed_from_seq})
        if moved:
            out.append(ChainProblem(org, None, None,
                                    f"keyed links start at {head.keyed_from_seq} in the database but at "
                                    f"{moved[0]} in the checkpoints (the chain's key boundary was moved)"))
    hashes: dict[int, str] = {}
    for cp in seen:
        if hashes.setdefault(cp.seq, cp.hash) != cp.hash:
            out.append(ChainProblem(org, cp.seq, None, "two signed checkpoints disagree on this link"))
    return out


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

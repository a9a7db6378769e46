"""HL7 v2 inbound: route by sending facility, store raw, process once, answer one ACK.

The listener's writer calls `prepare(data, routes)` for each block and `receive_many(items)` for
a batch of them (group commit: one transaction stores the batch raw, one applies it and records
the outcomes; decisions 37 and 50); `receive(data, routes)` is the same for one block.
`replay(org_id, id, routes)` processes a stored message again after a fix (an ADT registration
or update in one transaction with its outcome and the caller's audit row). Each message goes
through `_dispatch(ctx, route, msg) -> Outcome`, whose handlers write through
`handler_session(ctx)` and call the patients' service functions (registration, update, merge)
with a system context named after the sender; this module holds no patient rules of its own.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from praxis.formats.hl7v2 import AckError, HL7ParseError, Message, build_ack, parse_message
from praxis.interop.hl7.adt import FIELD_LOCATIONS, ExternalId, external_id, patient_fields
from praxis.interop.hl7.models import Hl7Message, Hl7PatientLink
from praxis.patients import service as patients
from praxis.patients.merge import merge_patients
from praxis.patients.models import Patient, PatientLocation
from praxis.patients.schemas import PatientCreate, PatientUpdate
from praxis.platform.audit import AuditRecord
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.db import get_engine, get_or_404, session_scope
from praxis.platform.errors import NotFound, ProblemError, ValidationProblem
from praxis.platform.hotsql import HotStatement, copy_rows, json_document, pipeline
from praxis.platform.ids import new_id
from praxis.platform.outbox import OutboxMessage
from praxis.platform.uow import unit_of_work, write_lock
from praxis.practice.models import Location, Organisation

log = logging.getLogger(__name__)

REGISTER = {"A04", "A28"}
UPDATE = {"A08", "A31"}
MERGE = {"A40"}
SUPPORTED = REGISTER | UPDATE | MERGE


@dataclass(frozen=True)
class Route:
    """Where a sending facility's messages go: an organisation and (optionally) a location."""

    org_id: uuid.UUID
    location_id: uuid.UUID | None = None
    # The rest of the facility's entry (SIU identifier maps, the outbound peer: see docs/hl7.md).
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


Routes = dict[str, Route]


def load_routes(path: Path) -> Routes:
    """The facility map, a JSON file: {"MSH-4.1 value": {"org_id": "...", "location_id": "..."}}."""
    data = json.loads(path.read_text())
    return {
        facility: Route(
            uuid.UUID(v["org_id"]),
            uuid.UUID(v["location_id"]) if v.get("location_id") else None,
            {k: x for k, x in v.items() if k not in ("org_id", "location_id")},
        )
        for facility, v in data.items()
    }


@dataclass(frozen=True)
class Outcome:
    code: str  # AA | AE | AR
    text: str = ""
    errors: tuple[AckError, ...] = ()
    patient_id: uuid.UUID | None = None


def _sender(msg: Message) -> str:
    return f"{msg.sending_application}|{msg.sending_facility}"[:200]


def _ack(msg: Message, outcome: Outcome) -> str:
    return build_ack(
        msg,
        outcome.code,
        control_id=new_id().hex[:20],
        at=now(),
        text=outcome.text,
        errors=outcome.errors,
        application="PRAXIS",
    )


def _header_only(text: str) -> Message | None:
    """The MSH alone, to acknowledge a message whose body does not parse."""
    first = text.replace("\r\n", "\r").replace("\n", "\r").split("\r", 1)[0]
    try:
        return parse_message(first)
    except HL7ParseError:
        return None


@dataclass(eq=False)
class Inbound:
    """One received block on its way through the pipeline (see `receive_many`)."""

    text: str
    msg: Message
    route: Route
    sender: str
    control_id: str
    preset: Outcome | None = None  # decided before processing (a body that does not parse: AR)
    message_id: uuid.UUID | None = None
    first: Inbound | None = None  # a second copy in the same batch: answered with the first's ACK
    ack: str | None = None


def prepare(data: bytes, routes: Routes) -> Inbound | str | None:
    """Decode, parse and route one block. Returns the work item to store and process, or the
    answer itself when nothing is to be stored (unknown facility, no MSH-10, a NUL byte), or
    None when not even MSH is readable (there is no one to address an answer to)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # as the parser reads it, so the stored raw replays the same
    if "\x00" in text:
        # Never text; PostgreSQL cannot store it either. Answer if MSH reads, store nothing.
        header = _header_only(text.replace("\x00", ""))
        err = AckError("102", "the message contains a NUL byte", "MSH", 1)
        return _ack(header, Outcome("AR", "not a valid HL7 v2 message", (err,))) if header else None
    try:
        msg = parse_message(text)
    except HL7ParseError as exc:
        header = _header_only(text)
        if header is None:
            log.warning("hl7: unreadable block dropped (%s)", exc.reason)
            return None
        err = AckError("100" if exc.segment != "MSH" else "102", exc.reason[:200], exc.segment or "MSH", 1, exc.field)
        outcome = Outcome("AR", "not a valid HL7 v2 message", (err,))
        route = routes.get(header.sending_facility)
        if route is None or not header.control_id:
            return _ack(header, outcome)
        # Kept like any other message (raw, rejected) so the sender's fix can be compared with it.
        return Inbound(text, header, route, _sender(header), header.control_id[:199], preset=outcome)
    route = routes.get(msg.sending_facility)
    if route is None:
        # No organisation: nothing tenant-scoped may store it. Refused, logged without content.
        log.warning("hl7: sending facility %r is not configured; rejected", msg.sending_facility[:60])
        return _ack(
            msg,
            Outcome(
                "AR",
                "unknown sending facility",
                (
                    AckError(
                        "103", f"MSH-4 sending facility {msg.sending_facility[:60]!r} is not configured", "MSH", 1, 4
                    ),
                ),
            ),
        )
    if not msg.control_id:
        return _ack(
            msg,
            Outcome("AR", "MSH-10 required", (AckError("101", "MSH-10 message control id is required", "MSH", 1, 10),)),
        )
    return Inbound(text, msg, route, _sender(msg), msg.control_id[:199])


def receive(data: bytes, routes: Routes) -> str | None:
    """Handle one inbound block; the ACK to send back (None when not even MSH is readable)."""
    item = prepare(data, routes)
    if not isinstance(item, Inbound):
        return item
    receive_many([item])
    return item.ack


def receive_many(items: list[Inbound]) -> None:
    """Store, apply and finish a batch of prepared messages (the listener's group commit); each
    item's `ack` is set once its outcome is committed. Raises when the database fails: then no
    ACK may be sent, and the senders resend.

    Per organisation, in message order: a run of messages whose handlers write in the batch's
    transaction (`BATCHED`: ADT registrations and updates) is stored raw in one transaction
    (committed before any is processed), then applied and finished in a second; a message whose
    handler fails is undone alone (the savepoint pass) and answered AE. Nothing is acknowledged
    before the second commit. A message whose handler needs its own transactions (A40, SIU,
    anything not in `BATCHED`) is stored in its own transaction and then processed alone, after
    the run before it committed (decisions 37 and 50)."""
    by_org: dict[uuid.UUID, list[Inbound]] = {}
    for item in items:
        by_org.setdefault(item.route.org_id, []).append(item)
    for org_id, group in by_org.items():
        run: list[Inbound] = []
        for item in _first_copies(group):
            if item.preset is None and (item.msg.message_type, item.msg.trigger_event) not in BATCHED:
                _apply_run(org_id, run)
                run = []
                _receive_alone(org_id, item)
            else:
                run.append(item)
        _apply_run(org_id, run)
        for item in group:
            if item.first is not None:
                item.ack = item.first.ack  # the same message twice in one batch: applied once


def _first_copies(items: list[Inbound]) -> list[Inbound]:
    """The batch without its second copies (same sender and MSH-10): those take the first's ACK."""
    seen: dict[tuple[str, str], Inbound] = {}
    for item in items:
        key = (item.sender, item.control_id)
        if key in seen:
            item.first = seen[key]
        else:
            seen[key] = item
    return list(seen.values())


def _receive_alone(org_id: uuid.UUID, item: Inbound) -> None:
    item.message_id, stored_ack, is_new = _store(org_id, item.msg, item.text)
    if is_new:
        item.ack = _process_stored(item.route, item.message_id, item.msg)
    else:
        item.ack = stored_ack or _in_flight(item.msg)


_EXISTING = HotStatement(
    select(Hl7Message.sender, Hl7Message.control_id, Hl7Message.id, Hl7Message.ack).where(
        Hl7Message.org_id == bindparam("org_id"),
        Hl7Message.sender.in_(bindparam("senders", expanding=True)),
        Hl7Message.control_id.in_(bindparam("controls", expanding=True)),
    )
)

# PostgreSQL: the run's raw rows in one statement that also tells the resends apart (the rows it
# did not insert), instead of a query for existing rows and then the insert; a copy being stored
# by a concurrent transaction makes it wait for that one's outcome, as the unique key says.
_INSERT_RAW_SET = HotStatement(text(
    "INSERT INTO hl7_messages AS m (id, org_id, sender, control_id, raw, message_type, status, ack_code, ack,"
    " error, attempts, patient_id, received_at, processed_at)"
    " SELECT v.id, :org_id, v.sender, v.control_id, v.raw, v.message_type, 'received', '', '', '', 0, NULL,"
    " :received_at, NULL"
    " FROM json_to_recordset(CAST(:rows AS json))"
    " AS v(id uuid, sender varchar, control_id varchar, raw text, message_type varchar)"
    " ON CONFLICT (org_id, sender, control_id) DO NOTHING RETURNING m.id"
))


# The raw rows' own transaction commits without waiting for the disk (decision 50): it is
# durable before any ACK all the same, because the apply transaction's commit, which does wait,
# flushes the write-ahead log up to itself and so past this one. What the early commit is for is
# a listener that crashes while processing: the row is in the database, a resend is answered 206
# instead of crashing the listener again, and `praxis hl7 replay` takes it from there.
_ASYNC_COMMIT = HotStatement(text("SET LOCAL synchronous_commit TO OFF"))


def _store_run(org_id: uuid.UUID, items: list[Inbound]) -> list[Inbound]:
    """Insert a run's new messages raw and commit, before any is processed; answer the resends
    with their stored ACK. Returns the items to process."""
    for item in items:
        item.message_id, item.ack = new_id(), None
    if get_engine().dialect.name == "postgresql":
        inserted = _insert_raw_pg(org_id, items)
        fresh = [i for i in items if i.message_id in inserted]
        resent = [i for i in items if i.message_id not in inserted]
        if resent:
            with session_scope(org_id) as session:
                _answer_resent(session.connection(), org_id, resent)
        return fresh
    with session_scope(org_id) as session:
        # SQLite: the write lock first, so nothing comes between the read and the insert.
        write_lock(session)
        conn = session.connection()
        stored = {(r.sender, r.control_id) for r in _EXISTING.rows(conn, {
            "org_id": org_id, "senders": sorted({i.sender for i in items}),
            "controls": sorted({i.control_id for i in items})})}
        fresh = [i for i in items if (i.sender, i.control_id) not in stored]
        resent = [i for i in items if (i.sender, i.control_id) in stored]
        if fresh:
            _INSERT_RAW.run_many(conn, [_raw_row(org_id, item) for item in fresh])
        _answer_resent(conn, org_id, resent)
    return fresh


def _insert_raw_pg(org_id: uuid.UUID, items: list[Inbound]) -> set[uuid.UUID]:
    """PostgreSQL: the run's raw rows stored and committed in one round trip (BEGIN, the setting,
    the insert and COMMIT queued together on a connection that SQLAlchemy leaves in autocommit
    mode, so that neither psycopg's BEGIN nor its COMMIT waits on its own). Returns the ids it
    inserted; the others are resends."""
    with get_engine().connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        driver = conn.connection.driver_connection
        assert driver is not None
        with pipeline(conn):
            driver.execute(b"BEGIN")
            _ASYNC_COMMIT.run(conn)
            rows = _INSERT_RAW_SET.rows_later(conn, {
                "org_id": org_id, "received_at": now(),
                # One JSON document rather than five arrays, which psycopg dumps value by value.
                "rows": json_document([{"id": i.message_id, "sender": i.sender, "control_id": i.control_id,
                                        "raw": i.text,
                                        "message_type": f"{i.msg.message_type}^{i.msg.trigger_event}"[:20]}
                                       for i in items]),
            })
            driver.execute(b"COMMIT")
        # The pipeline has synced: a failure of any of them was raised above, and the rows are in.
        return {r.id for r in rows()}


def _answer_resent(conn: Connection, org_id: uuid.UUID, resent: list[Inbound]) -> None:
    """Messages stored already (a resend, or a copy a concurrent transaction stored first): their
    stored ACK, or "being processed" while they have none."""
    if not resent:
        return
    found = {(r.sender, r.control_id): r for r in _EXISTING.rows(conn, {
        "org_id": org_id, "senders": sorted({i.sender for i in resent}),
        "controls": sorted({i.control_id for i in resent})})}
    for item in resent:
        row = found[(item.sender, item.control_id)]
        item.message_id, item.ack = row.id, row.ack or _in_flight(item.msg)


def _raw_row(org_id: uuid.UUID, item: Inbound) -> dict[str, Any]:
    return {
        "id": item.message_id,
        "org_id": org_id,
        "sender": item.sender,
        "control_id": item.control_id,
        "raw": item.text,
        "message_type": f"{item.msg.message_type}^{item.msg.trigger_event}"[:20],
        "status": "received",
        "ack_code": "",
        "ack": "",
        "error": "",
        "attempts": 0,
        "patient_id": None,
        "received_at": now(),
        "processed_at": None,
    }


_INSERT_RAW = HotStatement(Hl7Message.__table__.insert())
_FINISH = HotStatement(
    update(Hl7Message.__table__)
    .where(Hl7Message.__table__.c.org_id == bindparam("b_org_id"), Hl7Message.__table__.c.id == bindparam("b_id"))
    .values(
        status=bindparam("status"),
        ack_code=bindparam("ack_code"),
        ack=bindparam("ack"),
        error=bindparam("error"),
        attempts=Hl7Message.__table__.c.attempts + 1,
        patient_id=bindparam("patient_id"),
        processed_at=bindparam("processed_at"),
    )
)


def _in_flight(msg: Message) -> str:
    # A copy is being processed right now (or a crash left it unprocessed: `praxis hl7 replay`).
    # Never process it a second time; the sender's retry will get the stored ACK.
    return _ack(msg, Outcome("AE", "being processed; resend later", (
        AckError("206", "this message (sender and MSH-10) is already being processed", "MSH", 1, 10),)))


DEADLOCK_RETRIES = 3

# Events whose handler writes only through `handler_session`, so they can share the batch's
# transaction. Anything else (A40's merge opens its own units of work; a handler added without
# this) runs alone, after the batch so far has committed.
BATCHED: set[tuple[str, str]] = {("ADT", e) for e in REGISTER | UPDATE}


@dataclass
class _Batch:
    session: Session
    savepoints: bool
    # The sender identifiers of the batch, read in one query (None: not linked), and the links a
    # message being processed adds, kept once its handler's block succeeds.
    links: dict[ExternalId, uuid.UUID | None] = field(default_factory=dict)
    pending: dict[ExternalId, uuid.UUID] = field(default_factory=dict)
    keep: list[Any] = field(default_factory=list)
    deferred: list[Any] = field(default_factory=list)  # inserts held back to the batch's last flush
    # Registrations done set-based before the batch's messages run (`_register_ahead`): each
    # message's outcome, and each identifier's patient with the position of its message, so a
    # message before that position still finds the identifier unknown.
    planned: dict[int, Outcome] = field(default_factory=dict)
    ahead: dict[ExternalId, tuple[int, uuid.UUID]] = field(default_factory=dict)
    position: int = 0


_BATCH: ContextVar[_Batch | None] = ContextVar("hl7_batch", default=None)
_DEFERRABLE = (AuditRecord, OutboxMessage, Hl7PatientLink, PatientLocation)


class _Redo(BaseException):
    """A handler failed inside a batch run without savepoints: run the batch again with them.
    (BaseException: no handler's `except Exception` may swallow it.)"""


@contextmanager
def handler_session(ctx: Context) -> Iterator[Session]:
    """The unit of work a message handler writes in. Inside a batch it is the batch's
    transaction; the handler's changes are undone on any exception escaping this block (the
    optimistic run is redone with a SAVEPOINT per message), so a failed message changes
    nothing and the others still commit (a replay is a batch of one, with savepoints). Outside a
    batch (`_dispatch` called alone) it is the handler's own unit of work. Either way the SQLite write lock is taken."""
    batch = _BATCH.get()
    if batch is None:
        with unit_of_work(ctx) as session:
            # SQLite: read-then-write; take the write lock before the first read, or a concurrent
            # writer (another connection storing a message) makes the lock upgrade fail at once.
            # (A batch took it when it began.)
            write_lock(session)
            yield session
        return
    session = batch.session
    session.info["ctx"] = ctx
    batch.pending.clear()
    if batch.savepoints:
        with session.begin_nested():
            yield session
    else:
        # No flush per message: the batch's inserts go out together (multi-row), and a failure
        # at any later flush also redoes the batch with savepoints, which names the message.
        try:
            yield session
        except BaseException as exc:
            raise _Redo from exc
        # Rows no later message of the batch reads (audit, outbox, links, location links) leave the
        # session until the batch's last flush: otherwise the next registration's own flush would
        # send them, one statement per table per message.
        deferred = [obj for obj in session.new if isinstance(obj, _DEFERRABLE)]
        for obj in deferred:
            session.expunge(obj)
        batch.deferred.extend(deferred)
    batch.links.update(batch.pending)


def _apply_run(org_id: uuid.UUID, items: list[Inbound]) -> None:
    """Store a run of messages raw (one transaction), then apply them and record their outcomes
    (another): first without savepoints (one round trip fewer each); if a handler fails after
    writing, that transaction is rolled back and run again with a SAVEPOINT per message. Each
    item's `ack` is set once its outcome is committed."""
    if not items:
        return
    items = _store_run(org_id, items)
    if not items:
        return
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            try:
                acks = _apply_once(org_id, items, savepoints=False)
            except _Redo:
                acks = _apply_once(org_id, items, savepoints=True)
            break
        except DBAPIError as exc:
            # Two writers' batches can wait on each other's rows (the MRN counter, a patient two
            # senders update at once); PostgreSQL aborts one. Nothing of it committed: run it again.
            if attempt == DEADLOCK_RETRIES or getattr(exc.orig, "sqlstate", None) not in ("40P01", "40001"):
                raise
            log.warning("hl7: a batch of %d message(s) was aborted by the database (%s); retrying",
                        len(items), getattr(exc.orig, "sqlstate", ""))
    for item, ack in zip(items, acks, strict=True):
        item.ack = ack


def _apply_once(org_id: uuid.UUID, items: list[Inbound], *, savepoints: bool) -> list[str]:
    """One transaction: each message applied in order, then every outcome and ACK. Returns the
    ACKs (true once this returned: committed)."""
    with session_scope(org_id) as session:
        if savepoints or get_engine().dialect.name != "postgresql":
            write_lock(session)
            return _apply_in(session, org_id, items, savepoints=savepoints)
        # PostgreSQL, the optimistic pass: its BEGIN and COMMIT go out with its first read and its
        # last writes (`_apply_in` queues them in the pipeline on a connection SQLAlchemy leaves
        # in autocommit mode), not as two round trips of their own. The session's commit then
        # finds the transaction ended and does nothing; a failure rolls it back as usual.
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return _apply_in(session, org_id, items, savepoints=False, explicit=True)


def _apply_in(session: Session, org_id: uuid.UUID, items: list[Inbound], *, savepoints: bool,
              explicit: bool = False) -> list[str]:
    """Apply a batch in `session`'s transaction (see `_apply_once`); `explicit`: the connection is
    in autocommit mode and the transaction is begun and committed here, inside the pipeline."""
    acks: list[str] = []
    finished: list[dict[str, Any]] = []
    batch = _Batch(session, savepoints)
    token = _BATCH.set(batch)
    autoflush = session.autoflush
    if not savepoints:
        # The optimistic pass writes everything at the end of the batch: the inserts of all its
        # messages go out together as multi-row statements. What a later message's handler
        # reads is flushed already (registration flushes the patient; links are in the batch's
        # own map). The savepoint pass flushes per message.
        session.autoflush = False
    # The optimistic pass in pipeline mode: its writes (registrations, links, audit rows, events,
    # outcomes) are queued and go out with the next read or the commit, not a round trip each. The
    # savepoint pass, which exists to name a failing message, sends each statement on its own.
    try:
        with nullcontext() if savepoints else pipeline(session.connection()):
            driver = session.connection().connection.driver_connection
            if explicit:
                driver.execute(b"BEGIN")  # type: ignore[union-attr]
            _prefetch(batch, org_id, items)
            if not savepoints:
                try:
                    _register_ahead(batch, items)
                    _update_ahead(batch, items)
                except Exception as exc:
                    raise _Redo from exc  # the savepoint pass applies one by one and names the culprit
            for position, item in enumerate(items):
                batch.position = position
                outcome = item.preset or batch.planned.get(position) or _outcome(item.route, item.msg,
                                                                                 item.message_id)
                ack = _ack(item.msg, outcome)
                acks.append(ack)
                finished.append(_finish_row(org_id, item.message_id, outcome, ack))  # type: ignore[arg-type]
            try:
                session.add_all(batch.deferred)
                session.flush()
                _finish_many(session, org_id, finished)
                if explicit:
                    driver.execute(b"COMMIT")  # type: ignore[union-attr]
            except Exception as exc:
                if savepoints:
                    raise
                raise _Redo from exc
    except DBAPIError as exc:
        # In pipeline mode a failed write surfaces at a later statement: a deadlock is retried as
        # such, anything else is named by the savepoint pass.
        if savepoints or getattr(exc.orig, "sqlstate", None) in ("40P01", "40001"):
            raise
        raise _Redo from exc
    finally:
        _BATCH.reset(token)
        session.autoflush = autoflush
    return acks


# PostgreSQL: the batch's outcomes as one statement (one parse, plan and execution for the batch
# instead of one per message); the rows travel as one JSON document, so the SQL is the same at any
# size. The ids again as an array: the join alone was planned as a scan of the organisation's
# every stored message (3.9 ms at 3,500 rows, growing with the log), the array makes it an index
# lookup of the batch's rows (0.8 ms).
_FINISH_SET = HotStatement(text(
    "UPDATE hl7_messages AS m SET status = v.status, ack_code = v.ack_code, ack = v.ack, error = v.error,"
    " attempts = m.attempts + 1, patient_id = v.patient_id, processed_at = v.processed_at"
    " FROM json_to_recordset(CAST(:rows AS json))"
    " AS v(id uuid, status varchar, ack_code varchar, ack text, error text, patient_id uuid, processed_at timestamptz)"
    " WHERE m.org_id = :org_id AND m.id = v.id AND m.id = ANY(CAST(:ids AS uuid[]))"
))


def _finish_many(session: Session, org_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """Record a batch's outcomes and ACKs: one UPDATE on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        _FINISH.run_many(conn, rows)
        return
    _FINISH_SET.run(conn, {
        "org_id": org_id,
        "ids": "{" + ",".join(str(r["b_id"]) for r in rows) + "}",
        "rows": json_document([{"id": r["b_id"], "status": r["status"], "ack_code": r["ack_code"], "ack": r["ack"],
                                "error": r["error"], "patient_id": r["patient_id"],
                                "processed_at": r["processed_at"]} for r in rows]),
    })


def _outcome(route: Route, msg: Message, message_id: uuid.UUID | None) -> Outcome:
    ctx = system_context(route.org_id, f"hl7:{_sender(msg)}"[:80])
    try:
        return _dispatch(ctx, route, msg)
    except Exception:
        if _BATCH.get() is not None and not _BATCH.get().savepoints:  # type: ignore[union-attr]
            raise _Redo from None  # the shared transaction may hold its partial writes
        log.exception("hl7: processing %s failed", message_id)
        return Outcome("AE", "application error", (AckError("207", "internal error; the message is kept for replay"),))


def _finish_row(org_id: uuid.UUID, message_id: uuid.UUID, outcome: Outcome, ack: str) -> dict[str, Any]:
    return {
        "b_org_id": org_id,
        "b_id": message_id,
        "status": {"AA": "processed", "AE": "failed", "AR": "rejected"}[outcome.code],
        "ack_code": outcome.code,
        "ack": ack,
        "error": "; ".join(e.text for e in outcome.errors if e.severity == "E"),
        "patient_id": outcome.patient_id,
        "processed_at": now(),
    }


# --- one message at a time (a lost race in _store_many, A40, SIU, replay) ------------------------


def _store(org_id: uuid.UUID, msg: Message, text: str) -> tuple[uuid.UUID, str, bool]:
    """Insert the raw message (its own transaction, before processing); on a resend return the
    existing row and its ACK."""
    sender = _sender(msg)
    control_id = msg.control_id[:199]
    find = select(Hl7Message.id, Hl7Message.ack).where(
        Hl7Message.org_id == org_id, Hl7Message.sender == sender, Hl7Message.control_id == control_id
    )
    with session_scope(org_id) as session:
        # SQLite: take the write lock first, or two copies both read "absent" and one of them
        # fails to upgrade its lock ("database is locked"). PostgreSQL: the unique key decides.
        write_lock(session)
        found = session.execute(find).first()
        if found is not None:
            return found.id, found.ack or "", False
        row = Hl7Message(
            org_id=org_id,
            sender=sender,
            control_id=control_id,
            raw=text,
            message_type=f"{msg.message_type}^{msg.trigger_event}"[:20],
        )
        session.add(row)
        try:
            session.flush()
            return row.id, "", True
        except IntegrityError:
            session.rollback()
    # Lost the race to a concurrent copy of the same message: answer with that copy's result.
    with session_scope(org_id) as session:
        found = session.execute(find).one()
        return found.id, found.ack or "", False


# Called in the transaction that records a replay's outcome, with the message row as it now stands
# (the caller's audit row of who asked): if it raises, the outcome is not recorded.
OnFinish = Callable[[Session, Hl7Message], None]


def _process_stored(route: Route, message_id: uuid.UUID, msg: Message, on_finish: OnFinish | None = None) -> str:
    ctx = system_context(route.org_id, f"hl7:{_sender(msg)}"[:80])
    try:
        outcome = _dispatch(ctx, route, msg)
    except Exception:
        log.exception("hl7: processing %s failed", message_id)
        outcome = Outcome(
            "AE", "application error", (AckError("207", "internal error; the message is kept for replay"),)
        )
    ack = _ack(msg, outcome)
    _finish(route.org_id, message_id, outcome, ack, on_finish)
    return ack


def _finish(org_id: uuid.UUID, message_id: uuid.UUID, outcome: Outcome, ack: str,
            on_finish: OnFinish | None = None) -> None:
    status = {"AA": "processed", "AE": "failed", "AR": "rejected"}[outcome.code]
    with session_scope(org_id) as session:
        write_lock(session)  # read-then-write: see _store
        row = get_or_404(session, Hl7Message, message_id, "HL7 message")
        row.status = status
        row.ack_code = outcome.code
        row.ack = ack
        row.error = "; ".join(e.text for e in outcome.errors if e.severity == "E")
        row.attempts += 1
        row.patient_id = outcome.patient_id
        row.processed_at = now()
        if on_finish is not None:
            session.flush()
            on_finish(session, row)


def _replayable(session: Session, org_id: uuid.UUID, message_id: uuid.UUID, *, lock: bool = False) -> Hl7Message:
    q = select(Hl7Message).where(Hl7Message.org_id == org_id, Hl7Message.id == message_id)
    # PostgreSQL: a second replay of the same message waits here, then finds it processed (409).
    row = session.scalars(q.with_for_update() if lock else q).first()
    if row is None:
        raise NotFound("No such HL7 message")
    if row.status == "processed":
        raise ProblemError(
            "This message was processed already; replaying it would apply it twice",
            field="message_id",
            status=409,
            type="conflict",
        )
    return row


def replay(org_id: uuid.UUID, message_id: uuid.UUID, routes: Routes, *, on_finish: OnFinish | None = None) -> str:
    """Process a stored message again (after a fix); refused for one already processed (AA),
    which would apply it twice. Returns the new ACK (also stored).

    `on_finish(session, row)` runs in the transaction that records the outcome, after it (the
    screen's and the API's audit row of who asked): if it raises, nothing of the replay is
    recorded. For the events `BATCHED` lists (ADT registrations and updates) that transaction is
    also the one the change is made in, so then nothing of the replay happens at all; any other
    handler (A40, SIU) commits its change in its own units of work first, as at reception, and a
    failure after it leaves the message with its old status and the change made (decision 54)."""
    with session_scope(org_id) as session:
        raw = _replayable(session, org_id, message_id).raw
    try:
        msg = parse_message(raw)
    except HL7ParseError as exc:
        raise ValidationProblem(f"The stored message does not parse: {exc}", field="raw") from exc
    route = routes.get(msg.sending_facility) or Route(org_id)
    if route.org_id != org_id:
        route = Route(org_id)
    if (msg.message_type, msg.trigger_event) not in BATCHED:
        return _process_stored(route, message_id, msg, on_finish)
    with session_scope(org_id) as session:
        write_lock(session)
        row = _replayable(session, org_id, message_id, lock=True)  # again, under the lock
        item = Inbound(row.raw, msg, route, _sender(msg), msg.control_id[:199], message_id=message_id)
        # As the listener's savepoint pass: a failing handler is undone alone and answered AE.
        (ack,) = _apply_in(session, org_id, [item], savepoints=True)
        if on_finish is not None:
            session.refresh(row)  # the outcome was written with Core (_finish_many)
            on_finish(session, row)
    return ack


# --- processing ---------------------------------------------------------------------------------

# Message types other than ADT, by MSH-9.1: each handler applies a stored message (siu.py registers SIU).
HANDLERS: dict[str, Callable[[Context, Route, Message], Outcome]] = {}


def _dispatch(ctx: Context, route: Route, msg: Message) -> Outcome:
    if msg.message_type in HANDLERS:
        return HANDLERS[msg.message_type](ctx, route, msg)
    if msg.message_type != "ADT":
        return Outcome(
            "AR",
            f"message type {msg.message_type} is not supported",
            (AckError("200", f"MSH-9.1 message type {msg.message_type[:10]!r} is not supported", "MSH", 1, 9, 1),),
        )
    event = msg.trigger_event
    if event not in SUPPORTED:
        return Outcome(
            "AR",
            f"event {event} is not supported",
            (AckError("201", f"MSH-9.2 event {event[:10]!r} is not supported", "MSH", 1, 9, 2),),
        )
    pid = msg.segment("PID")
    if pid is None:
        return Outcome("AE", "PID missing", (AckError("100", "the PID segment is required", "PID", 1),))
    key = external_id(pid, 3, msg.sending_facility)
    if key is None:
        return Outcome(
            "AE",
            "patient identifier missing",
            (AckError("101", "PID-3 patient identifier list is required", "PID", 1, 3, 1),),
        )
    if event in MERGE:
        return _merge(ctx, msg, key)
    mapped = patient_fields(pid, partial=event in UPDATE)
    if mapped.errors:
        return Outcome("AE", mapped.errors[0].text[:80], tuple(mapped.errors + mapped.warnings))
    try:
        with handler_session(ctx) as session:
            existing = _linked(session, ctx.org_id, key)
            if existing is None and event == "A08":
                return Outcome(
                    "AE",
                    "unknown patient",
                    (
                        AckError(
                            "204", f"PID-3 identifier {key.value!r} ({key.authority}) is not known", "PID", 1, 3, 1
                        ),
                    ),
                )
            if existing is None:
                # A28 / A04 register; an A31 for an unknown patient is the sender's master file
                # adding them, which is a registration too. Matching: the sender's identifier
                # decides; a similar record elsewhere is flagged by registration's duplicate check
                # (audited) and left to staff to merge, as self-service registration does.
                create = PatientCreate.model_validate({**mapped.values, "confirm_duplicate": True})
                patient = patients.register_patient_in(session, ctx, create, location_id=route.location_id)
                session.add(
                    Hl7PatientLink(
                        org_id=ctx.org_id, authority=key.authority, external_id=key.value, patient_id=patient.id
                    )
                )
                _remember_link(key, patient.id)
                patient_id = patient.id
            else:
                update = PatientUpdate.model_validate(mapped.values)
                batch = _BATCH.get()
                patient_id = patients.update_patient_in(
                    session, ctx, existing, update, detail={"via": "hl7", "event": event},
                    # The optimistic pass flushes the batch's UPDATEs together at its end.
                    flush=batch is None or batch.savepoints,
                ).id
    except ValidationError as exc:
        return Outcome("AE", "invalid patient data", tuple(_validation_errors(exc)) + tuple(mapped.warnings))
    except ProblemError as exc:
        return Outcome("AE", exc.detail[:80], (_problem_error(exc),))
    return Outcome("AA", "", tuple(mapped.warnings), patient_id)


def _merge(ctx: Context, msg: Message, survivor_key: ExternalId) -> Outcome:
    mrg = msg.segment("MRG")
    if mrg is None:
        return Outcome("AE", "MRG missing", (AckError("100", "A40 needs an MRG segment", "MRG", 1),))
    merged_key = external_id(mrg, 1, msg.sending_facility)
    if merged_key is None:
        return Outcome(
            "AE",
            "prior identifier missing",
            (AckError("101", "MRG-1 prior patient identifier is required", "MRG", 1, 1, 1),),
        )
    with session_scope(ctx.org_id) as session:
        survivor = _linked(session, ctx.org_id, survivor_key)
        merged = _linked(session, ctx.org_id, merged_key)
    if survivor is None:
        return Outcome(
            "AE",
            "unknown patient",
            (
                AckError(
                    "204",
                    f"PID-3 identifier {survivor_key.value!r} ({survivor_key.authority}) is not known",
                    "PID",
                    1,
                    3,
                    1,
                ),
            ),
        )
    if merged is None:
        return Outcome(
            "AE",
            "unknown prior patient",
            (
                AckError(
                    "204",
                    f"MRG-1 identifier {merged_key.value!r} ({merged_key.authority}) is not known",
                    "MRG",
                    1,
                    1,
                    1,
                ),
            ),
        )
    if survivor == merged:
        return Outcome("AA", "already merged", (), survivor)
    try:
        merge_patients(ctx, survivor, merged, f"HL7 A40 {msg.control_id[:40]} from {_sender(msg)[:80]}")
    except ProblemError as exc:
        return Outcome(
            "AE", exc.detail[:80], (AckError("207" if exc.status >= 500 else "206", exc.detail[:200], "MRG", 1, 1, 1),)
        )
    return Outcome("AA", "", (), survivor)


def _prefetch(batch: _Batch, org_id: uuid.UUID, items: list[Inbound]) -> None:
    """Read in one query each what the batch's ADT messages will look up one by one: the links of
    every identifier they name with the linked patients, and the organisation and the routes'
    locations. The session holds loaded rows weakly, so the batch keeps them (`keep`) for
    `session.get`. Read in every batch (no cache across batches): a change to the organisation, a
    location or a patient is seen by the next batch."""
    session = batch.session
    keys: set[ExternalId] = set()
    registering: set[ExternalId] = set()
    updating = False
    others = False  # a message that is not a plain ADT one (SIU...): it may read the organisation
    for item in items:
        if item.preset is None and item.msg.message_type == "ADT":
            pid = item.msg.segment("PID")
            key = external_id(pid, 3, item.msg.sending_facility) if pid is not None else None
            if key is not None:
                keys.add(key)
                if item.msg.trigger_event in REGISTER or item.msg.trigger_event == "A31":
                    registering.add(key)
                if item.msg.trigger_event not in REGISTER:
                    updating = True
        elif item.preset is None:
            others = True
    found: dict[ExternalId, uuid.UUID] = {}
    if keys:
        params = {"org_id": org_id, "authorities": sorted({k.authority for k in keys}),
                  "values": sorted({k.value for k in keys})}
        if updating and batch.savepoints:
            # The savepoint pass updates one by one (`update_patient_in`): the links and their
            # patients in one statement (the patients into the identity map, for `session.get`).
            for r in session.execute(_LINKS_AND_PATIENTS, params):
                found[ExternalId(r.authority, r.external_id)] = r.patient_id
                if r.Patient is not None:
                    batch.keep.append(r.Patient)
        else:
            # The links alone, on the driver's cursor: the first pass's updates read their
            # patients set-based (`_update_ahead`).
            for r in _LINKS.rows(session.connection(), params):
                found[ExternalId(r.authority, r.external_id)] = r.patient_id
        for key in keys:
            batch.links[key] = found.get(key)
    # Registrations to come (identifiers not linked yet, each once): their MRNs in one reservation.
    new_keys = {k for k in registering if found.get(k) is None}
    if new_keys or others or not keys:
        # The organisation and the routes' locations in one statement (the identity map then
        # answers registration's `session.get`s). A batch of updates alone does not read them.
        location_ids = sorted({i.route.location_id for i in items if i.route.location_id is not None})
        if location_ids:
            for org, location in session.execute(
                select(Organisation, Location)
                .outerjoin(Location, (Location.org_id == Organisation.id) & Location.id.in_(location_ids))
                .where(Organisation.id == org_id)
            ):
                batch.keep.extend((org, location))
        else:
            batch.keep.append(session.get(Organisation, org_id))
    if new_keys:
        # One alone too: the reservation's Core statements cost less than `next_mrn`'s ORM query.
        patients.reserve_mrns(session, org_id, len(new_keys))


# The authority too, though the caller matches both exactly: the unique index is (org_id,
# authority, external_id), and without it PostgreSQL read every link of the organisation on each
# batch (7.8 ms at 11,000 links, against 0.05 ms).
_LINK_WHERE = (
    Hl7PatientLink.org_id == bindparam("org_id"),
    Hl7PatientLink.authority.in_(bindparam("authorities", expanding=True)),
    Hl7PatientLink.external_id.in_(bindparam("values", expanding=True)),
)
_LINKS = HotStatement(
    select(Hl7PatientLink.authority, Hl7PatientLink.external_id, Hl7PatientLink.patient_id).where(*_LINK_WHERE)
)
_LINKS_AND_PATIENTS = (
    select(Hl7PatientLink.authority, Hl7PatientLink.external_id, Hl7PatientLink.patient_id, Patient)
    .outerjoin(Patient, (Patient.org_id == Hl7PatientLink.org_id) & (Patient.id == Hl7PatientLink.patient_id))
    .where(*_LINK_WHERE)
)


def _register_ahead(batch: _Batch, items: list[Inbound]) -> None:
    """Register the batch's new patients set-based (`patients.register_patients_in`: one duplicate
    query and one multi-row INSERT per table) before its messages run one by one. A registration
    is a message that `_dispatch` would turn into one: an A04/A28/A31 whose identifier no earlier
    message of the batch (nor a stored link) names, whose PID maps and validates. Anything else,
    failures included, is left to `_dispatch`, which answers it as before. Order is kept where it
    shows: the registrations are made in message order, and a message before a registration's
    position finds its identifier unknown (`_linked`). The one difference: their duplicate checks
    see the patients as they were before the batch's updates (docs/hl7.md)."""
    known = {k for k, v in batch.links.items() if v is not None}
    groups: dict[tuple[str, uuid.UUID | None], list[tuple[int, Inbound, ExternalId, PatientCreate, Any]]] = {}
    for position, item in enumerate(items):
        msg = item.msg
        if item.preset is not None or msg.message_type != "ADT" or msg.message_type in HANDLERS:
            continue
        event = msg.trigger_event
        if event not in REGISTER and event != "A31":
            continue
        pid = msg.segment("PID")
        key = external_id(pid, 3, msg.sending_facility) if pid is not None else None
        if key is None or key in known:
            continue
        mapped = patient_fields(pid, partial=event in UPDATE)  # type: ignore[arg-type]
        if mapped.errors:
            continue
        try:
            create = PatientCreate.model_validate({**mapped.values, "confirm_duplicate": True})
        except ValidationError:
            continue
        known.add(key)
        group = groups.setdefault((_sender(msg), item.route.location_id), [])
        group.append((position, item, key, create, mapped.warnings))
    for (sender, location_id), group in groups.items():
        ctx = system_context(group[0][1].route.org_id, f"hl7:{sender}"[:80])
        batch.session.info["ctx"] = ctx
        try:
            results = patients.register_patients_in(batch.session, ctx, [g[3] for g in group],
                                                    location_id=location_id)
        except ProblemError:
            continue  # (a location out of scope) each message gets its answer from _dispatch
        links = []
        for (position, _item, key, _create, warnings), result in zip(group, results, strict=True):
            if result.patient_id is None:
                continue  # refused: _dispatch answers it, and writes nothing either
            links.append({"org_id": ctx.org_id, "id": new_id(), "authority": key.authority,
                          "external_id": key.value, "patient_id": result.patient_id, "created_at": now()})
            batch.ahead[key] = (position, result.patient_id)
            batch.planned[position] = Outcome("AA", "", tuple(warnings), result.patient_id)
        copy_rows(batch.session.connection(), Hl7PatientLink.__table__, links)


def _update_ahead(batch: _Batch, items: list[Inbound]) -> None:
    """Apply the batch's updates set-based (`patients.update_patients_in`: one read of the patients
    and one UPDATE per set of changed columns), after its registrations and before the rest runs
    one by one. An update is a message `_dispatch` would turn into one: an A04/A08/A28/A31 whose
    identifier is linked at its position (before the batch, or registered ahead by an earlier
    message), whose PID maps and validates. Consecutive updates from one sender go together, in
    order; anything else, failures included, is left to `_dispatch`."""
    run: list[tuple[int, uuid.UUID, PatientUpdate, dict[str, Any], tuple[AckError, ...]]] = []
    run_sender = ""
    for position, item in enumerate(items):
        msg = item.msg
        if (item.preset is not None or position in batch.planned or msg.message_type != "ADT"
                or msg.message_type in HANDLERS or msg.trigger_event not in REGISTER | UPDATE):
            continue
        pid = msg.segment("PID")
        key = external_id(pid, 3, msg.sending_facility) if pid is not None else None
        if key is None:
            continue
        batch.position = position
        patient_id = _linked(batch.session, item.route.org_id, key)
        if patient_id is None:
            continue
        mapped = patient_fields(pid, partial=msg.trigger_event in UPDATE)  # type: ignore[arg-type]
        if mapped.errors:
            continue
        try:
            data = PatientUpdate.model_validate(mapped.values)
        except ValidationError:
            continue
        sender = _sender(msg)
        if run and sender != run_sender:
            _update_run(batch, items, run_sender, run)
            run = []
        run_sender = sender
        run.append((position, patient_id, data, {"via": "hl7", "event": msg.trigger_event}, tuple(mapped.warnings)))
    if run:
        _update_run(batch, items, run_sender, run)
    batch.position = 0


def _update_run(batch: _Batch, items: list[Inbound], sender: str,
                run: list[tuple[int, uuid.UUID, PatientUpdate, dict[str, Any], tuple[AckError, ...]]]) -> None:
    ctx = system_context(items[run[0][0]].route.org_id, f"hl7:{sender}"[:80])
    batch.session.info["ctx"] = ctx
    results = patients.update_patients_in(batch.session, ctx, [(r[1], r[2], r[3]) for r in run])
    for (position, _, _, _, warnings), result in zip(run, results, strict=True):
        if result.patient_id is not None:  # refused: _dispatch answers it, and writes nothing either
            batch.planned[position] = Outcome("AA", "", warnings, result.patient_id)


def _remember_link(key: ExternalId, patient_id: uuid.UUID) -> None:
    batch = _BATCH.get()
    if batch is not None:
        batch.pending[key] = patient_id


def _linked(session: Session, org_id: uuid.UUID, key: ExternalId) -> uuid.UUID | None:
    batch = _BATCH.get()
    if batch is not None and batch.session is session:
        if key in batch.pending:
            return batch.pending[key]
        if key in batch.ahead:
            position, patient_id = batch.ahead[key]
            return patient_id if position < batch.position else None
        if key in batch.links:
            return batch.links[key]
    return session.scalars(
        select(Hl7PatientLink.patient_id).where(
            Hl7PatientLink.org_id == org_id,
            Hl7PatientLink.authority == key.authority,
            Hl7PatientLink.external_id == key.value,
        )
    ).first()


def _validation_errors(exc: ValidationError) -> list[AckError]:
    out = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        seg, field_no, comp = FIELD_LOCATIONS.get(name, ("PID", None, None))
        out.append(AckError("102", f"{seg}-{field_no}: {err['msg']}"[:200], seg, 1, field_no, comp))
    return out


def _problem_error(exc: ProblemError) -> AckError:
    seg, field_no, comp = FIELD_LOCATIONS.get(exc.field or "", ("PID", None, None))
    return AckError("207" if exc.status >= 500 else "102", exc.detail[:200], seg, 1, field_no, comp)

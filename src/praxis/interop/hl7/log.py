"""The HL7 message logs for the integration admin's screen and the API (decisions 51 and 54):
inbound messages (filter, read one audited, replay) and outbound rows (filter, read one audited,
resend).

Thin over what the CLI uses: `inbound.replay` and `outbound.requeue`. The raw text of a message
is PHI, so the list queries leave it (and the ACK, which may quote it) unread, for outbound rows
too (the message as sent, the ACK received); reading one message writes an audit row naming its
patient when it is known.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, defer

from praxis.interop.hl7 import outbound
from praxis.interop.hl7.inbound import Routes, load_routes, replay
from praxis.interop.hl7.models import Hl7Message, Hl7Outbound
from praxis.interop.permissions import HL7_MANAGE
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import ValidationProblem
from praxis.platform.paging import keyset_after
from praxis.platform.settings import get_settings
from praxis.platform.uow import unit_of_work, write_lock

MESSAGE_STATUSES = ("received", "processed", "failed", "rejected")
OUTBOUND_STATUSES = ("pending", "delivered", "dead")
MESSAGE_ORDER = [(Hl7Message.received_at, True), (Hl7Message.id, False)]
OUTBOUND_ORDER = [(Hl7Outbound.created_at, True), (Hl7Outbound.id, False)]
_TYPE = re.compile(r"[A-Z0-9]{3}(\^[A-Z0-9]{3})?")

# What a list shows of a message: everything but the raw text and the ACK.
_SUMMARY = (Hl7Message.id, Hl7Message.sender, Hl7Message.control_id, Hl7Message.message_type, Hl7Message.status,
            Hl7Message.ack_code, Hl7Message.error, Hl7Message.attempts, Hl7Message.patient_id,
            Hl7Message.received_at, Hl7Message.processed_at)


@dataclass(frozen=True)
class MessageSummary:
    id: uuid.UUID
    sender: str
    control_id: str
    message_type: str
    status: str
    ack_code: str
    error: str
    attempts: int
    patient_id: uuid.UUID | None
    received_at: datetime
    processed_at: datetime | None

    @property
    def updated_at(self) -> datetime:
        return self.processed_at or self.received_at

    @property
    def replayable(self) -> bool:
        """What the screen offers to replay. The service also takes a `received` one (a crash left
        it unprocessed), but that may be in flight right now: the API and the CLI only."""
        return self.status in ("failed", "rejected")


@dataclass(frozen=True)
class MessageDetail(MessageSummary):
    raw: str
    ack: str

    @property
    def segments(self) -> list[str]:
        """The raw message a segment a line (HL7 separates segments with CR)."""
        return _segments(self.raw)


def _segments(text: str) -> list[str]:
    return [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]


@dataclass(frozen=True)
class OutboundDetail:
    """One outbound row with the message as last sent and the ACK received (PHI)."""

    id: uuid.UUID
    peer: str
    event: str
    control_id: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_ack_code: str
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    updated_at: datetime | None
    sent: str
    ack: str
    source_event: str  # the outbox topic of the domain event the message came from
    patient_id: uuid.UUID | None

    @property
    def resendable(self) -> bool:
        """What the screen offers to resend (as its list does); the service also takes a delivered one."""
        return self.status == "dead"

    @property
    def sent_segments(self) -> list[str]:
        return _segments(self.sent)

    @property
    def ack_segments(self) -> list[str]:
        return _segments(self.ack)


@dataclass(frozen=True)
class Replayed:
    message: MessageDetail
    ack_code: str


def _check_window(since: datetime | None, until: datetime | None, names: tuple[str, str]) -> None:
    if since is not None and until is not None and since > until:
        raise ValidationProblem(f"{names[1]} is before {names[0]}", field=names[1])


def list_messages(ctx: Context, *, status: str | None = None, message_type: str | None = None,
                  sender: str | None = None, received_since: datetime | None = None,
                  received_until: datetime | None = None, limit: int = 100,
                  after: tuple[Any, ...] | None = None,
                  updated_since: datetime | None = None) -> list[MessageSummary]:
    """Inbound messages, newest first: `limit` rows after the keyset position `after` (received_at,
    id). `message_type` is `ADT` or `ADT^A08`; `sender` is `APPLICATION|FACILITY` as listed, or the
    facility alone; `updated_since` keeps messages received or (re)processed at or after it."""
    ctx = ctx.standing()
    ctx.require(HL7_MANAGE)
    if status is not None and status not in MESSAGE_STATUSES:
        raise ValidationProblem(f"status must be one of {', '.join(MESSAGE_STATUSES)}", field="status")
    if message_type is not None and not _TYPE.fullmatch(message_type):
        raise ValidationProblem("message_type must be MSH-9.1 (ADT) or MSH-9.1^MSH-9.2 (ADT^A08)",
                                field="message_type")
    if sender is not None and not 0 < len(sender) <= 200:
        raise ValidationProblem("sender must be 1 to 200 characters", field="sender")
    _check_window(received_since, received_until, ("received_since", "received_until"))
    stmt = select(*_SUMMARY).where(Hl7Message.org_id == ctx.org_id)
    if status is not None:
        stmt = stmt.where(Hl7Message.status == status)
    if message_type is not None:
        stmt = stmt.where(Hl7Message.message_type == message_type if "^" in message_type
                          else Hl7Message.message_type.startswith(f"{message_type}^", autoescape=True))
    if sender is not None:
        stmt = stmt.where(Hl7Message.sender == sender if "|" in sender
                          else Hl7Message.sender.endswith(f"|{sender}", autoescape=True))
    if received_since is not None:
        stmt = stmt.where(Hl7Message.received_at >= received_since)
    if received_until is not None:
        stmt = stmt.where(Hl7Message.received_at < received_until)
    if updated_since is not None:
        # processed_at is never before received_at: changed since T is either one at or after T.
        stmt = stmt.where(or_(Hl7Message.received_at >= updated_since, and_(
            Hl7Message.processed_at.is_not(None), Hl7Message.processed_at >= updated_since)))
    if after is not None:
        stmt = stmt.where(keyset_after(MESSAGE_ORDER, after))
    stmt = stmt.order_by(Hl7Message.received_at.desc(), Hl7Message.id).limit(max(1, min(limit, 501)))
    with unit_of_work(ctx) as s:
        return [MessageSummary(*row) for row in s.execute(stmt)]


def message_counts(ctx: Context) -> dict[str, int]:
    """How many inbound messages are in each status (what the screen's filter shows)."""
    ctx = ctx.standing()
    ctx.require(HL7_MANAGE)
    with unit_of_work(ctx) as s:
        rows = s.execute(select(Hl7Message.status, func.count()).where(Hl7Message.org_id == ctx.org_id)
                         .group_by(Hl7Message.status))
        return {status: int(n) for status, n in rows}


def _detail(row: Hl7Message) -> MessageDetail:
    return MessageDetail(row.id, row.sender, row.control_id, row.message_type, row.status, row.ack_code, row.error,
                         row.attempts, row.patient_id, row.received_at, row.processed_at, row.raw, row.ack)


def get_message(ctx: Context, message_id: uuid.UUID) -> MessageDetail:
    """One inbound message with its raw text and ACK (404 for another organisation's). The read is
    audited (`hl7_message.read`, with the patient when the message named a known one)."""
    ctx = ctx.standing()
    ctx.require(HL7_MANAGE)
    with unit_of_work(ctx) as s:
        write_lock(s)  # an audited read: SQLite's write lock first (decision 25)
        row = get_or_404(s, Hl7Message, message_id, "HL7 message")
        audit.record(s, ctx, "hl7_message.read", "hl7_message", row.id, patient_id=row.patient_id,
                     detail={"message_type": row.message_type, "status": row.status})
        return _detail(row)


def facility_routes() -> Routes:
    """The facility map of the settings (`hl7_facilities_file`), read at each replay so that an
    edited map applies without a restart; none configured: {} (replay takes the organisation)."""
    path = get_settings().hl7_facilities_file
    return load_routes(path) if path else {}


def replay_message(ctx: Context, message_id: uuid.UUID, routes: Routes | None = None) -> Replayed:
    """Process a failed or rejected message again (after the data is fixed): the new ACK code and
    the message as it now stands. A processed one is a 409 (it would be applied twice). Who asked
    is audited (`hl7_message.replay`) in the transaction that records the replay's outcome."""
    ctx = ctx.standing()
    ctx.require(HL7_MANAGE)
    with unit_of_work(ctx) as s:
        get_or_404(s, Hl7Message, message_id, "HL7 message")  # 404 before reading the facility map

    def asked_by(session: Session, row: Hl7Message) -> None:
        # The replay runs as the sending system (its audit actor is hl7:…); who asked for it is here.
        audit.record(session, ctx, "hl7_message.replay", "hl7_message", row.id, patient_id=row.patient_id,
                     detail={"message_type": row.message_type, "ack_code": row.ack_code, "attempts": row.attempts})

    replay(ctx.org_id, message_id, facility_routes() if routes is None else routes, on_finish=asked_by)
    with unit_of_work(ctx) as s:
        row = get_or_404(s, Hl7Message, message_id, "HL7 message")
        return Replayed(_detail(row), row.ack_code)


def list_outbound(ctx: Context, *, status: str | None = None, event: str | None = None, peer: str | None = None,
                  limit: int = 100, after: tuple[Any, ...] | None = None,
                  updated_since: datetime | None = None) -> list[Hl7Outbound]:
    """Outbound messages, newest first, keyset-paged on (created_at, id); `event` is `SIU` or
    `SIU^S12`; `peer` the facility-map key. The message as sent and the ACK are not read."""
    ctx = ctx.standing()
    ctx.require(HL7_MANAGE)
    if status is not None and status not in OUTBOUND_STATUSES:
        raise ValidationProblem(f"status must be one of {', '.join(OUTBOUND_STATUSES)}", field="status")
    if event is not None and not _TYPE.fullmatch(event):
        raise ValidationProblem("event must be MSH-9.1 (SIU) or MSH-9.1^MSH-9.2 (SIU^S12)", field="event")
    if peer is not None and not 0 < len(peer) <= 100:
        raise ValidationProblem("peer must be 1 to 100 characters", field="peer")
    stmt = (select(Hl7Outbound).options(defer(Hl7Outbound.sent), defer(Hl7Outbound.last_ack))
            .where(Hl7Outbound.org_id == ctx.org_id))
    if status is not None:
        stmt = stmt.where(Hl7Outbound.status == status)
    if event is not None:
        stmt = stmt.where(Hl7Outbound.event == event if "^" in event
                          else Hl7Outbound.event.startswith(f"{event}^", autoescape=True))
    if peer is not None:
        stmt = stmt.where(Hl7Outbound.peer == peer)
    if updated_since is not None:
        stmt = stmt.where(Hl7Outbound.updated_at >= updated_since)
    if after is not None:
        stmt = stmt.where(keyset_after(OUTBOUND_ORDER, after))
    stmt = stmt.order_by(Hl7Outbound.created_at.desc(), Hl7Outbound.id).limit(max(1, min(limit, 501)))
    with unit_of_work(ctx) as s:
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows


def get_outbound(ctx: Context, outbound_id: uuid.UUID) -> OutboundDetail:
    """One outbound message with the message as last sent and the ACK the peer answered (404 for
    another organisation's). The read is audited (`hl7_outbound.read`, with the patient it is
    about when known)."""
    ctx = ctx.standing()
    ctx.require(HL7_MANAGE)
    with unit_of_work(ctx) as s:
        write_lock(s)  # an audited read: SQLite's write lock first (decision 25)
        row = get_or_404(s, Hl7Outbound, outbound_id, "HL7 outbound message")
        patient_id = outbound.patient_of(s, row)
        audit.record(s, ctx, "hl7_outbound.read", "hl7_outbound", row.id, patient_id=patient_id,
                     detail={"event": row.event, "peer": row.peer, "status": row.status})
        source = outbound.EVENTS.get(row.event)
        return OutboundDetail(row.id, row.peer, row.event, row.control_id, dict(row.payload), row.status,
                              row.attempts, row.last_ack_code, row.last_error, row.created_at, row.delivered_at,
                              row.updated_at, row.sent, row.last_ack, source.topic if source else "", patient_id)


def resend_outbound(ctx: Context, outbound_id: uuid.UUID) -> Hl7Outbound:
    """Queue a dead (or delivered) outbound message again from attempt 0, audited; a pending one
    is a 409. The worker sends it on its next pass."""
    ctx = ctx.standing()
    ctx.require(HL7_MANAGE)
    outbound.requeue(ctx.org_id, outbound_id, ctx)
    with unit_of_work(ctx) as s:
        row = get_or_404(s, Hl7Outbound, outbound_id, "HL7 outbound message")
        s.expunge(row)
        return row


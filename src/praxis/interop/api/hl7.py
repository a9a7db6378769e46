"""The HL7 v2 message logs over the REST API (thin: interop.hl7.log): inbound messages, one with
its raw text and ACK (audited), replay; outbound messages, one with the message as sent and the
ACK received (audited), resend."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from praxis.interop.hl7 import log
from praxis.interop.permissions import HL7_MANAGE
from praxis.platform.context import Context
from praxis.platform.errors import ValidationProblem
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.paging import PAGED, Pager
from praxis.web.routes import Router

router = Router(prefix="/api/v1/hl7", tags=["hl7"])


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sender: str = Field(description="MSH-3.1|MSH-4.1, sending application and facility")
    control_id: str = Field(description="MSH-10")
    message_type: str = Field(description="MSH-9.1^MSH-9.2, e.g. ADT^A08")
    status: str = Field(description="received, processed (AA), failed (AE) or rejected (AR)")
    ack_code: str = Field(description="the code of the last ACK sent: AA, AE, AR; empty while received")
    error: str = Field(description="the errors of the last ACK, `; `-separated")
    attempts: int = Field(description="times processed (the first time and each replay)")
    patient_id: uuid.UUID | None = Field(description="the patient the message was applied to, when known")
    received_at: datetime
    processed_at: datetime | None
    updated_at: datetime = Field(description="last change (for `updated_since`): processed, else received")


class MessageDetailOut(MessageOut):
    raw: str = Field(description="the message as received, segments separated by CR (PHI: reading is audited)")
    ack: str = Field(description="the last ACK sent, as sent")


class ReplayOut(BaseModel):
    ack_code: str = Field(description="the new ACK's code: AA once the message applied")
    ack: str = Field(description="the new ACK, as it would have been sent")
    message: MessageOut


class OutboundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    peer: str = Field(description="the facility-map key of the receiving peer")
    event: str = Field(description="SIU^S12, ADT^A04, …")
    control_id: str = Field(description="MSH-10 of the message, the same on every attempt")
    payload: dict[str, Any] = Field(description="identifiers of what is sent (the message is built when sent)")
    status: str = Field(description="pending, delivered or dead")
    attempts: int
    last_ack_code: str
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class OutboundDetailOut(OutboundOut):
    sent: str = Field(description="the message as last sent, segments separated by CR; empty before the first "
                                  "attempt (PHI: reading is audited)")
    ack: str = Field(description="the ACK the peer answered the last attempt with, as received; empty when none "
                                 "came (refused, timed out, closed)")
    source_event: str = Field(description="the domain event the message came from (an outbox topic, e.g. "
                                          "scheduling.appointment_booked)")
    patient_id: uuid.UUID | None = Field(description="the patient the message is about, when known")


def _position(page: Pager) -> None:
    if page.after is not None and not isinstance(page.after[0], datetime):
        raise ValidationProblem("cursor: not a position in this list", field="cursor")


@router.get("/messages", response_model=list[MessageOut])
def list_messages(
    ctx: Context = Depends(permission(HL7_MANAGE)),
    page: Pager = PAGED,
    status: str | None = Query(None, description="received, processed, failed or rejected"),
    message_type: str | None = Query(None, max_length=7, description="ADT, or ADT^A08"),
    sender: str | None = Query(None, max_length=200, description="APPLICATION|FACILITY, or the facility alone"),
    received_since: AwareDatetime | None = Query(None, description="received at or after (with a UTC offset)"),
    received_until: AwareDatetime | None = Query(None, description="received before (with a UTC offset)"),
) -> list[MessageOut]:
    """Inbound HL7 messages, newest first, without their raw text (see the detail)."""
    _position(page)
    rows = log.list_messages(ctx, status=status, message_type=message_type, sender=sender,
                             received_since=received_since, received_until=received_until,
                             limit=page.limit + 1, after=page.after, updated_since=page.updated_since)
    return page.sql([MessageOut.model_validate(r) for r in rows], key=lambda m: (m.received_at, m.id))


@router.get("/messages/{message_id}", response_model=MessageDetailOut)
def get_message(message_id: str, ctx: Context = Depends(permission(HL7_MANAGE))) -> MessageDetailOut:
    """One message with its raw text and the last ACK; the read is audited with its patient."""
    return MessageDetailOut.model_validate(log.get_message(ctx, parse_id(message_id, "HL7 message")))


@router.post("/messages/{message_id}/replay", response_model=ReplayOut)
def replay(message_id: str, ctx: Context = Depends(permission(HL7_MANAGE))) -> ReplayOut:
    """Process a failed or rejected message again (after the data is fixed); 409 for a processed one."""
    done = log.replay_message(ctx, parse_id(message_id, "HL7 message"))
    return ReplayOut(ack_code=done.ack_code, ack=done.message.ack, message=MessageOut.model_validate(done.message))


@router.get("/outbound", response_model=list[OutboundOut])
def list_outbound(
    ctx: Context = Depends(permission(HL7_MANAGE)),
    page: Pager = PAGED,
    status: str | None = Query(None, description="pending, delivered or dead"),
    event: str | None = Query(None, max_length=7, description="SIU, or SIU^S12"),
    peer: str | None = Query(None, max_length=100, description="the facility-map key of the peer"),
) -> list[OutboundOut]:
    """Outbound HL7 messages, newest first (status, attempts, the last ACK code or error)."""
    _position(page)
    rows = log.list_outbound(ctx, status=status, event=event, peer=peer, limit=page.limit + 1, after=page.after,
                             updated_since=page.updated_since)
    return page.sql([OutboundOut.model_validate(r) for r in rows], key=lambda o: (o.created_at, o.id))


@router.get("/outbound/{outbound_id}", response_model=OutboundDetailOut)
def get_outbound(outbound_id: str, ctx: Context = Depends(permission(HL7_MANAGE))) -> OutboundDetailOut:
    """One outbound message with the message as sent and the peer's ACK; the read is audited."""
    return OutboundDetailOut.model_validate(log.get_outbound(ctx, parse_id(outbound_id, "HL7 outbound message")),
                                            from_attributes=True)


@router.post("/outbound/{outbound_id}/resend", response_model=OutboundOut)
def resend(outbound_id: str, ctx: Context = Depends(permission(HL7_MANAGE))) -> OutboundOut:
    """Queue a dead (or delivered) message again from attempt 0; 409 for a pending one."""
    return OutboundOut.model_validate(log.resend_outbound(ctx, parse_id(outbound_id, "HL7 outbound message")))

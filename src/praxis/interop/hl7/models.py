"""HL7 v2 inbound: every message as received (before processing) and the sender's patient ids."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.db import Base, TenantScoped, holds_phi, org_fk


class Hl7Message(TenantScoped, Base):
    """One inbound message, stored raw before anything is done with it.

    (org_id, sender, control_id) is unique: that is what makes processing exactly-once, since a
    resent message finds its row and gets the stored ACK back instead of being applied again.
    """

    __tablename__ = "hl7_messages"

    sender: Mapped[str] = mapped_column(String(200))  # MSH-3.1 | MSH-4.1
    control_id: Mapped[str] = mapped_column(String(199))  # MSH-10
    message_type: Mapped[str] = mapped_column(String(20))  # MSH-9.1^MSH-9.2
    raw: Mapped[str] = mapped_column(Text)
    # received -> processed (AA) | failed (AE) | rejected (AR); replay moves failed/rejected on.
    status: Mapped[str] = mapped_column(String(12), default="received")
    ack_code: Mapped[str] = mapped_column(String(2), default="")
    ack: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=now)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("org_id", "sender", "control_id", name="uq_hl7_messages_sender_control"),
        Index("ix_hl7_messages_org_status", "org_id", "status"),
        # The log's order (newest first) and its received since/until filter (decision 51).
        Index("ix_hl7_messages_org_received", "org_id", "received_at"),
    )

    @property
    def updated_at(self) -> datetime:
        """The last change: every write of a row sets one of these (stored, then each processing
        or replay), so there is no column of its own (decision 51)."""
        return self.processed_at or self.received_at


class Hl7PatientLink(TenantScoped, Base):
    """A sender's patient identifier (PID-3 / MRG-1, by assigning authority) -> our patient."""

    __tablename__ = "hl7_patient_links"

    authority: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients", ondelete="CASCADE"),
        UniqueConstraint("org_id", "authority", "external_id", name="uq_hl7_patient_links_key"),
        Index("ix_hl7_patient_links_org_patient", "org_id", "patient_id"),
    )


class Hl7AppointmentLink(TenantScoped, Base):
    """A sender's appointment id (SCH-1 placer or SCH-2 filler, by authority) -> our appointment,
    so that S13/S14/S15/S26 find the appointment S12 booked."""

    __tablename__ = "hl7_appointment_links"

    authority: Mapped[str] = mapped_column(String(100))  # the sending facility (MSH-4.1)
    kind: Mapped[str] = mapped_column(String(6))  # placer | filler
    external_id: Mapped[str] = mapped_column(String(100))
    appointment_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["appointment_id"], "appointments", ondelete="CASCADE"),
        UniqueConstraint("org_id", "authority", "kind", "external_id", name="uq_hl7_appointment_links_key"),
        Index("ix_hl7_appointment_links_appt", "org_id", "appointment_id"),
    )


class Hl7Outbound(TenantScoped, Base):
    """One message for one configured peer: pending until the peer answers AA, dead after the
    last attempt. The message is built when it is sent (the row holds its identifiers, then the
    last message sent and the ACK received), with a control id fixed at creation so the peer can
    drop repeats."""

    __tablename__ = "hl7_outbound"

    peer: Mapped[str] = mapped_column(String(100))  # the facility-map key the peer belongs to
    event: Mapped[str] = mapped_column(String(20))  # SIU^S12, ADT^A04, ...
    control_id: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]  # identifiers of what to send (appointment_id, patient_id, ...)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(default=0)
    last_ack_code: Mapped[str] = mapped_column(String(2), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent: Mapped[str] = mapped_column(Text, default="")  # the last message sent, as sent
    # What the peer answered to it, as received (an unreadable or mismatched ACK too): '' when
    # nothing came back (refused, timed out, closed) or the attempt predates the column.
    last_ack: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    # Attempts, resends and the dead state change a row (decision 51: `updated_since`).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (Index("ix_hl7_outbound_org_status", "org_id", "status"),
                      Index("ix_hl7_outbound_org_created", "org_id", "created_at"))


holds_phi("hl7_messages", "hl7_patient_links", "hl7_outbound")

"""Webhook subscriptions of an organisation and the log of every delivery to them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.crypto import EncryptedString, register_encrypted_column
from praxis.platform.db import Base, TenantScoped, org_fk

register_encrypted_column("webhook_subscriptions", "secret")
register_encrypted_column("webhook_subscriptions", "previous_secret")


class WebhookSubscription(TenantScoped, Base):
    """An HTTPS endpoint of an integrator and the event types it wants."""

    __tablename__ = "webhook_subscriptions"

    url: Mapped[str] = mapped_column(String(500))
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(EncryptedString(400))  # whsec_…, shown once at creation
    # After a rotation the previous secret also signs until it expires, so receivers can switch over.
    previous_secret: Mapped[str | None] = mapped_column(EncryptedString(400))
    previous_expires_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (the paging migrations).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)


class WebhookDelivery(TenantScoped, Base):
    """One event for one subscription: pending until delivered (2xx), dead after the last try."""

    __tablename__ = "webhook_deliveries"

    subscription_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]]  # identifiers only: never PHI
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["subscription_id"], "webhook_subscriptions", name="fk_webhook_deliveries_subscription"),
        Index("ix_webhook_deliveries_subscription", "org_id", "subscription_id", "created_at"),
    )



"""Webhook subscriptions of an organisation and the log of every delivery to them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.crypto import EncryptedString, register_encrypted_column
from praxis.platform.db import Base, TenantScoped, holds_phi, org_fk

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
    secret_rotated_at: Mapped[datetime | None]  # None: the secret is the one made at creation
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
    # When the worker tries again (pending only): the outbox's backoff after the last failure.
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["subscription_id"], "webhook_subscriptions", name="fk_webhook_deliveries_subscription"),
        Index("ix_webhook_deliveries_subscription", "org_id", "subscription_id", "created_at"),
        # The screen counts what needs a look (pending, dead) per subscription.
        Index("ix_webhook_deliveries_status", "org_id", "status"),
        Index("ix_webhook_deliveries_updated", "org_id", "subscription_id", "updated_at"),
    )




class FhirExportJob(TenantScoped, Base):
    """One FHIR bulk export ($export) an API client asked for: what, for whom, how far along.

    The worker runs it acting as the client with the permissions it held at kick-off (stored
    here), so a token narrowed later still gets only what it was allowed when it asked.
    """

    __tablename__ = "fhir_export_jobs"

    level: Mapped[str] = mapped_column(String(10))  # system | patient
    types: Mapped[list[Any]] = mapped_column(default=list)
    # `_typeFilter`: type -> its queries (`birthdate=ge2000-01-01`), OR'ed; a type absent is unfiltered.
    type_filters: Mapped[dict[str, Any] | None] = mapped_column(default=dict)
    since: Mapped[datetime | None]
    request_url: Mapped[str] = mapped_column(String(2000))
    client_id: Mapped[uuid.UUID | None]  # the API client (actor) that asked: only it may download
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    permissions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # permission -> [location ids] | None
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued|running|done|failed|cancelled
    progress: Mapped[str] = mapped_column(String(200), default="")
    transaction_time: Mapped[datetime] = mapped_column(default=now)
    output: Mapped[list[Any]] = mapped_column(default=list)  # [{"type", "count", "file_id"}]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_fhir_export_jobs_client", "org_id", "client_id", "created_at"),)


class FhirExportFile(TenantScoped, Base):
    """One NDJSON file of an export (up to export.FILE_RESOURCES resources of one type), stored
    encrypted (AES-GCM bound to the organisation and the file id) in the database."""

    __tablename__ = "fhir_export_files"

    job_id: Mapped[uuid.UUID]
    resource_type: Mapped[str] = mapped_column(String(40))
    part: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        org_fk(["job_id"], "fhir_export_jobs", ondelete="CASCADE", name="fk_fhir_export_files_job"),
        Index("ix_fhir_export_files_job", "org_id", "job_id", "resource_type", "part"),
    )


holds_phi("fhir_export_files")

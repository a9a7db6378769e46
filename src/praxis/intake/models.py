"""Tables of the intake domain: versioned workflows, submissions and patient links."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.db import Base, TenantScoped, holds_phi, org_fk

# A system session reading these leaves an audit record (platform.db.holds_phi).
holds_phi("intake_submissions", "intake_links")


class IntakeWorkflow(TenantScoped, Base):
    """One workflow per (location or org default) and visit type ("" = any visit type)."""

    __tablename__ = "intake_workflows"

    name: Mapped[str] = mapped_column(String(200))
    location_id: Mapped[uuid.UUID | None]  # None: the organisation's default
    visit_type: Mapped[str] = mapped_column(String(60), default="")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["location_id"], "locations"),
        Index("ix_intake_workflows_org_scope", "org_id", "location_id", "visit_type"),
    )


class IntakeWorkflowVersion(TenantScoped, Base):
    """An immutable definition; editing a workflow adds a version, never changes one."""

    __tablename__ = "intake_workflow_versions"

    workflow_id: Mapped[uuid.UUID]
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["workflow_id"], "intake_workflows"),
        UniqueConstraint("org_id", "workflow_id", "version", name="uq_intake_workflow_versions_version"),
    )


class IntakeSubmission(TenantScoped, Base):
    """A patient's answers, filled against one fixed workflow version."""

    __tablename__ = "intake_submissions"

    patient_id: Mapped[uuid.UUID]
    workflow_id: Mapped[uuid.UUID]
    version_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID | None]
    visit_type: Mapped[str] = mapped_column(String(60), default="")
    # open -> submitted -> applied | rejected  (no review: open -> applied)
    status: Mapped[str] = mapped_column(String(12), default="open")
    channel: Mapped[str] = mapped_column(String(10), default="desk")  # desk | link
    # The appointment this intake was opened for (online booking); one intake per appointment.
    # No foreign key: scheduling sits above intake, which only keeps the id.
    appointment_id: Mapped[uuid.UUID | None]
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What applying did or could not do (e.g. "payer XYZ not in the directory").
    apply_notes: Mapped[list[Any] | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (the paging migrations).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)
    submitted_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None]
    reviewed_at: Mapped[datetime | None]

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        org_fk(["version_id"], "intake_workflow_versions"),
        org_fk(["location_id"], "locations"),
        Index("ix_intake_submissions_org_patient", "org_id", "patient_id", "created_at"),
        Index("ix_intake_submissions_org_status", "org_id", "status", "location_id"),
        Index("uq_intake_submissions_appointment", "org_id", "appointment_id", unique=True),
    )


class IntakeLink(TenantScoped, Base):
    """A single-purpose, expiring link a patient uses to fill one submission without logging in.

    Only a SHA-256 of the secret is stored, so a database leak does not leak working links.
    """

    __tablename__ = "intake_links"

    submission_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    purpose: Mapped[str] = mapped_column(String(20), default="intake")
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["submission_id"], "intake_submissions"),
        UniqueConstraint("org_id", "token_hash", name="uq_intake_links_token"),
        Index("ix_intake_links_org_submission", "org_id", "submission_id"),
    )

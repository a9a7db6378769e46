"""Interop / HL7 v2: the sender's appointment ids (SIU S12-S26) and the outbound message log.

Revision ID: interop_0002_hl7_outbound
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "interop_0002_hl7_outbound"
down_revision = "interop_0001_hl7"
branch_labels = None
depends_on = ("scheduling_0001",)


def upgrade() -> None:
    op.create_table(
        "hl7_appointment_links",
        sa.Column("authority", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=6), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(
            ["org_id", "appointment_id"], ["appointments.org_id", "appointments.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.UniqueConstraint("org_id", "authority", "kind", "external_id", name="uq_hl7_appointment_links_key"),
    )
    op.create_index("ix_hl7_appointment_links_appt", "hl7_appointment_links", ["org_id", "appointment_id"])
    op.create_table(
        "hl7_outbound",
        sa.Column("peer", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("control_id", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_ack_code", sa.String(length=2), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("sent", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    op.create_index("ix_hl7_outbound_org_status", "hl7_outbound", ["org_id", "status"])


def downgrade() -> None:
    op.drop_table("hl7_outbound")
    op.drop_table("hl7_appointment_links")

"""Interop / HL7 v2 inbound: raw messages (exactly-once by sender + control id) and patient links.

Revision ID: interop_0001_hl7
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "interop_0001_hl7"
down_revision = None
branch_labels = ("interop_hl7",)
depends_on = ("core_0001", "patients_0001")


def upgrade() -> None:
    op.create_table(
        "hl7_messages",
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("control_id", sa.String(length=199), nullable=False),
        sa.Column("message_type", sa.String(length=20), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("ack", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.UniqueConstraint("org_id", "sender", "control_id", name="uq_hl7_messages_sender_control"),
    )
    op.create_index("ix_hl7_messages_org_status", "hl7_messages", ["org_id", "status"])
    op.create_table(
        "hl7_patient_links",
        sa.Column("authority", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"], ["patients.org_id", "patients.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.UniqueConstraint("org_id", "authority", "external_id", name="uq_hl7_patient_links_key"),
    )
    op.create_index("ix_hl7_patient_links_org_patient", "hl7_patient_links", ["org_id", "patient_id"])


def downgrade() -> None:
    op.drop_table("hl7_patient_links")
    op.drop_table("hl7_messages")

"""Versioned care plans (issue 16 item 2): one immutable row per saved version.

Revision ID: care_0003_careplan
Revises: care_0002_carebill_month_charges
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "care_0003_careplan"
down_revision = "care_0002_carebill_month_charges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_plan_versions",
        sa.Column("enrolment_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("substantial_revision", sa.Boolean(), nullable=False),
        sa.Column("revision_reason", sa.Text(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id", "enrolment_id"], ["care_enrolments.org_id", "care_enrolments.id"],
                                name=op.f("fk_care_plan_versions_org_id_enrolment_id_care_enrolments")),
        sa.ForeignKeyConstraint(["org_id", "patient_id"], ["patients.org_id", "patients.id"],
                                name=op.f("fk_care_plan_versions_org_id_patient_id_patients")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_care_plan_versions_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_care_plan_versions")),
        sa.UniqueConstraint("org_id", "enrolment_id", "version", name="uq_care_plan_versions_enrolment_version"),
    )
    with op.batch_alter_table("care_plan_versions", schema=None) as batch_op:
        batch_op.create_index("ix_care_plan_versions_month", ["org_id", "effective_on", "enrolment_id"], unique=False)
        batch_op.create_index("ix_care_plan_versions_patient", ["org_id", "patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("care_plan_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_care_plan_versions_patient")
        batch_op.drop_index("ix_care_plan_versions_month")
    op.drop_table("care_plan_versions")

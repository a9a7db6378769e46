"""Patient alerts (e.g. a positive PHQ-9 item 9) with who/when acknowledged them.

Revision ID: patients_0003_deskpatient_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "patients_0003_deskpatient_alerts"
down_revision = "patients_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_alerts",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("source_type", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_by_name", sa.String(length=200), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement_note", sa.String(length=500), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_patient_alerts_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_patient_alerts_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_patient_alerts")),
        sa.UniqueConstraint("org_id", "source_type", "source_id", "kind", name="uq_patient_alerts_source"),
    )
    op.create_index(
        "ix_patient_alerts_org_patient", "patient_alerts", ["org_id", "patient_id", "acknowledged_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_patient_alerts_org_patient", table_name="patient_alerts")
    op.drop_table("patient_alerts")

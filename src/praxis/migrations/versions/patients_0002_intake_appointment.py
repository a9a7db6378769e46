"""Intake submissions remember the appointment they were opened for (one intake per appointment).

Revision ID: patients_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "patients_0002"
down_revision = "patients_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_submissions") as batch:
        batch.add_column(sa.Column("appointment_id", sa.Uuid(), nullable=True))
    op.create_index(
        "uq_intake_submissions_appointment", "intake_submissions", ["org_id", "appointment_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_intake_submissions_appointment", table_name="intake_submissions")
    with op.batch_alter_table("intake_submissions") as batch:
        batch.drop_column("appointment_id")

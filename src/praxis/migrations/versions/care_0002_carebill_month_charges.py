"""Care months remember the billing encounter their approval created, or why none was created.

Revision ID: care_0002_carebill_month_charges
Revises: care_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "care_0002_carebill_month_charges"
down_revision = "care_0001"
branch_labels = None
depends_on = ["billing_0001_billing_initial"]


def upgrade() -> None:
    with op.batch_alter_table("care_months") as batch:
        batch.add_column(sa.Column("charge_encounter_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("charge_problem", sa.String(length=500), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("care_months") as batch:
        batch.drop_column("charge_problem")
        batch.drop_column("charge_encounter_id")

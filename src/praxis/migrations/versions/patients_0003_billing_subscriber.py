"""Coverages carry the subscriber's sex and address (837P loop 2010BA when the patient is not the
subscriber).

Revision ID: patients_0003_billing_subscriber
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "patients_0003_billing_subscriber"
down_revision = "patients_0003_deskpatient_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("coverages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subscriber_sex", sa.String(length=1), server_default="U", nullable=False)
        )
        batch_op.add_column(
            sa.Column("subscriber_address_line1", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("subscriber_address_line2", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("subscriber_city", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("subscriber_state", sa.String(length=2), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("subscriber_postal_code", sa.String(length=10), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("coverages", schema=None) as batch_op:
        batch_op.drop_column("subscriber_postal_code")
        batch_op.drop_column("subscriber_state")
        batch_op.drop_column("subscriber_city")
        batch_op.drop_column("subscriber_address_line2")
        batch_op.drop_column("subscriber_address_line1")
        batch_op.drop_column("subscriber_sex")

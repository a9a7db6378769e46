"""A stored idempotent answer remembers the patients its first request's audit rows named, so a
replay of it is audited as a read of those patients.

Revision ID: core_0003_secauth_idem_patients
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0003_secauth_idem_patients"
down_revision = "core_0002_secauth_audit_keyed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("patient_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("patient_ids")

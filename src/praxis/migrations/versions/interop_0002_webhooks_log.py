"""Webhook delivery log: when a pending delivery is tried next, when a secret was rotated, and an
index to count deliveries by status.

Revision ID: interop_0002_webhooks_log
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "interop_0002_webhooks_log"
down_revision = "interop_0001_interop_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.add_column(sa.Column("secret_rotated_at", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_webhook_deliveries_status", "webhook_deliveries", ["org_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_status", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_column("secret_rotated_at")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("next_attempt_at")

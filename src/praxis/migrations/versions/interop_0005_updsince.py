"""`updated_since` on every stored list (decision 48): `updated_at` on webhook deliveries (status, attempts
and replays change them), indexed per subscription for the delivery log's filter.

Revision ID: interop_0005_updsince
"""

from __future__ import annotations

from alembic import op

from praxis.migrations import updated_at

revision = "interop_0005_updsince"
down_revision = "interop_0004_paging"
branch_labels = None
depends_on = None

# table -> the columns existing rows take their updated_at from, latest first (none: the migration's time)
UPDATED_AT: dict[str, tuple[str, ...]] = {
    "webhook_deliveries": ("delivered_at", "created_at"),
}


def upgrade() -> None:
    for table, sources in UPDATED_AT.items():
        updated_at.add(table, sources)
    op.create_index("ix_webhook_deliveries_updated", "webhook_deliveries",
                    ["org_id", "subscription_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_updated", table_name="webhook_deliveries")
    for table in reversed(list(UPDATED_AT)):
        updated_at.drop(table)

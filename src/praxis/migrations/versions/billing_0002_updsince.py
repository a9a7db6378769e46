"""`updated_since` on every stored list (decision 48): `updated_at` on payer EDI ids, clearinghouse
connections, fee schedules, claim batches and EDI files.

Revision ID: billing_0002_updsince
"""

from __future__ import annotations

from praxis.migrations import updated_at

revision = "billing_0002_updsince"
down_revision = "billing_0001_billing_initial"
branch_labels = None
depends_on = None

# table -> the columns existing rows take their updated_at from, latest first (none: the migration's time)
UPDATED_AT: dict[str, tuple[str, ...]] = {
    "payer_edi_ids": (),
    "clearinghouse_connections": ("created_at",),
    "fee_schedules": ("created_at",),
    "claim_batches": ("sent_at", "created_at"),
    "edi_files": ("processed_at", "received_at"),
}


def upgrade() -> None:
    for table, sources in UPDATED_AT.items():
        updated_at.add(table, sources)


def downgrade() -> None:
    for table in reversed(list(UPDATED_AT)):
        updated_at.drop(table)

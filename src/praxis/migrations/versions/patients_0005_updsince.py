"""`updated_since` on every stored list (decision 48): `updated_at` on alerts, merges and documents, and the
index the registry sync pages by (`GET /patients?updated_since=` alone: org, updated_at, id).

Revision ID: patients_0005_updsince
"""

from __future__ import annotations

from alembic import op

from praxis.migrations import updated_at

revision = "patients_0005_updsince"
down_revision = "patients_0004_paging"
branch_labels = None
depends_on = None

# table -> the columns existing rows take their updated_at from, latest first (none: the migration's time)
UPDATED_AT: dict[str, tuple[str, ...]] = {
    "patient_alerts": ("acknowledged_at", "created_at"),
    "patient_merges": ("unmerged_at", "merged_at"),
    "patient_documents": ("created_at",),
}


def upgrade() -> None:
    for table, sources in UPDATED_AT.items():
        updated_at.add(table, sources)
    op.create_index("ix_patients_org_updated", "patients", ["org_id", "updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_patients_org_updated", table_name="patients")
    for table in reversed(list(UPDATED_AT)):
        updated_at.drop(table)

"""`updated_since` on every stored list (decision 48): `updated_at` on problems, time entries, timers and
approved months.

Revision ID: care_0005_updsince
"""

from __future__ import annotations

from praxis.migrations import updated_at

revision = "care_0005_updsince"
down_revision = "care_0004_paging"
branch_labels = None
depends_on = None

# table -> the columns existing rows take their updated_at from, latest first (none: the migration's time)
UPDATED_AT: dict[str, tuple[str, ...]] = {
    "care_problems": ("created_at",),
    "care_time_entries": ("created_at",),
    "care_timers": ("started_at",),
    "care_months": ("approved_at",),
}


def upgrade() -> None:
    for table, sources in UPDATED_AT.items():
        updated_at.add(table, sources)


def downgrade() -> None:
    for table in reversed(list(UPDATED_AT)):
        updated_at.drop(table)

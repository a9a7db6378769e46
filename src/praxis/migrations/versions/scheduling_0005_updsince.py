"""`updated_since` on every stored list (decision 48): `updated_at` on resources, closures, templates, the
waitlist, its offers and reminder rules.

Revision ID: scheduling_0005_updsince
"""

from __future__ import annotations

from praxis.migrations import updated_at

revision = "scheduling_0005_updsince"
down_revision = "scheduling_0004_paging"
branch_labels = None
depends_on = None

# table -> the columns existing rows take their updated_at from, latest first (none: the migration's time)
UPDATED_AT: dict[str, tuple[str, ...]] = {
    "resources": (),
    "closures": (),
    "schedule_templates": ("created_at",),
    "waitlist_entries": ("created_at",),
    "waitlist_offers": ("created_at",),
    "reminder_rules": (),
}


def upgrade() -> None:
    for table, sources in UPDATED_AT.items():
        updated_at.add(table, sources)


def downgrade() -> None:
    for table in reversed(list(UPDATED_AT)):
        updated_at.drop(table)

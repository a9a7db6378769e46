"""`updated_since` on every stored list (decision 48): `updated_at` on memberships, roles, API clients and
break-glass events.

Revision ID: core_0005_updsince
"""

from __future__ import annotations

from praxis.migrations import updated_at

revision = "core_0005_updsince"
down_revision = "core_0004_paging"
branch_labels = None
depends_on = None

# table -> the columns existing rows take their updated_at from, latest first (none: the migration's time)
UPDATED_AT: dict[str, tuple[str, ...]] = {
    "memberships": ("accepted_at", "created_at"),
    "roles": ("created_at",),
    "api_clients": ("revoked_at", "created_at"),
    "break_glass": ("reviewed_at", "ended_at", "starts_at"),
}


def upgrade() -> None:
    for table, sources in UPDATED_AT.items():
        updated_at.add(table, sources)


def downgrade() -> None:
    for table in reversed(list(UPDATED_AT)):
        updated_at.drop(table)

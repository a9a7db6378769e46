"""API paging and per-client limits (decisions 40 and 41).

- `updated_at` on the rows bots list and sync that had none (locations, providers, visit types,
  payers, webhook subscriptions, care enrolments, intake submissions): `updated_since` filters on
  it. Existing rows start at their `created_at` (visit types, which have none, at this migration).
- `api_clients.rate_limit_per_minute` (NULL: the setting `api_rate_limit_per_minute`) and
  `api_client_windows`, one row per client and Unix minute, counted with an UPSERT by every server
  process.

One revision on the core chain that also touches tables of other chains, so it depends on their
heads.

Revision ID: core_0004_paging
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "core_0004_paging"
down_revision = "core_0002_secinput_mrn_format"
branch_labels = None
depends_on = ("scheduling_0003_secinput_blockvt", "patients_0003_secinput_importjob",
              "care_0002_carebill_month_charges", "interop_0001_interop_webhooks")

# table -> the column existing rows take their updated_at from (None: the migration's time)
UPDATED_AT = {
    "locations": "created_at",
    "providers": "created_at",
    "visit_types": None,
    "payers": "created_at",
    "webhook_subscriptions": "created_at",
    "care_enrolments": "created_at",
    "intake_submissions": "created_at",
}


def upgrade() -> None:
    started = datetime.now(UTC)
    for table, source in UPDATED_AT.items():
        # A plain ADD COLUMN, nullable: making it NOT NULL would make SQLite rebuild the table, and
        # a rebuild drops triggers (visit_types carries the reference-version triggers).
        op.add_column(table, sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))
        t = sa.table(table, sa.column("updated_at", UTCDateTime(timezone=True)),
                     *([sa.column(source, UTCDateTime(timezone=True))] if source else []))
        op.execute(t.update().values(updated_at=t.c[source] if source else started))
    op.add_column("api_clients", sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
    op.create_table(
        "api_client_windows",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("window_minute", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_api_client_windows_org_id_organisations")),
        sa.ForeignKeyConstraint(["org_id", "client_id"], ["api_clients.org_id", "api_clients.id"],
                                name=op.f("fk_api_client_windows_org_id_client_id_api_clients"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "client_id", "window_minute", name=op.f("pk_api_client_windows")),
    )


def downgrade() -> None:
    op.drop_table("api_client_windows")
    op.drop_column("api_clients", "rate_limit_per_minute")
    for table in reversed(list(UPDATED_AT)):
        op.drop_column(table, "updated_at")  # SQLite >= 3.35 drops a column in place

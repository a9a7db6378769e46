"""Import jobs: large imports run in the worker, with progress the import screen polls.

Revision ID: patients_0003_secinput_importjob
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "patients_0003_secinput_importjob"
down_revision = "patients_0003_billing_subscriber"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_import_jobs",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_name", sa.String(length=60), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("location_code", sa.String(length=30), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("upload_token", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("import_scope", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("done_rows", sa.Integer(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id", "location_id"], ["locations.org_id", "locations.id"],
                                name=op.f("fk_patient_import_jobs_org_id_location_id_locations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_patient_import_jobs_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_patient_import_jobs")),
    )


def downgrade() -> None:
    op.drop_table("patient_import_jobs")

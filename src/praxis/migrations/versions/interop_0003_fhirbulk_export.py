"""FHIR bulk export: export jobs and their NDJSON files (encrypted, in the database); and, on
PostgreSQL, the patients' name-order index the FHIR Patient search needs at scale (decision 39; it
lives here because a branch brings one revision).

Revision ID: interop_0003_fhirbulk_export
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "interop_0003_fhirbulk_export"
down_revision = "interop_0002_webhooks_log"
branch_labels = None
depends_on = ("patients_0001",)


def upgrade() -> None:
    op.create_table(
        "fhir_export_jobs",
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("since", UTCDateTime(timezone=True), nullable=True),
        sa.Column("request_url", sa.String(length=2000), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("progress", sa.String(length=200), nullable=False),
        sa.Column("transaction_time", UTCDateTime(timezone=True), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_fhir_export_jobs_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_fhir_export_jobs")),
    )
    op.create_index("ix_fhir_export_jobs_client", "fhir_export_jobs", ["org_id", "client_id", "created_at"],
                    unique=False)
    op.create_table(
        "fhir_export_files",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id", "job_id"], ["fhir_export_jobs.org_id", "fhir_export_jobs.id"],
                                name="fk_fhir_export_files_job", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_fhir_export_files_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_fhir_export_files")),
    )
    op.create_index("ix_fhir_export_files_job", "fhir_export_files", ["org_id", "job_id", "resource_type", "part"],
                    unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_patients_org_name_c", "patients",
                        ["org_id", sa.text('last_name_norm COLLATE "C"'), sa.text('first_name_norm COLLATE "C"'),
                         "dob", "id"], unique=False)
    else:  # SQLite compares text bytewise ("C" order) already
        op.create_index("ix_patients_org_name_c", "patients",
                        ["org_id", "last_name_norm", "first_name_norm", "dob", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patients_org_name_c", table_name="patients")
    op.drop_index("ix_fhir_export_files_job", table_name="fhir_export_files")
    op.drop_table("fhir_export_files")
    op.drop_index("ix_fhir_export_jobs_client", table_name="fhir_export_jobs")
    op.drop_table("fhir_export_jobs")

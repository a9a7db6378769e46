"""Patients (registry, coverage, payers, documents, merges, imports) and intake.

Revision ID: patients_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "patients_0001"
down_revision = None
branch_labels = ("patients",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "patient_import_mappings",
        sa.Column("source_name", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_patient_import_mappings_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_patient_import_mappings")),
        sa.UniqueConstraint("org_id", "source_name", "kind", name="uq_patient_import_mappings_src"),
    )
    op.create_table(
        "patient_mrn_counters",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_patient_mrn_counters_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_patient_mrn_counters")),
    )
    op.create_table(
        "payers",
        sa.Column("payer_code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address_line1", sa.String(length=200), nullable=False),
        sa.Column("address_line2", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("claim_filing_indicator", sa.String(length=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_payers_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_payers")),
        sa.UniqueConstraint("org_id", "payer_code", name="uq_payers_org_code"),
    )
    op.create_table(
        "intake_workflows",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("visit_type", sa.String(length=60), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_intake_workflows_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_intake_workflows_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_intake_workflows")),
    )
    op.create_index(
        "ix_intake_workflows_org_scope",
        "intake_workflows",
        ["org_id", "location_id", "visit_type"],
        unique=False,
    )
    op.create_table(
        "patients",
        sa.Column("mrn", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("middle_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("suffix", sa.String(length=20), nullable=False),
        sa.Column("preferred_name", sa.String(length=100), nullable=False),
        sa.Column("first_name_norm", sa.String(length=100), nullable=False),
        sa.Column("last_name_norm", sa.String(length=100), nullable=False),
        sa.Column("preferred_name_norm", sa.String(length=100), nullable=False),
        sa.Column("dob", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("gender_identity", sa.String(length=60), nullable=False),
        sa.Column("phone_mobile", sa.String(length=20), nullable=True),
        sa.Column("phone_home", sa.String(length=20), nullable=True),
        sa.Column("phone_work", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address_line1", sa.String(length=200), nullable=False),
        sa.Column("address_line2", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("preferred_location_id", sa.Uuid(), nullable=True),
        sa.Column("guarantor", sa.JSON(), nullable=True),
        sa.Column("emergency_name", sa.String(length=200), nullable=False),
        sa.Column("emergency_relationship", sa.String(length=60), nullable=False),
        sa.Column("emergency_phone", sa.String(length=20), nullable=True),
        sa.Column("preferred_channel", sa.String(length=10), nullable=False),
        sa.Column("consent_sms", sa.Boolean(), nullable=False),
        sa.Column("consent_email", sa.Boolean(), nullable=False),
        sa.Column("consent_voice", sa.Boolean(), nullable=False),
        sa.Column("sms_opted_out", sa.Boolean(), nullable=False),
        sa.Column("email_opted_out", sa.Boolean(), nullable=False),
        sa.Column("voice_opted_out", sa.Boolean(), nullable=False),
        sa.Column("ssn_encrypted", sa.String(length=400), nullable=True),
        sa.Column("ssn_index", sa.String(length=64), nullable=True),
        sa.Column("ssn_last4", sa.String(length=4), nullable=True),
        sa.Column("external_source", sa.String(length=60), nullable=True),
        sa.Column("external_id", sa.String(length=80), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "preferred_location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_patients_org_id_preferred_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_patients_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_patients")),
        sa.UniqueConstraint("org_id", "external_source", "external_id", name="uq_patients_org_external"),
        sa.UniqueConstraint("org_id", "mrn", name="uq_patients_org_mrn"),
    )
    op.create_index("ix_patients_org_dob", "patients", ["org_id", "dob"], unique=False)
    op.create_index("ix_patients_org_first", "patients", ["org_id", "first_name_norm"], unique=False,
                    postgresql_ops={"first_name_norm": "varchar_pattern_ops"})
    op.create_index(
        "ix_patients_org_last_first",
        "patients",
        ["org_id", "last_name_norm", "first_name_norm"],
        unique=False,
        postgresql_ops={"last_name_norm": "varchar_pattern_ops", "first_name_norm": "varchar_pattern_ops"},
    )
    op.create_index("ix_patients_org_phone_home", "patients", ["org_id", "phone_home"], unique=False)
    op.create_index("ix_patients_org_phone_mobile", "patients", ["org_id", "phone_mobile"], unique=False)
    op.create_index("ix_patients_org_phone_work", "patients", ["org_id", "phone_work"], unique=False)
    op.create_index("ix_patients_org_preferred", "patients", ["org_id", "preferred_name_norm"], unique=False,
                    postgresql_ops={"preferred_name_norm": "varchar_pattern_ops"})
    op.create_index("ix_patients_org_ssn_index", "patients", ["org_id", "ssn_index"], unique=False)
    op.create_table(
        "coverages",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Uuid(), nullable=False),
        sa.Column("plan_name", sa.String(length=200), nullable=False),
        sa.Column("member_id", sa.String(length=80), nullable=False),
        sa.Column("member_id_norm", sa.String(length=80), nullable=False),
        sa.Column("group_number", sa.String(length=80), nullable=False),
        sa.Column("relationship", sa.String(length=2), nullable=False),
        sa.Column("subscriber_first_name", sa.String(length=100), nullable=False),
        sa.Column("subscriber_last_name", sa.String(length=100), nullable=False),
        sa.Column("subscriber_dob", sa.Date(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("external_source", sa.String(length=60), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_coverages_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "payer_id"],
            ["payers.org_id", "payers.id"],
            name=op.f("fk_coverages_org_id_payer_id_payers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_coverages_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_coverages")),
    )
    op.create_index("ix_coverages_org_member", "coverages", ["org_id", "member_id_norm"], unique=False)
    op.create_index("ix_coverages_org_patient", "coverages", ["org_id", "patient_id"], unique=False)
    op.create_index(
        "uq_coverages_active_priority",
        "coverages",
        ["org_id", "patient_id", "priority"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "intake_workflow_versions",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "workflow_id"],
            ["intake_workflows.org_id", "intake_workflows.id"],
            name=op.f("fk_intake_workflow_versions_org_id_workflow_id_intake_workflows"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_intake_workflow_versions_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_intake_workflow_versions")),
        sa.UniqueConstraint("org_id", "workflow_id", "version", name="uq_intake_workflow_versions_version"),
    )
    op.create_table(
        "patient_aliases",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_patient_aliases_org_id_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_patient_aliases_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_patient_aliases")),
    )
    op.create_index(
        "ix_patient_aliases_org_patient", "patient_aliases", ["org_id", "patient_id"], unique=False
    )
    op.create_index("ix_patient_aliases_org_value", "patient_aliases", ["org_id", "value"], unique=False)
    op.create_table(
        "patient_documents",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("coverage_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_patient_documents_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_patient_documents_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_patient_documents")),
    )
    op.create_index(
        "ix_patient_documents_org_patient", "patient_documents", ["org_id", "patient_id"], unique=False
    )
    op.create_table(
        "patient_locations",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_patient_locations_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_patient_locations_org_id_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_patient_locations_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_patient_locations")),
        sa.UniqueConstraint("org_id", "patient_id", "location_id", name="uq_patient_locations_link"),
    )
    op.create_index(
        "ix_patient_locations_org_location",
        "patient_locations",
        ["org_id", "location_id", "patient_id"],
        unique=False,
    )
    op.create_table(
        "patient_merges",
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("merged_id", sa.Uuid(), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("merged_by", sa.Uuid(), nullable=True),
        sa.Column("merged_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("unmerged_by", sa.Uuid(), nullable=True),
        sa.Column("unmerged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "merged_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_patient_merges_org_id_merged_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "survivor_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_patient_merges_org_id_survivor_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_patient_merges_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_patient_merges")),
    )
    op.create_index("ix_patient_merges_org_merged", "patient_merges", ["org_id", "merged_id"], unique=False)
    op.create_table(
        "intake_submissions",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("visit_type", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("apply_notes", sa.JSON(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_intake_submissions_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_intake_submissions_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "version_id"],
            ["intake_workflow_versions.org_id", "intake_workflow_versions.id"],
            name=op.f("fk_intake_submissions_org_id_version_id_intake_workflow_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_intake_submissions_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_intake_submissions")),
    )
    op.create_index(
        "ix_intake_submissions_org_patient",
        "intake_submissions",
        ["org_id", "patient_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_intake_submissions_org_status",
        "intake_submissions",
        ["org_id", "status", "location_id"],
        unique=False,
    )
    op.create_table(
        "intake_links",
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "submission_id"],
            ["intake_submissions.org_id", "intake_submissions.id"],
            name=op.f("fk_intake_links_org_id_submission_id_intake_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_intake_links_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_intake_links")),
        sa.UniqueConstraint("org_id", "token_hash", name="uq_intake_links_token"),
    )
    op.create_index(
        "ix_intake_links_org_submission", "intake_links", ["org_id", "submission_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_intake_links_org_submission", table_name="intake_links")
    op.drop_table("intake_links")
    op.drop_index("ix_intake_submissions_org_status", table_name="intake_submissions")
    op.drop_index("ix_intake_submissions_org_patient", table_name="intake_submissions")
    op.drop_table("intake_submissions")
    op.drop_index("ix_patient_merges_org_merged", table_name="patient_merges")
    op.drop_table("patient_merges")
    op.drop_index("ix_patient_locations_org_location", table_name="patient_locations")
    op.drop_table("patient_locations")
    op.drop_index("ix_patient_documents_org_patient", table_name="patient_documents")
    op.drop_table("patient_documents")
    op.drop_index("ix_patient_aliases_org_value", table_name="patient_aliases")
    op.drop_index("ix_patient_aliases_org_patient", table_name="patient_aliases")
    op.drop_table("patient_aliases")
    op.drop_table("intake_workflow_versions")
    op.drop_index(
        "uq_coverages_active_priority",
        table_name="coverages",
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.drop_index("ix_coverages_org_patient", table_name="coverages")
    op.drop_index("ix_coverages_org_member", table_name="coverages")
    op.drop_table("coverages")
    op.drop_index("ix_patients_org_ssn_index", table_name="patients")
    op.drop_index("ix_patients_org_preferred", table_name="patients")
    op.drop_index("ix_patients_org_phone_work", table_name="patients")
    op.drop_index("ix_patients_org_phone_mobile", table_name="patients")
    op.drop_index("ix_patients_org_phone_home", table_name="patients")
    op.drop_index("ix_patients_org_last_first", table_name="patients")
    op.drop_index("ix_patients_org_first", table_name="patients")
    op.drop_index("ix_patients_org_dob", table_name="patients")
    op.drop_table("patients")
    op.drop_index("ix_intake_workflows_org_scope", table_name="intake_workflows")
    op.drop_table("intake_workflows")
    op.drop_table("payers")
    op.drop_table("patient_mrn_counters")
    op.drop_table("patient_import_mappings")

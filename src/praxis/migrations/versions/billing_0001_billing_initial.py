"""Billing: reference data (billing identities, taxonomies, payer EDI ids, clearinghouse connections,
code sets, fee schedules, visit types' default procedures, scrubber rule sets), encounters, claims,
their history, scrub runs, batches and EDI files.

Revision ID: billing_0001_billing_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "billing_0001_billing_initial"
down_revision = None
branch_labels = ("billing",)
depends_on = ("core_0001", "patients_0003_billing_subscriber", "scheduling_0001")


def upgrade() -> None:
    op.create_table(
        "billing_codes",
        sa.Column("system", sa.String(length=8), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_billing_codes_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_billing_codes")),
        sa.UniqueConstraint("org_id", "system", "code", name="uq_billing_codes_code"),
    )
    op.create_table(
        "billing_counters",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_billing_counters_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "name", name=op.f("pk_billing_counters")),
    )
    op.create_table(
        "clearinghouse_connections",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("outbound_dir", sa.String(length=500), nullable=False),
        sa.Column("inbound_dir", sa.String(length=500), nullable=False),
        sa.Column("sender_qualifier", sa.String(length=2), nullable=False),
        sa.Column("sender_id", sa.String(length=15), nullable=False),
        sa.Column("receiver_qualifier", sa.String(length=2), nullable=False),
        sa.Column("receiver_id", sa.String(length=15), nullable=False),
        sa.Column("submitter_name", sa.String(length=60), nullable=False),
        sa.Column("submitter_contact", sa.String(length=60), nullable=False),
        sa.Column("submitter_phone", sa.String(length=20), nullable=False),
        sa.Column("usage", sa.String(length=1), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_clearinghouse_connections_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_clearinghouse_connections")),
        sa.UniqueConstraint("org_id", "name", name="uq_clearinghouse_connections_name"),
    )
    op.create_table(
        "edi_files",
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("connection_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_edi_files_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_edi_files")),
        sa.UniqueConstraint("org_id", "direction", "sha256", name="uq_edi_files_sha"),
    )
    with op.batch_alter_table("edi_files", schema=None) as batch_op:
        batch_op.create_index("ix_edi_files_org_received", ["org_id", "received_at"], unique=False)

    op.create_table(
        "billing_profiles",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=False),
        sa.Column("tax_id", sa.String(length=9), nullable=False),
        sa.Column("tax_id_type", sa.String(length=3), nullable=False),
        sa.Column("taxonomy_code", sa.String(length=10), nullable=False),
        sa.Column("address_line1", sa.String(length=55), nullable=False),
        sa.Column("address_line2", sa.String(length=55), nullable=False),
        sa.Column("city", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("postal_code", sa.String(length=9), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("pay_to_line1", sa.String(length=55), nullable=False),
        sa.Column("pay_to_line2", sa.String(length=55), nullable=False),
        sa.Column("pay_to_city", sa.String(length=30), nullable=False),
        sa.Column("pay_to_state", sa.String(length=2), nullable=False),
        sa.Column("pay_to_postal_code", sa.String(length=9), nullable=False),
        sa.Column("clearinghouse_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "clearinghouse_id"],
            ["clearinghouse_connections.org_id", "clearinghouse_connections.id"],
            name=op.f("fk_billing_profiles_org_id_clearinghouse_id_clearinghouse_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_billing_profiles_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_billing_profiles_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_billing_profiles")),
        sa.UniqueConstraint("org_id", "location_id", name="uq_billing_profiles_location"),
    )
    op.create_table(
        "claim_batches",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("interchange_control_number", sa.String(length=9), nullable=False),
        sa.Column("group_control_number", sa.String(length=9), nullable=False),
        sa.Column("claim_count", sa.Integer(), nullable=False),
        sa.Column("total_charge_cents", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("edi_file_id", sa.Uuid(), nullable=True),
        sa.Column("ack_note", sa.String(length=1000), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "connection_id"],
            ["clearinghouse_connections.org_id", "clearinghouse_connections.id"],
            name=op.f("fk_claim_batches_org_id_connection_id_clearinghouse_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_claim_batches_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_claim_batches")),
        sa.UniqueConstraint(
            "org_id", "connection_id", "interchange_control_number", name="uq_claim_batches_isa"
        ),
    )
    with op.batch_alter_table("claim_batches", schema=None) as batch_op:
        batch_op.create_index("ix_claim_batches_org_created", ["org_id", "created_at"], unique=False)

    op.create_table(
        "fee_schedules",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("payer_id", sa.Uuid(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_fee_schedules_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "payer_id"],
            ["payers.org_id", "payers.id"],
            name=op.f("fk_fee_schedules_org_id_payer_id_payers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_fee_schedules_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_fee_schedules")),
    )
    with op.batch_alter_table("fee_schedules", schema=None) as batch_op:
        batch_op.create_index("ix_fee_schedules_org_from", ["org_id", "effective_from"], unique=False)

    op.create_table(
        "payer_edi_ids",
        sa.Column("payer_id", sa.Uuid(), nullable=False),
        sa.Column("clearinghouse_id", sa.Uuid(), nullable=True),
        sa.Column("transaction", sa.String(length=12), nullable=False),
        sa.Column("edi_id", sa.String(length=80), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "clearinghouse_id"],
            ["clearinghouse_connections.org_id", "clearinghouse_connections.id"],
            name=op.f("fk_payer_edi_ids_org_id_clearinghouse_id_clearinghouse_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "payer_id"],
            ["payers.org_id", "payers.id"],
            name=op.f("fk_payer_edi_ids_org_id_payer_id_payers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_payer_edi_ids_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_payer_edi_ids")),
    )
    with op.batch_alter_table("payer_edi_ids", schema=None) as batch_op:
        batch_op.create_index("ix_payer_edi_ids_payer", ["org_id", "payer_id", "transaction"], unique=False)

    op.create_table(
        "provider_billing",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("taxonomy_code", sa.String(length=10), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "provider_id"],
            ["providers.org_id", "providers.id"],
            name=op.f("fk_provider_billing_org_id_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_provider_billing_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_provider_billing")),
        sa.UniqueConstraint("org_id", "provider_id", name="uq_provider_billing_provider"),
    )
    op.create_table(
        "scrub_rule_sets",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("payer_id", sa.Uuid(), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "payer_id"],
            ["payers.org_id", "payers.id"],
            name=op.f("fk_scrub_rule_sets_org_id_payer_id_payers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_scrub_rule_sets_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_scrub_rule_sets")),
    )
    op.create_table(
        "visit_type_procedures",
        sa.Column("visit_type_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("modifiers", sa.JSON(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "visit_type_id"],
            ["visit_types.org_id", "visit_types.id"],
            name=op.f("fk_visit_type_procedures_org_id_visit_type_id_visit_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_visit_type_procedures_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_visit_type_procedures")),
    )
    with op.batch_alter_table("visit_type_procedures", schema=None) as batch_op:
        batch_op.create_index("ix_visit_type_procedures_vt", ["org_id", "visit_type_id"], unique=False)

    op.create_table(
        "fee_schedule_items",
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("modifier", sa.String(length=2), nullable=False),
        sa.Column("charge_cents", sa.Integer(), nullable=False),
        sa.Column("allowed_cents", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "schedule_id"],
            ["fee_schedules.org_id", "fee_schedules.id"],
            name=op.f("fk_fee_schedule_items_org_id_schedule_id_fee_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_fee_schedule_items_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_fee_schedule_items")),
        sa.UniqueConstraint("org_id", "schedule_id", "code", "modifier", name="uq_fee_schedule_items_code"),
    )
    op.create_table(
        "encounters",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("external_source", sa.String(length=60), nullable=True),
        sa.Column("external_id", sa.String(length=80), nullable=True),
        sa.Column("date_of_service", sa.Date(), nullable=False),
        sa.Column("rendering_provider_id", sa.Uuid(), nullable=True),
        sa.Column("referring_npi", sa.String(length=10), nullable=False),
        sa.Column("referring_first_name", sa.String(length=35), nullable=False),
        sa.Column("referring_last_name", sa.String(length=60), nullable=False),
        sa.Column("place_of_service", sa.String(length=2), nullable=False),
        sa.Column("diagnoses", sa.JSON(), nullable=False),
        sa.Column("prior_auth", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.String(length=1000), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "appointment_id"],
            ["appointments.org_id", "appointments.id"],
            name=op.f("fk_encounters_org_id_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_encounters_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_encounters_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "rendering_provider_id"],
            ["providers.org_id", "providers.id"],
            name=op.f("fk_encounters_org_id_rendering_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_encounters_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_encounters")),
        sa.UniqueConstraint("org_id", "appointment_id", name="uq_encounters_appointment"),
        sa.UniqueConstraint("org_id", "external_source", "external_id", name="uq_encounters_external"),
    )
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.create_index("ix_encounters_org_patient", ["org_id", "patient_id"], unique=False)
        batch_op.create_index(
            "ix_encounters_org_status", ["org_id", "status", "date_of_service"], unique=False
        )

    op.create_table(
        "claims",
        sa.Column("claim_number", sa.String(length=20), nullable=False),
        sa.Column("encounter_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("coverage_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Uuid(), nullable=False),
        sa.Column("responsibility", sa.String(length=1), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("frequency", sa.String(length=1), nullable=False),
        sa.Column("original_claim_id", sa.Uuid(), nullable=True),
        sa.Column("payer_claim_number", sa.String(length=50), nullable=False),
        sa.Column("date_of_service", sa.Date(), nullable=False),
        sa.Column("rendering_provider_id", sa.Uuid(), nullable=True),
        sa.Column("referring", sa.JSON(), nullable=True),
        sa.Column("place_of_service", sa.String(length=2), nullable=False),
        sa.Column("diagnoses", sa.JSON(), nullable=False),
        sa.Column("prior_auth", sa.String(length=50), nullable=False),
        sa.Column("total_charge_cents", sa.Integer(), nullable=False),
        sa.Column("paid_cents", sa.Integer(), nullable=True),
        sa.Column("patient_responsibility_cents", sa.Integer(), nullable=True),
        sa.Column("adjudicated_at", sa.Date(), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("scrubbed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("st_control_number", sa.String(length=9), nullable=True),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "coverage_id"],
            ["coverages.org_id", "coverages.id"],
            name=op.f("fk_claims_org_id_coverage_id_coverages"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "encounter_id"],
            ["encounters.org_id", "encounters.id"],
            name=op.f("fk_claims_org_id_encounter_id_encounters"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_claims_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_claims_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "payer_id"],
            ["payers.org_id", "payers.id"],
            name=op.f("fk_claims_org_id_payer_id_payers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "rendering_provider_id"],
            ["providers.org_id", "providers.id"],
            name=op.f("fk_claims_org_id_rendering_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_claims_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_claims")),
        sa.UniqueConstraint("org_id", "claim_number", name="uq_claims_number"),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index("ix_claims_org_batch", ["org_id", "batch_id"], unique=False)
        batch_op.create_index("ix_claims_org_encounter", ["org_id", "encounter_id"], unique=False)
        batch_op.create_index("ix_claims_org_patient", ["org_id", "patient_id"], unique=False)
        batch_op.create_index("ix_claims_org_findings", ["org_id", "finding_count"], unique=False)
        batch_op.create_index("ix_claims_org_status", ["org_id", "status", "date_of_service"], unique=False)

    op.create_table(
        "encounter_lines",
        sa.Column("encounter_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("modifiers", sa.JSON(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("charge_cents", sa.Integer(), nullable=False),
        sa.Column("dx_pointers", sa.JSON(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "encounter_id"],
            ["encounters.org_id", "encounters.id"],
            name=op.f("fk_encounter_lines_org_id_encounter_id_encounters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_encounter_lines_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_encounter_lines")),
        sa.UniqueConstraint("org_id", "encounter_id", "line_no", name="uq_encounter_lines_no"),
    )
    op.create_table(
        "claim_events",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("from_status", sa.String(length=10), nullable=False),
        sa.Column("to_status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("edi_file_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "claim_id"],
            ["claims.org_id", "claims.id"],
            name=op.f("fk_claim_events_org_id_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_claim_events_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_claim_events")),
    )
    with op.batch_alter_table("claim_events", schema=None) as batch_op:
        batch_op.create_index("ix_claim_events_claim", ["org_id", "claim_id", "at"], unique=False)

    op.create_table(
        "claim_lines",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("line_control_number", sa.String(length=30), nullable=False),
        sa.Column("encounter_line_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("modifiers", sa.JSON(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("charge_cents", sa.Integer(), nullable=False),
        sa.Column("dx_pointers", sa.JSON(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("paid_cents", sa.Integer(), nullable=True),
        sa.Column("adjustments", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "claim_id"],
            ["claims.org_id", "claims.id"],
            name=op.f("fk_claim_lines_org_id_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_claim_lines_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_claim_lines")),
        sa.UniqueConstraint("org_id", "claim_id", "line_no", name="uq_claim_lines_no"),
        sa.UniqueConstraint("org_id", "line_control_number", name="uq_claim_lines_control"),
    )
    op.create_table(
        "scrub_runs",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("rule_set_id", sa.Uuid(), nullable=True),
        sa.Column("clean", sa.Boolean(), nullable=False),
        sa.Column("first_pass", sa.Boolean(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "claim_id"],
            ["claims.org_id", "claims.id"],
            name=op.f("fk_scrub_runs_org_id_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_scrub_runs_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_scrub_runs")),
    )
    with op.batch_alter_table("scrub_runs", schema=None) as batch_op:
        batch_op.create_index("ix_scrub_runs_rule_set", ["org_id", "rule_set_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scrub_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_scrub_runs_rule_set")

    op.drop_table("scrub_runs")
    op.drop_table("claim_lines")
    with op.batch_alter_table("claim_events", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_events_claim")

    op.drop_table("claim_events")
    op.drop_table("encounter_lines")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("ix_claims_org_status")
        batch_op.drop_index("ix_claims_org_findings")
        batch_op.drop_index("ix_claims_org_patient")
        batch_op.drop_index("ix_claims_org_encounter")
        batch_op.drop_index("ix_claims_org_batch")

    op.drop_table("claims")
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.drop_index("ix_encounters_org_status")
        batch_op.drop_index("ix_encounters_org_patient")

    op.drop_table("encounters")
    op.drop_table("fee_schedule_items")
    with op.batch_alter_table("visit_type_procedures", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_type_procedures_vt")

    op.drop_table("visit_type_procedures")
    op.drop_table("scrub_rule_sets")
    op.drop_table("provider_billing")
    with op.batch_alter_table("payer_edi_ids", schema=None) as batch_op:
        batch_op.drop_index("ix_payer_edi_ids_payer")

    op.drop_table("payer_edi_ids")
    with op.batch_alter_table("fee_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_fee_schedules_org_from")

    op.drop_table("fee_schedules")
    with op.batch_alter_table("claim_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_batches_org_created")

    op.drop_table("claim_batches")
    op.drop_table("billing_profiles")
    with op.batch_alter_table("edi_files", schema=None) as batch_op:
        batch_op.drop_index("ix_edi_files_org_received")

    op.drop_table("edi_files")
    op.drop_table("clearinghouse_connections")
    op.drop_table("billing_counters")
    op.drop_table("billing_codes")

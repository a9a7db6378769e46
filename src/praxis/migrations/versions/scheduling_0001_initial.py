"""Scheduling: providers, rooms, visit types, hours, templates, appointments, waitlist, reminders.

Revision ID: scheduling_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "scheduling_0001"
down_revision = None
branch_labels = ("scheduling",)
depends_on = ("core_0001", "patients_0001")

# PostgreSQL refuses overlapping active appointments of one provider (and of one room) in the
# database itself. Created with op.execute so the model/migration comparison does not see it;
# the same statements live in praxis.scheduling.models.PG_EXCLUSION_DDL for create_all.
PG_EXCLUSION_DDL = (
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_provider_overlap "
    "EXCLUDE USING gist (org_id WITH =, provider_id WITH =, "
    "tstzrange(block_start, block_end, '[)') WITH &&) "
    "WHERE (status IN ('booked', 'confirmed', 'checked_in', 'roomed', 'checked_out') AND NOT overbooked)",
    "ALTER TABLE appointment_resources ADD CONSTRAINT ex_appointment_resources_overlap "
    "EXCLUDE USING gist (org_id WITH =, resource_id WITH =, "
    "tstzrange(start_at, end_at, '[)') WITH &&) WHERE (active)",
)


def upgrade() -> None:
    op.create_table(
        "providers",
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("credentials", sa.String(length=40), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("allow_overbooking", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_providers_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_providers")),
        sa.UniqueConstraint("org_id", "npi", name="uq_providers_org_npi"),
    )
    op.create_table(
        "reminder_rules",
        sa.Column("hours_before", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_reminder_rules_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_reminder_rules")),
        sa.UniqueConstraint("org_id", "hours_before", "channel", name="uq_reminder_rules_when"),
    )
    op.create_table(
        "visit_types",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("required_resource_kinds", sa.JSON(), nullable=False),
        sa.Column("patient_kind", sa.String(length=12), nullable=False),
        sa.Column("modality", sa.String(length=12), nullable=False),
        sa.Column("self_bookable", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_visit_types_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_visit_types")),
        sa.UniqueConstraint("org_id", "code", name="uq_visit_types_org_code"),
    )
    op.create_table(
        "booking_verifications",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("contact_index", sa.String(length=64), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.String(length=4000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_booking_verifications_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_booking_verifications_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_booking_verifications")),
    )
    op.create_index(
        "ix_booking_verifications_contact",
        "booking_verifications",
        ["contact_index", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_booking_verifications_ip", "booking_verifications", ["client_ip", "created_at"], unique=False
    )
    op.create_table(
        "business_hours",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("open_minute", sa.Integer(), nullable=False),
        sa.Column("close_minute", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_business_hours_org_id_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_business_hours_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_business_hours")),
    )
    op.create_index(
        "ix_business_hours_location", "business_hours", ["org_id", "location_id", "weekday"], unique=False
    )
    op.create_table(
        "closures",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_closures_org_id_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_closures_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_closures")),
        sa.UniqueConstraint("org_id", "location_id", "day", name="uq_closures_location_day"),
    )
    op.create_table(
        "provider_locations",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_provider_locations_org_id_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "provider_id"],
            ["providers.org_id", "providers.id"],
            name=op.f("fk_provider_locations_org_id_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_provider_locations_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_provider_locations")),
        sa.UniqueConstraint("org_id", "provider_id", "location_id", name="uq_provider_locations_pair"),
    )
    op.create_index(
        "ix_provider_locations_location", "provider_locations", ["org_id", "location_id"], unique=False
    )
    op.create_table(
        "resources",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_resources_org_id_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_resources_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_resources")),
        sa.UniqueConstraint("org_id", "location_id", "name", name="uq_resources_location_name"),
    )
    op.create_table(
        "schedule_exceptions",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("starts_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "provider_id"],
            ["providers.org_id", "providers.id"],
            name=op.f("fk_schedule_exceptions_org_id_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_schedule_exceptions_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_schedule_exceptions")),
    )
    op.create_index(
        "ix_schedule_exceptions_provider",
        "schedule_exceptions",
        ["org_id", "provider_id", "starts_at"],
        unique=False,
    )
    op.create_table(
        "schedule_templates",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_schedule_templates_org_id_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "provider_id"],
            ["providers.org_id", "providers.id"],
            name=op.f("fk_schedule_templates_org_id_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_schedule_templates_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_schedule_templates")),
    )
    op.create_index(
        "ix_schedule_templates_provider",
        "schedule_templates",
        ["org_id", "provider_id", "location_id"],
        unique=False,
    )
    op.create_table(
        "appointment_series",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_appointment_series_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_appointment_series_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_appointment_series")),
    )
    op.create_table(
        "schedule_template_blocks",
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("visit_type_ids", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "template_id"],
            ["schedule_templates.org_id", "schedule_templates.id"],
            name=op.f("fk_schedule_template_blocks_org_id_template_id_schedule_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_schedule_template_blocks_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_schedule_template_blocks")),
    )
    op.create_index(
        "ix_schedule_template_blocks_template",
        "schedule_template_blocks",
        ["org_id", "template_id"],
        unique=False,
    )
    op.create_table(
        "waitlist_entries",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("visit_type_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("time_of_day", sa.String(length=10), nullable=False),
        sa.Column("earliest_date", sa.Date(), nullable=True),
        sa.Column("latest_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_waitlist_entries_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "visit_type_id"],
            ["visit_types.org_id", "visit_types.id"],
            name=op.f("fk_waitlist_entries_org_id_visit_type_id_visit_types"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_waitlist_entries_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_waitlist_entries")),
    )
    op.create_index(
        "ix_waitlist_entries_match", "waitlist_entries", ["org_id", "status", "visit_type_id"], unique=False
    )
    op.create_table(
        "appointments",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("visit_type_id", sa.Uuid(), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=True),
        sa.Column("start_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("block_start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("block_end", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("overbooked", sa.Boolean(), nullable=False),
        sa.Column("telehealth", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("reason_for_visit", sa.String(length=200), nullable=False),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("roomed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_out_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("no_show_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "location_id"],
            ["locations.org_id", "locations.id"],
            name=op.f("fk_appointments_org_id_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "patient_id"],
            ["patients.org_id", "patients.id"],
            name=op.f("fk_appointments_org_id_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "provider_id"],
            ["providers.org_id", "providers.id"],
            name=op.f("fk_appointments_org_id_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "series_id"],
            ["appointment_series.org_id", "appointment_series.id"],
            name="fk_appointments_series_id_appointment_series",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "visit_type_id"],
            ["visit_types.org_id", "visit_types.id"],
            name=op.f("fk_appointments_org_id_visit_type_id_visit_types"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_appointments_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_appointments")),
    )
    op.create_index(
        "ix_appointments_location_time", "appointments", ["org_id", "location_id", "start_at"], unique=False
    )
    op.create_index(
        "ix_appointments_patient", "appointments", ["org_id", "patient_id", "start_at"], unique=False
    )
    op.create_index(
        "ix_appointments_provider_time",
        "appointments",
        ["org_id", "provider_id", "block_start"],
        unique=False,
    )
    op.create_table(
        "waitlist_offers",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("start_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "entry_id"],
            ["waitlist_entries.org_id", "waitlist_entries.id"],
            name=op.f("fk_waitlist_offers_org_id_entry_id_waitlist_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_waitlist_offers_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_waitlist_offers")),
    )
    op.create_index("ix_waitlist_offers_entry", "waitlist_offers", ["org_id", "entry_id"], unique=False)
    op.create_table(
        "appointment_resources",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("start_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "appointment_id"],
            ["appointments.org_id", "appointments.id"],
            name=op.f("fk_appointment_resources_org_id_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "resource_id"],
            ["resources.org_id", "resources.id"],
            name=op.f("fk_appointment_resources_org_id_resource_id_resources"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_appointment_resources_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_appointment_resources")),
    )
    op.create_index(
        "ix_appointment_resources_appointment",
        "appointment_resources",
        ["org_id", "appointment_id"],
        unique=False,
    )
    op.create_index(
        "ix_appointment_resources_resource",
        "appointment_resources",
        ["org_id", "resource_id", "start_at"],
        unique=False,
    )
    op.create_table(
        "reminder_log",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "appointment_id"],
            ["appointments.org_id", "appointments.id"],
            name=op.f("fk_reminder_log_org_id_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_reminder_log_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f("pk_reminder_log")),
        sa.UniqueConstraint("org_id", "appointment_id", "rule_id", "kind", name="uq_reminder_log_once"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_EXCLUSION_DDL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE appointment_resources DROP CONSTRAINT IF EXISTS ex_appointment_resources_overlap"
        )
        op.execute("ALTER TABLE appointments DROP CONSTRAINT IF EXISTS ex_appointments_provider_overlap")
    op.drop_table("reminder_log")
    op.drop_index("ix_appointment_resources_resource", table_name="appointment_resources")
    op.drop_index("ix_appointment_resources_appointment", table_name="appointment_resources")
    op.drop_table("appointment_resources")
    op.drop_index("ix_waitlist_offers_entry", table_name="waitlist_offers")
    op.drop_table("waitlist_offers")
    op.drop_index("ix_appointments_provider_time", table_name="appointments")
    op.drop_index("ix_appointments_patient", table_name="appointments")
    op.drop_index("ix_appointments_location_time", table_name="appointments")
    op.drop_table("appointments")
    op.drop_index("ix_waitlist_entries_match", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
    op.drop_index("ix_schedule_template_blocks_template", table_name="schedule_template_blocks")
    op.drop_table("schedule_template_blocks")
    op.drop_table("appointment_series")
    op.drop_index("ix_schedule_templates_provider", table_name="schedule_templates")
    op.drop_table("schedule_templates")
    op.drop_index("ix_schedule_exceptions_provider", table_name="schedule_exceptions")
    op.drop_table("schedule_exceptions")
    op.drop_table("resources")
    op.drop_index("ix_provider_locations_location", table_name="provider_locations")
    op.drop_table("provider_locations")
    op.drop_table("closures")
    op.drop_index("ix_business_hours_location", table_name="business_hours")
    op.drop_table("business_hours")
    op.drop_index("ix_booking_verifications_ip", table_name="booking_verifications")
    op.drop_index("ix_booking_verifications_contact", table_name="booking_verifications")
    op.drop_table("booking_verifications")
    op.drop_table("visit_types")
    op.drop_table("reminder_rules")
    op.drop_table("providers")

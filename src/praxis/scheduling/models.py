"""Scheduling tables: providers, rooms/equipment, visit types, hours, templates, appointments,
waitlist, reminders and online-booking verifications.

Times of day are stored as minutes after local midnight (0..1440) in the location's zone;
instants are stored as UTC (`Mapped[datetime]` -> platform.db.UTCDateTime).

An appointment occupies its provider from `block_start` to `block_end` (the visit plus the
visit type's buffers). On PostgreSQL an exclusion constraint (btree_gist) refuses two active,
non-overbooked appointments of one provider whose blocks overlap; it is installed by the
migration and, for `metadata.create_all`, by the DDL listeners at the bottom of this module.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import DDL, BigInteger, Boolean, Date, Index, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.crypto import EncryptedString
from praxis.platform.db import Base, TenantScoped, holds_phi, org_fk

# A system session reading these leaves an audit record (platform.db.holds_phi).
holds_phi("appointments", "appointment_series", "waitlist_entries", "waitlist_offers", "reminder_log",
          "booking_verifications")

ACTIVE_STATUSES = ("booked", "confirmed", "checked_in", "roomed", "checked_out")
_ACTIVE_SQL = "status IN ('booked', 'confirmed', 'checked_in', 'roomed', 'checked_out')"


class Provider(TenantScoped, Base):
    __tablename__ = "providers"

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    credentials: Mapped[str] = mapped_column(String(40), default="")
    npi: Mapped[str | None] = mapped_column(String(10))
    specialties: Mapped[list[Any]] = mapped_column(default=list)
    colour: Mapped[str] = mapped_column(String(7), default="#4a6fa5")
    allow_overbooking: Mapped[bool] = mapped_column(Boolean, default=False)
    user_id: Mapped[uuid.UUID | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (the paging migrations).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (UniqueConstraint("org_id", "npi", name="uq_providers_org_npi"),)

    @property
    def display_name(self) -> str:
        cred = f", {self.credentials}" if self.credentials else ""
        return f"{self.first_name} {self.last_name}{cred}"


class ProviderLocation(TenantScoped, Base):
    """A provider works at a location."""

    __tablename__ = "provider_locations"

    provider_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]

    __table_args__ = (
        org_fk(["provider_id"], "providers", ondelete="CASCADE"),
        org_fk(["location_id"], "locations", ondelete="CASCADE"),
        UniqueConstraint("org_id", "provider_id", "location_id", name="uq_provider_locations_pair"),
        Index("ix_provider_locations_location", "org_id", "location_id"),
    )


class Resource(TenantScoped, Base):
    """A room or a piece of equipment at one location. `kind` is "room" or an equipment kind."""

    __tablename__ = "resources"

    location_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["location_id"], "locations", ondelete="CASCADE"),
        UniqueConstraint("org_id", "location_id", "name", name="uq_resources_location_name"),
    )


class VisitType(TenantScoped, Base):
    __tablename__ = "visit_types"

    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    colour: Mapped[str] = mapped_column(String(7), default="#6c8ebf")
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # Resource kinds one of which must be free for the whole visit, e.g. ["room"].
    required_resource_kinds: Mapped[list[Any]] = mapped_column(default=list)
    patient_kind: Mapped[str] = mapped_column(String(12), default="any")  # any | new | established
    modality: Mapped[str] = mapped_column(String(12), default="in_person")  # in_person | telehealth
    self_bookable: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # For `updated_since`; nullable only because the column came later (the paging migrations).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (UniqueConstraint("org_id", "code", name="uq_visit_types_org_code"),)


class BusinessHours(TenantScoped, Base):
    """Opening hours of a location on one weekday (0 = Monday), local wall-clock minutes."""

    __tablename__ = "business_hours"

    location_id: Mapped[uuid.UUID]
    weekday: Mapped[int] = mapped_column(Integer)
    open_minute: Mapped[int] = mapped_column(Integer)
    close_minute: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        org_fk(["location_id"], "locations", ondelete="CASCADE"),
        Index("ix_business_hours_location", "org_id", "location_id", "weekday"),
    )


class Closure(TenantScoped, Base):
    """A whole local day a location is closed (holiday, weather)."""

    __tablename__ = "closures"

    location_id: Mapped[uuid.UUID]
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["location_id"], "locations", ondelete="CASCADE"),
        UniqueConstraint("org_id", "location_id", "day", name="uq_closures_location_day"),
    )


class ScheduleTemplate(TenantScoped, Base):
    """A provider's weekly working pattern at one location, effective between two dates."""

    __tablename__ = "schedule_templates"

    provider_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(100), default="")
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)  # inclusive; None = open-ended
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["provider_id"], "providers", ondelete="CASCADE"),
        org_fk(["location_id"], "locations", ondelete="CASCADE"),
        Index("ix_schedule_templates_provider", "org_id", "provider_id", "location_id"),
    )


class ScheduleTemplateBlock(TenantScoped, Base):
    """One working block of a template: weekday and local start/end minutes; optionally limited
    to some visit types (rows in schedule_block_visit_types; none = any visit type)."""

    __tablename__ = "schedule_template_blocks"

    template_id: Mapped[uuid.UUID]
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        org_fk(["template_id"], "schedule_templates", ondelete="CASCADE"),
        Index("ix_schedule_template_blocks_template", "org_id", "template_id"),
    )


class ScheduleBlockVisitType(TenantScoped, Base):
    """A template block is limited to this visit type. A table with composite keys, not a list of
    ids in a JSON column, so a block can name only visit types of its own organisation that exist."""

    __tablename__ = "schedule_block_visit_types"

    block_id: Mapped[uuid.UUID]
    visit_type_id: Mapped[uuid.UUID]

    __table_args__ = (
        org_fk(["block_id"], "schedule_template_blocks", ondelete="CASCADE", name="fk_sbvt_block"),
        # No cascade from visit types: deleting one must not silently open its blocks to any visit type.
        org_fk(["visit_type_id"], "visit_types", name="fk_sbvt_visit_type"),
        UniqueConstraint("org_id", "block_id", "visit_type_id", name="uq_sbvt_pair"),
    )


class ScheduleException(TenantScoped, Base):
    """Time a provider is not available (time off, a block); location None = everywhere."""

    __tablename__ = "schedule_exceptions"

    provider_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(12), default="time_off")  # time_off | block
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["provider_id"], "providers", ondelete="CASCADE"),
        Index("ix_schedule_exceptions_provider", "org_id", "provider_id", "starts_at"),
    )


class AppointmentSeries(TenantScoped, Base):
    """A recurring booking (weekly x N); its appointments point back to it."""

    __tablename__ = "appointment_series"

    patient_id: Mapped[uuid.UUID]
    rule: Mapped[str] = mapped_column(String(40))  # e.g. "weekly"
    interval: Mapped[int] = mapped_column(Integer, default=1)
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (org_fk(["patient_id"], "patients"),)


class Appointment(TenantScoped, Base):
    __tablename__ = "appointments"

    location_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    visit_type_id: Mapped[uuid.UUID]
    series_id: Mapped[uuid.UUID | None]
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    # The provider's occupied time: the visit plus the visit type's buffers.
    block_start: Mapped[datetime]
    block_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="booked")
    overbooked: Mapped[bool] = mapped_column(Boolean, default=False)
    telehealth: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(10), default="staff")  # staff | api | online | import
    reason_for_visit: Mapped[str] = mapped_column(String(200), default="")
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    roomed_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    no_show_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        org_fk(["location_id"], "locations"),
        org_fk(["provider_id"], "providers"),
        org_fk(["patient_id"], "patients"),
        org_fk(["visit_type_id"], "visit_types"),
        org_fk(["series_id"], "appointment_series", ondelete="SET NULL",
               name="fk_appointments_series_id_appointment_series"),
        Index("ix_appointments_provider_time", "org_id", "provider_id", "block_start"),
        Index("ix_appointments_location_time", "org_id", "location_id", "start_at"),
        Index("ix_appointments_patient", "org_id", "patient_id", "start_at"),
    )


class AppointmentResource(TenantScoped, Base):
    """A room or equipment held by an appointment (times copied so overlap checks are local)."""

    __tablename__ = "appointment_resources"

    appointment_id: Mapped[uuid.UUID]
    resource_id: Mapped[uuid.UUID]
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        org_fk(["appointment_id"], "appointments", ondelete="CASCADE"),
        org_fk(["resource_id"], "resources"),
        Index("ix_appointment_resources_resource", "org_id", "resource_id", "start_at"),
        Index("ix_appointment_resources_appointment", "org_id", "appointment_id"),
    )


class WaitlistEntry(TenantScoped, Base):
    __tablename__ = "waitlist_entries"

    patient_id: Mapped[uuid.UUID]
    visit_type_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID | None]  # None = any provider
    location_id: Mapped[uuid.UUID | None]  # None = any location
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher is more urgent
    time_of_day: Mapped[str] = mapped_column(String(10), default="any")
    earliest_date: Mapped[date | None] = mapped_column(Date)
    latest_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="waiting")  # waiting|offered|booked|removed
    notes: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        org_fk(["visit_type_id"], "visit_types"),
        Index("ix_waitlist_entries_match", "org_id", "status", "visit_type_id"),
    )


class WaitlistOffer(TenantScoped, Base):
    __tablename__ = "waitlist_offers"

    entry_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID]
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="open")  # open|accepted|expired|declined|lost
    expires_at: Mapped[datetime]
    appointment_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["entry_id"], "waitlist_entries", ondelete="CASCADE"),
        Index("ix_waitlist_offers_entry", "org_id", "entry_id"),
    )


class ReminderRule(TenantScoped, Base):
    """Send a reminder `hours_before` the visit on the patient's preferred channel."""

    __tablename__ = "reminder_rules"

    hours_before: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(12), default="preferred")  # preferred | sms | email
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (UniqueConstraint("org_id", "hours_before", "channel", name="uq_reminder_rules_when"),)


class ReminderLog(TenantScoped, Base):
    """One reminder of one appointment by one rule: sent, skipped (and why) or failed."""

    __tablename__ = "reminder_log"

    appointment_id: Mapped[uuid.UUID]
    rule_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(12), default="reminder")  # reminder | code | intake
    channel: Mapped[str] = mapped_column(String(10), default="")
    status: Mapped[str] = mapped_column(String(10))  # sent | skipped | failed
    detail: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["appointment_id"], "appointments", ondelete="CASCADE"),
        UniqueConstraint("org_id", "appointment_id", "rule_id", "kind", name="uq_reminder_log_once"),
    )


class BookingVerification(TenantScoped, Base):
    """An online booking waiting for its one-time code. `payload` (name, contact, slot) is
    encrypted at rest; only a hash of the code is kept."""

    __tablename__ = "booking_verifications"

    location_id: Mapped[uuid.UUID]
    contact_index: Mapped[str] = mapped_column(String(64))  # blind index of phone/email (rate limit)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    code_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(EncryptedString(4000))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    appointment_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["location_id"], "locations"),
        Index("ix_booking_verifications_contact", "contact_index", "created_at"),
        Index("ix_booking_verifications_ip", "client_ip", "created_at"),
    )


class ReferenceVersion(Base):
    """Per-organisation version of the reference data booking caches (scheduling/reference.py).

    Bumped by triggers on every table the cache reads (migration scheduling_0002), whatever the
    write path. Not tenant-scoped: one row per organisation, keyed by it."""

    __tablename__ = "scheduling_reference_versions"

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


# --- PostgreSQL exclusion constraints (not part of the compared metadata) --------------------

PG_EXCLUSION_DDL = (
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_provider_overlap "
    "EXCLUDE USING gist (org_id WITH =, provider_id WITH =, "
    "tstzrange(block_start, block_end, '[)') WITH &&) "
    f"WHERE ({_ACTIVE_SQL} AND NOT overbooked)",
    "ALTER TABLE appointment_resources ADD CONSTRAINT ex_appointment_resources_overlap "
    "EXCLUDE USING gist (org_id WITH =, resource_id WITH =, "
    "tstzrange(start_at, end_at, '[)') WITH &&) WHERE (active)",
)
PG_EXCLUSION_DROP = (
    "ALTER TABLE appointment_resources DROP CONSTRAINT IF EXISTS ex_appointment_resources_overlap",
    "ALTER TABLE appointments DROP CONSTRAINT IF EXISTS ex_appointments_provider_overlap",
)

event.listen(Appointment.__table__, "before_create",
             DDL(PG_EXCLUSION_DDL[0]).execute_if(dialect="postgresql"))
event.listen(Appointment.__table__, "after_create",
             DDL(PG_EXCLUSION_DDL[1]).execute_if(dialect="postgresql"))
event.listen(AppointmentResource.__table__, "after_create",
             DDL(PG_EXCLUSION_DDL[2]).execute_if(dialect="postgresql"))

"""Care-management tables: the problem list, consents, enrolments, the running timers, time
entries, RPM readings and day counts, approved months and the organisation's engine settings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.db import Base, TenantScoped, org_fk


class CareProblem(TenantScoped, Base):
    """One entry of a patient's problem list (patients keeps no problem list of its own).

    `expected_months` is how long the condition is expected to last; CCM needs two problems
    of 12+ months, PCM one high-risk problem of 3+ months (care-management-rules.md, "Eligibility").
    """

    __tablename__ = "care_problems"

    patient_id: Mapped[uuid.UUID]
    icd10: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(200), default="")
    onset_date: Mapped[date | None] = mapped_column(Date)
    expected_months: Mapped[int] = mapped_column(Integer, default=12)
    high_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        Index("ix_care_problems_patient", "org_id", "patient_id"),
    )


class CareConsent(TenantScoped, Base):
    """Consent to care management, obtained once per patient and billing practitioner."""

    __tablename__ = "care_consents"

    patient_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID]
    method: Mapped[str] = mapped_column(String(8))  # verbal | written
    obtained_by_id: Mapped[uuid.UUID | None]
    obtained_by_name: Mapped[str] = mapped_column(String(200))
    obtained_at: Mapped[datetime]
    told_availability: Mapped[bool] = mapped_column(Boolean)
    told_cost_sharing: Mapped[bool] = mapped_column(Boolean)
    told_stop_month_end: Mapped[bool] = mapped_column(Boolean)
    told_one_practitioner: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        org_fk(["provider_id"], "providers"),
        # Not unique: a patient merge may bring two consents for one practitioner together.
        Index("ix_care_consents_patient_provider", "org_id", "patient_id", "provider_id"),
    )


class CareEnrolment(TenantScoped, Base):
    """A patient enrolled in one programme with one billing practitioner at one location."""

    __tablename__ = "care_enrolments"

    patient_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    program: Mapped[str] = mapped_column(String(4))  # ccm | pcm | rpm
    complex: Mapped[bool] = mapped_column(Boolean, default=False)  # moderate or high MDM (complex CCM)
    consent_id: Mapped[uuid.UUID]
    initiating_visit_on: Mapped[date] = mapped_column(Date)
    initiating_visit_kind: Mapped[str] = mapped_column(String(8))  # em | awv | ippe
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)  # last day of the month of disenrolment
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    rpm_setup_billed: Mapped[bool] = mapped_column(Boolean, default=False)  # 99453, once per episode
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (the paging migrations).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        org_fk(["provider_id"], "providers"),
        org_fk(["location_id"], "locations"),
        org_fk(["consent_id"], "care_consents"),
        Index("ix_care_enrolments_patient", "org_id", "patient_id"),
        Index("ix_care_enrolments_location", "org_id", "location_id"),
    )


class CareTimer(TenantScoped, Base):
    """A timer of one person on one enrolment, kept server-side so a page reload finds it.

    At most one *running* timer per person: a partial unique index, so two starts racing each
    other (two tabs, a double click) cannot both succeed on either database.
    """

    __tablename__ = "care_timers"

    actor_id: Mapped[uuid.UUID]
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    enrolment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    activity: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(12))  # staff | practitioner
    interactive: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime]
    running_since: Mapped[datetime | None]  # None while paused
    accumulated_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["enrolment_id"], "care_enrolments"),
        org_fk(["patient_id"], "patients"),
        Index("uq_care_timers_one_running", "org_id", "actor_id", unique=True,
              postgresql_where=text("running_since IS NOT NULL"), sqlite_where=text("running_since IS NOT NULL")),
    )


class CareTimeEntry(TenantScoped, Base):
    """Minutes of care-management work by one person on one enrolment."""

    __tablename__ = "care_time_entries"

    enrolment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID]  # the enrolment's billing practitioner (denormalised for the month)
    program: Mapped[str] = mapped_column(String(4))
    author_id: Mapped[uuid.UUID | None]
    author_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(12))  # staff | practitioner (the billing practitioner personally)
    activity: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime]
    minutes: Mapped[int] = mapped_column(Integer)
    service_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the enrolment location's zone
    note: Mapped[str] = mapped_column(Text, default="")
    interactive: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(8), default="manual")  # manual | timer
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    edited_after_billing: Mapped[bool] = mapped_column(Boolean, default=False)
    edit_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["enrolment_id"], "care_enrolments"),
        org_fk(["patient_id"], "patients"),
        Index("ix_care_time_entries_month", "org_id", "service_month", "enrolment_id"),
        Index("ix_care_time_entries_author", "org_id", "author_id", "started_at"),
    )


class RpmReading(TenantScoped, Base):
    """One device reading posted by a vendor; `(vendor, reading_id)` makes the post idempotent."""

    __tablename__ = "care_rpm_readings"

    enrolment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    vendor: Mapped[str] = mapped_column(String(60))
    reading_id: Mapped[str] = mapped_column(String(120))
    measured_at: Mapped[datetime]
    local_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(40), default="")
    value: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["enrolment_id"], "care_enrolments"),
        org_fk(["patient_id"], "patients"),
        UniqueConstraint("org_id", "vendor", "reading_id", name="uq_care_rpm_readings_vendor_reading"),
        Index("ix_care_rpm_readings_days", "org_id", "enrolment_id", "local_date"),
    )


class RpmDayCount(TenantScoped, Base):
    """A vendor's count of days with data in one 30-day period (when it sends no readings)."""

    __tablename__ = "care_rpm_day_counts"

    enrolment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    vendor: Mapped[str] = mapped_column(String(60))
    count_id: Mapped[str] = mapped_column(String(120))
    period_start: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["enrolment_id"], "care_enrolments"),
        org_fk(["patient_id"], "patients"),
        UniqueConstraint("org_id", "vendor", "count_id", name="uq_care_rpm_day_counts_vendor_count"),
    )


class CareMonth(TenantScoped, Base):
    """An approved month of one enrolment: the codes the engine gave, frozen at approval."""

    __tablename__ = "care_months"

    enrolment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    provider_id: Mapped[uuid.UUID]
    month: Mapped[str] = mapped_column(String(7))
    codes: Mapped[dict[str, Any]]  # code -> units
    minutes: Mapped[dict[str, Any]]  # lane -> minutes counted
    reasons: Mapped[list[Any]]
    approved_by_id: Mapped[uuid.UUID | None]
    approved_by_name: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(default=now)
    charges_created: Mapped[bool] = mapped_column(Boolean, default=False)
    # The billing encounter created from this month (care.charging), or why none could be.
    charge_encounter_id: Mapped[uuid.UUID | None]
    charge_problem: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["enrolment_id"], "care_enrolments"),
        org_fk(["patient_id"], "patients"),
        UniqueConstraint("org_id", "enrolment_id", "month", name="uq_care_months_enrolment_month"),
    )


class CareSettings(Base):
    """The organisation's choices where CMS leaves one (see rules.EngineSettings)."""

    __tablename__ = "care_settings"

    # Not TenantScoped: one row per organisation, keyed by it (read and written by org id).
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    pool_practitioner_minutes: Mapped[bool] = mapped_column(Boolean, default=True)
    rpm_setup_min_days: Mapped[int] = mapped_column(Integer, default=16)
    short_window_minutes: Mapped[int] = mapped_column(Integer, default=10)


class CarePlanVersion(TenantScoped, Base):
    """One immutable version of an enrolment's comprehensive care plan.

    Every save inserts a new row (version n+1); rows are never updated, so any version an auditor
    asks about is the one that was in force. `content` holds the plan itself (problems linked to
    the problem list with a snapshot of their codes, goals, interventions, the responsible team
    and the review date) — a document, read and written whole. `effective_on` is the local date
    of the save at the enrolment's location: the month a substantial revision counts for
    (complex CCM 99487/99489 needs one in the month; the first version is the plan's
    establishment and counts as one, docs/decisions.md section 43).
    """

    __tablename__ = "care_plan_versions"

    enrolment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]]
    review_on: Mapped[date | None] = mapped_column(Date)
    substantial_revision: Mapped[bool] = mapped_column(Boolean, default=False)
    revision_reason: Mapped[str] = mapped_column(Text, default="")
    effective_on: Mapped[date] = mapped_column(Date)
    author_id: Mapped[uuid.UUID | None]
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["enrolment_id"], "care_enrolments"),
        org_fk(["patient_id"], "patients"),
        # Two saves racing for the same version number: one wins, the other is told to reload.
        UniqueConstraint("org_id", "enrolment_id", "version", name="uq_care_plan_versions_enrolment_version"),
        Index("ix_care_plan_versions_month", "org_id", "effective_on", "enrolment_id"),
        Index("ix_care_plan_versions_patient", "org_id", "patient_id"),
    )

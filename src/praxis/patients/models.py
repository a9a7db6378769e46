"""Tables of the patients domain: registry, locations, coverage, payers, documents, merges, imports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.crypto import EncryptedString, register_encrypted_column
from praxis.platform.db import Base, TenantScoped, holds_phi, org_fk

# Key rotation re-encrypts every registered column.
register_encrypted_column("patients", "ssn_encrypted")
# A system session reading these leaves an audit record (platform.db.holds_phi).
holds_phi("patients", "patient_locations", "patient_aliases", "coverages", "patient_documents", "patient_merges")


class MrnCounter(Base):
    """The organisation's MRN sequence. One row per org, bumped with UPDATE ... RETURNING."""

    __tablename__ = "patient_mrn_counters"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


_PATTERN_OPS = {"last_name_norm": "varchar_pattern_ops", "first_name_norm": "varchar_pattern_ops",
                "preferred_name_norm": "varchar_pattern_ops"}


class Patient(TenantScoped, Base):
    __tablename__ = "patients"

    mrn: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | merged | inactive
    merged_into_id: Mapped[uuid.UUID | None]
    # Legal name (as on the insurance card) and the name the patient goes by.
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100))
    suffix: Mapped[str] = mapped_column(String(20), default="")
    preferred_name: Mapped[str] = mapped_column(String(100), default="")
    # Normalised copies (unaccented, case-folded) for indexed prefix search and duplicates.
    first_name_norm: Mapped[str] = mapped_column(String(100), default="")
    last_name_norm: Mapped[str] = mapped_column(String(100), default="")
    preferred_name_norm: Mapped[str] = mapped_column(String(100), default="")
    dob: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1), default="U")
    gender_identity: Mapped[str] = mapped_column(String(60), default="")
    # Phones are E.164 so a number typed any way finds the patient.
    phone_mobile: Mapped[str | None] = mapped_column(String(20))
    phone_home: Mapped[str | None] = mapped_column(String(20))
    phone_work: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(2), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    country: Mapped[str] = mapped_column(String(2), default="US")
    language: Mapped[str] = mapped_column(String(35), default="en")
    preferred_location_id: Mapped[uuid.UUID | None]
    # Guarantor (who pays): {"relationship": "self"} or name/phone/address of another person.
    guarantor: Mapped[dict[str, Any] | None]
    emergency_name: Mapped[str] = mapped_column(String(200), default="")
    emergency_relationship: Mapped[str] = mapped_column(String(60), default="")
    emergency_phone: Mapped[str | None] = mapped_column(String(20))
    # Communication preferences: consent given and explicit opt-outs (STOP) are separate facts.
    preferred_channel: Mapped[str] = mapped_column(String(10), default="sms")
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_voice: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    email_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    voice_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    ssn_encrypted: Mapped[str | None] = mapped_column(EncryptedString(400))
    ssn_index: Mapped[str | None] = mapped_column(String(64))
    ssn_last4: Mapped[str | None] = mapped_column(String(4))
    # Where an imported patient came from, so re-running an import creates nothing new.
    external_source: Mapped[str | None] = mapped_column(String(60))
    external_id: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["preferred_location_id"], "locations"),
        UniqueConstraint("org_id", "mrn", name="uq_patients_org_mrn"),
        UniqueConstraint("org_id", "external_source", "external_id", name="uq_patients_org_external"),
        # Name search is `LIKE 'prefix%'` on normalised names: on PostgreSQL only pattern-ops
        # indexes serve a prefix LIKE under a non-C collation (see docs/performance.md).
        Index("ix_patients_org_last_first", "org_id", "last_name_norm", "first_name_norm",
              postgresql_ops=_PATTERN_OPS),
        # The pattern-ops index above finds a name prefix but cannot give the name order on
        # PostgreSQL (its operators are not the collation's), so a broad prefix ("garc") sorted
        # every match before the LIMIT. This one gives search its order and stops after a page. On
        # PostgreSQL the migration builds the two names COLLATE "C" (search sorts in "C" order
        # there, and a "C" index serves a prefix LIKE too); reflection does not show a column's
        # collation, so it is declared here by its columns (docs/decisions.md 39).
        Index("ix_patients_org_name_c", "org_id", "last_name_norm", "first_name_norm", "dob", "id"),
        Index("ix_patients_org_first", "org_id", "first_name_norm", postgresql_ops=_PATTERN_OPS),
        Index("ix_patients_org_preferred", "org_id", "preferred_name_norm", postgresql_ops=_PATTERN_OPS),
        Index("ix_patients_org_dob", "org_id", "dob"),
        # The registry sync (`GET /patients?updated_since=` alone) walks this index in its order.
        Index("ix_patients_org_updated", "org_id", "updated_at", "id"),
        Index("ix_patients_org_phone_mobile", "org_id", "phone_mobile"),
        Index("ix_patients_org_phone_home", "org_id", "phone_home"),
        Index("ix_patients_org_phone_work", "org_id", "phone_work"),
        Index("ix_patients_org_ssn_index", "org_id", "ssn_index"),
    )


class PatientLocation(TenantScoped, Base):
    """A patient is seen at (linked to) a location: drives location-scoped search."""

    __tablename__ = "patient_locations"

    patient_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients", ondelete="CASCADE"),
        org_fk(["location_id"], "locations"),
        UniqueConstraint("org_id", "patient_id", "location_id", name="uq_patient_locations_link"),
        Index("ix_patient_locations_org_location", "org_id", "location_id", "patient_id"),
    )


class PatientAlias(TenantScoped, Base):
    """Another identifier that finds the patient: a merged record's MRN, a legacy system's MRN."""

    __tablename__ = "patient_aliases"

    patient_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))  # merged_mrn | legacy_mrn
    value: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients", ondelete="CASCADE"),
        Index("ix_patient_aliases_org_value", "org_id", "value"),
        Index("ix_patient_aliases_org_patient", "org_id", "patient_id"),
    )


class Payer(TenantScoped, Base):
    """The organisation's payer directory; `payer_code` is the id used in X12 (NM1*PR)."""

    __tablename__ = "payers"

    payer_code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(2), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    claim_filing_indicator: Mapped[str] = mapped_column(String(2), default="CI")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (the paging migrations).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (UniqueConstraint("org_id", "payer_code", name="uq_payers_org_code"),)


class Coverage(TenantScoped, Base):
    __tablename__ = "coverages"

    patient_id: Mapped[uuid.UUID]
    payer_id: Mapped[uuid.UUID]
    plan_name: Mapped[str] = mapped_column(String(200), default="")
    member_id: Mapped[str] = mapped_column(String(80))
    member_id_norm: Mapped[str] = mapped_column(String(80))
    group_number: Mapped[str] = mapped_column(String(80), default="")
    # X12 individual relationship code: 18 self, 01 spouse, 19 child, G8 other.
    relationship: Mapped[str] = mapped_column(String(2), default="18")
    subscriber_first_name: Mapped[str] = mapped_column(String(100), default="")
    subscriber_last_name: Mapped[str] = mapped_column(String(100), default="")
    subscriber_dob: Mapped[date | None] = mapped_column(Date)
    # The subscriber's sex and address go on claims when the patient is not the subscriber.
    subscriber_sex: Mapped[str] = mapped_column(String(1), default="U", server_default="U")
    subscriber_address_line1: Mapped[str] = mapped_column(String(200), default="", server_default="")
    subscriber_address_line2: Mapped[str] = mapped_column(String(200), default="", server_default="")
    subscriber_city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    subscriber_state: Mapped[str] = mapped_column(String(2), default="", server_default="")
    subscriber_postal_code: Mapped[str] = mapped_column(String(10), default="", server_default="")
    priority: Mapped[int] = mapped_column(Integer)  # 1 primary, 2 secondary, 3 tertiary
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    external_source: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        org_fk(["payer_id"], "payers"),
        # One primary, one secondary, one tertiary among a patient's active coverages.
        Index(
            "uq_coverages_active_priority",
            "org_id",
            "patient_id",
            "priority",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
        Index("ix_coverages_org_member", "org_id", "member_id_norm"),
        Index("ix_coverages_org_patient", "org_id", "patient_id"),
    )


class Document(TenantScoped, Base):
    """A stored file (card image, signed form); the bytes live on disk under var_dir."""

    __tablename__ = "patient_documents"

    patient_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(30))  # card_front | card_back | consent | id | other
    filename: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    coverage_id: Mapped[uuid.UUID | None]
    # What produced it (e.g. "intake" + the submission id); no FK: intake sits above patients.
    source: Mapped[str] = mapped_column(String(30), default="upload")
    source_id: Mapped[uuid.UUID | None]
    uploaded_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        Index("ix_patient_documents_org_patient", "org_id", "patient_id"),
    )


class MergeRecord(TenantScoped, Base):
    """Exactly which rows a merge moved, so an unmerge can put them back."""

    __tablename__ = "patient_merges"

    survivor_id: Mapped[uuid.UUID]
    merged_id: Mapped[uuid.UUID]
    # {"table.column": [row ids moved], ...} plus "_deleted" rows that would have collided.
    moved: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10), default="merged")  # merged | unmerged
    merged_by: Mapped[uuid.UUID | None]
    merged_at: Mapped[datetime] = mapped_column(default=now)
    unmerged_by: Mapped[uuid.UUID | None]
    unmerged_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(500), default="")
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["survivor_id"], "patients"),
        org_fk(["merged_id"], "patients"),
        Index("ix_patient_merges_org_merged", "org_id", "merged_id"),
    )


class ImportMapping(TenantScoped, Base):
    """Column mapping remembered per source (e.g. the acquired clinic's old system)."""

    __tablename__ = "patient_import_mappings"

    source_name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))  # patients | coverages
    mapping: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    __table_args__ = (UniqueConstraint("org_id", "source_name", "kind", name="uq_patient_import_mappings_src"),)


class PatientAlert(TenantScoped, Base):
    """Something about a patient a person must see and acknowledge (e.g. a positive PHQ-9 item 9
    in an intake). Raised by the domain that found it, in that domain's transaction; the
    acknowledgement keeps who and when, so "someone looked at it" is a record, not a badge."""

    __tablename__ = "patient_alerts"

    patient_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(40))  # e.g. phq9_item9
    severity: Mapped[str] = mapped_column(String(10), default="high")  # high | medium | info
    message: Mapped[str] = mapped_column(String(500))
    # What raised it (e.g. "intake_submission" + its id); no FK: intake sits above patients.
    source_type: Mapped[str] = mapped_column(String(40), default="")
    source_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    acknowledged_by: Mapped[uuid.UUID | None]
    # The name as it was when acknowledged: the record must say who, even after the user is renamed.
    acknowledged_by_name: Mapped[str] = mapped_column(String(200), default="")
    acknowledged_at: Mapped[datetime | None]
    acknowledgement_note: Mapped[str] = mapped_column(String(500), default="")
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        Index("ix_patient_alerts_org_patient", "org_id", "patient_id", "acknowledged_at"),
        UniqueConstraint("org_id", "source_type", "source_id", "kind", name="uq_patient_alerts_source"),
    )


class ImportJob(TenantScoped, Base):
    """A large import (dry run or apply) queued for the worker, with the progress the import screen
    polls and the report when it is done. The uploaded file waits encrypted in the upload store."""

    __tablename__ = "patient_import_jobs"

    kind: Mapped[str] = mapped_column(String(20))  # patients | coverages
    source_name: Mapped[str] = mapped_column(String(60))
    location_id: Mapped[uuid.UUID]
    location_code: Mapped[str] = mapped_column(String(30))
    filename: Mapped[str] = mapped_column(String(255), default="")
    encoding: Mapped[str] = mapped_column(String(20), default="utf-8")
    mapping: Mapped[dict[str, Any] | None]
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    upload_token: Mapped[str] = mapped_column(String(32))
    # Who asked, and the import permission's scope then (None = org-wide): the worker acts as them.
    actor_id: Mapped[uuid.UUID | None]
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    import_scope: Mapped[list[Any] | None]
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done | failed
    stage: Mapped[str] = mapped_column(String(20), default="")
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]

    __table_args__ = (org_fk(["location_id"], "locations", ondelete="CASCADE"),)

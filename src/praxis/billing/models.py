"""Tables of the billing domain.

Reference data: billing identity per location, provider taxonomies, payer EDI ids, clearinghouse
connections, code sets, fee schedules, visit types' default procedures, scrubber rule sets.
Work: encounters (charges) and their lines, claims and their lines, the claim's history, scrub
runs, batches and every EDI file in or out (raw, stored before it is processed).

Money is integer cents. A claim's number (`claim_number`, sent as CLM01) and its lines' control
numbers (`line_control_number`, REF*6R) never change, so 277CA answers and 835 remittances find
the claim and line they speak of.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.db import Base, TenantScoped, org_fk


class BillingCounter(Base):
    """Persistent per-organisation sequences: claim numbers and, per clearinghouse connection, the
    interchange (ISA13), group (GS06) and transaction set (ST02) control numbers. Bumped with
    UPDATE ... RETURNING in the allocating transaction, so a number is never handed out twice."""

    __tablename__ = "billing_counters"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ClearinghouseConnection(TenantScoped, Base):
    """Where claim files go and acknowledgements come from. `kind` "folder" writes files to
    `outbound_dir` (SFTP comes later). The envelope ids are the ones the clearinghouse assigned."""

    __tablename__ = "clearinghouse_connections"

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="folder")
    outbound_dir: Mapped[str] = mapped_column(String(500), default="")
    inbound_dir: Mapped[str] = mapped_column(String(500), default="")
    sender_qualifier: Mapped[str] = mapped_column(String(2), default="ZZ")
    sender_id: Mapped[str] = mapped_column(String(15))
    receiver_qualifier: Mapped[str] = mapped_column(String(2), default="ZZ")
    receiver_id: Mapped[str] = mapped_column(String(15))
    submitter_name: Mapped[str] = mapped_column(String(60), default="")
    submitter_contact: Mapped[str] = mapped_column(String(60), default="")
    submitter_phone: Mapped[str] = mapped_column(String(20), default="")
    usage: Mapped[str] = mapped_column(String(1), default="T")  # ISA15: T test, P production
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_clearinghouse_connections_name"),)


class BillingProfile(TenantScoped, Base):
    """The billing provider (2010AA) and pay-to address (2010AB) of one location."""

    __tablename__ = "billing_profiles"

    location_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(60))
    npi: Mapped[str] = mapped_column(String(10))
    tax_id: Mapped[str] = mapped_column(String(9))
    tax_id_type: Mapped[str] = mapped_column(String(3), default="EIN")  # EIN | SSN
    taxonomy_code: Mapped[str] = mapped_column(String(10), default="")
    address_line1: Mapped[str] = mapped_column(String(55))
    address_line2: Mapped[str] = mapped_column(String(55), default="")
    city: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(9))
    phone: Mapped[str] = mapped_column(String(20), default="")
    # Pay-to address only when it differs from the billing provider's (a lock box).
    pay_to_line1: Mapped[str] = mapped_column(String(55), default="")
    pay_to_line2: Mapped[str] = mapped_column(String(55), default="")
    pay_to_city: Mapped[str] = mapped_column(String(30), default="")
    pay_to_state: Mapped[str] = mapped_column(String(2), default="")
    pay_to_postal_code: Mapped[str] = mapped_column(String(9), default="")
    clearinghouse_id: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["location_id"], "locations"),
        org_fk(["clearinghouse_id"], "clearinghouse_connections"),
        UniqueConstraint("org_id", "location_id", name="uq_billing_profiles_location"),
    )


class ProviderBilling(TenantScoped, Base):
    """A rendering provider's billing facts that scheduling does not keep: the taxonomy code."""

    __tablename__ = "provider_billing"

    provider_id: Mapped[uuid.UUID]
    taxonomy_code: Mapped[str] = mapped_column(String(10))

    __table_args__ = (
        org_fk(["provider_id"], "providers", ondelete="CASCADE"),
        UniqueConstraint("org_id", "provider_id", name="uq_provider_billing_provider"),
    )


class PayerEdiId(TenantScoped, Base):
    """A payer's id for one transaction (claims, eligibility, remittance), at one clearinghouse or
    (clearinghouse_id None) at any. Falls back to the payer directory's payer_code."""

    __tablename__ = "payer_edi_ids"

    payer_id: Mapped[uuid.UUID]
    clearinghouse_id: Mapped[uuid.UUID | None]
    transaction: Mapped[str] = mapped_column(String(12))  # claims | eligibility | remittance
    edi_id: Mapped[str] = mapped_column(String(80))
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["payer_id"], "payers", ondelete="CASCADE"),
        org_fk(["clearinghouse_id"], "clearinghouse_connections", ondelete="CASCADE"),
        Index("ix_payer_edi_ids_payer", "org_id", "payer_id", "transaction"),
    )


class BillingCode(TenantScoped, Base):
    """An organisation's loaded code list: ICD10CM, CPT (licensed: each organisation loads its
    own), HCPCS."""

    __tablename__ = "billing_codes"

    system: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("org_id", "system", "code", name="uq_billing_codes_code"),)


class FeeSchedule(TenantScoped, Base):
    """Charges (and the expected allowed amounts) for an organisation, optionally narrowed to one
    location and/or one payer, effective between two dates (inclusive; open-ended when None)."""

    __tablename__ = "fee_schedules"

    name: Mapped[str] = mapped_column(String(100))
    location_id: Mapped[uuid.UUID | None]
    payer_id: Mapped[uuid.UUID | None]
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["location_id"], "locations"),
        org_fk(["payer_id"], "payers"),
        Index("ix_fee_schedules_org_from", "org_id", "effective_from"),
    )


class FeeScheduleItem(TenantScoped, Base):
    __tablename__ = "fee_schedule_items"

    schedule_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(8))
    modifier: Mapped[str] = mapped_column(String(2), default="")
    charge_cents: Mapped[int] = mapped_column(Integer)
    allowed_cents: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        org_fk(["schedule_id"], "fee_schedules", ondelete="CASCADE"),
        UniqueConstraint("org_id", "schedule_id", "code", "modifier", name="uq_fee_schedule_items_code"),
    )


class VisitTypeProcedure(TenantScoped, Base):
    """A procedure a visit type bills by default (the superbill starts from these)."""

    __tablename__ = "visit_type_procedures"

    visit_type_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(String(8))
    modifiers: Mapped[list[Any]] = mapped_column(default=list)
    units: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        org_fk(["visit_type_id"], "visit_types", ondelete="CASCADE"),
        Index("ix_visit_type_procedures_vt", "org_id", "visit_type_id"),
    )


class ScrubRuleSet(TenantScoped, Base):
    """Scrubber rules as data: `rules` is a list of {"rule": name, "enabled": bool, ...params}
    (billing.scrubber.RULES names them). payer_id None is the organisation's default set."""

    __tablename__ = "scrub_rule_sets"

    name: Mapped[str] = mapped_column(String(100))
    payer_id: Mapped[uuid.UUID | None]
    rules: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    __table_args__ = (org_fk(["payer_id"], "payers"),)


class Encounter(TenantScoped, Base):
    """Charges of one visit: from a checked-out appointment, entered stand-alone, or sent by an
    EHR (idempotent by `external_source` + `external_id`)."""

    __tablename__ = "encounters"

    patient_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    appointment_id: Mapped[uuid.UUID | None]
    external_source: Mapped[str | None] = mapped_column(String(60))
    external_id: Mapped[str | None] = mapped_column(String(80))
    date_of_service: Mapped[date] = mapped_column(Date)
    rendering_provider_id: Mapped[uuid.UUID | None]
    referring_npi: Mapped[str] = mapped_column(String(10), default="")
    referring_first_name: Mapped[str] = mapped_column(String(35), default="")
    referring_last_name: Mapped[str] = mapped_column(String(60), default="")
    place_of_service: Mapped[str] = mapped_column(String(2), default="11")
    diagnoses: Mapped[list[Any]] = mapped_column(default=list)  # ICD-10-CM, no dots, at most 12
    prior_auth: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | billed | void
    notes: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        org_fk(["patient_id"], "patients"),
        org_fk(["location_id"], "locations"),
        org_fk(["appointment_id"], "appointments"),
        org_fk(["rendering_provider_id"], "providers"),
        UniqueConstraint("org_id", "appointment_id", name="uq_encounters_appointment"),
        UniqueConstraint("org_id", "external_source", "external_id", name="uq_encounters_external"),
        Index("ix_encounters_org_status", "org_id", "status", "date_of_service"),
        Index("ix_encounters_org_patient", "org_id", "patient_id"),
    )


class EncounterLine(TenantScoped, Base):
    __tablename__ = "encounter_lines"

    encounter_id: Mapped[uuid.UUID]
    line_no: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(8))
    modifiers: Mapped[list[Any]] = mapped_column(default=list)
    units: Mapped[int] = mapped_column(Integer, default=1)
    charge_cents: Mapped[int] = mapped_column(Integer)
    dx_pointers: Mapped[list[Any]] = mapped_column(default=list)  # 1-based into the encounter's diagnoses
    service_date: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        org_fk(["encounter_id"], "encounters", ondelete="CASCADE"),
        UniqueConstraint("org_id", "encounter_id", "line_no", name="uq_encounter_lines_no"),
    )


class Claim(TenantScoped, Base):
    """One claim to one payer for one encounter. Built by coverage order (responsibility P, then S
    after the primary's adjudication). What goes to the payer is frozen here at build time
    (diagnoses, lines, providers); subscriber and payer details are read when the file is written."""

    __tablename__ = "claims"

    claim_number: Mapped[str] = mapped_column(String(20))  # CLM01, never reused
    encounter_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    coverage_id: Mapped[uuid.UUID]
    payer_id: Mapped[uuid.UUID]
    responsibility: Mapped[str] = mapped_column(String(1), default="P")  # SBR01: P | S | T
    status: Mapped[str] = mapped_column(String(10), default="draft")
    frequency: Mapped[str] = mapped_column(String(1), default="1")  # CLM05-3: 1 original, 7 replace, 8 void
    original_claim_id: Mapped[uuid.UUID | None]
    payer_claim_number: Mapped[str] = mapped_column(String(50), default="")
    date_of_service: Mapped[date] = mapped_column(Date)
    rendering_provider_id: Mapped[uuid.UUID | None]
    referring: Mapped[dict[str, Any] | None]  # {"npi", "first_name", "last_name"}
    place_of_service: Mapped[str] = mapped_column(String(2))
    diagnoses: Mapped[list[Any]] = mapped_column(default=list)
    prior_auth: Mapped[str] = mapped_column(String(50), default="")
    total_charge_cents: Mapped[int] = mapped_column(Integer, default=0)
    paid_cents: Mapped[int | None] = mapped_column(Integer)
    patient_responsibility_cents: Mapped[int | None] = mapped_column(Integer)
    adjudicated_at: Mapped[date | None] = mapped_column(Date)
    findings: Mapped[list[Any]] = mapped_column(default=list)  # the last scrub's findings
    finding_count: Mapped[int] = mapped_column(Integer, default=0)  # indexed by the worklist
    scrubbed_at: Mapped[datetime | None]
    batch_id: Mapped[uuid.UUID | None]
    st_control_number: Mapped[str | None] = mapped_column(String(9))
    submitted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        org_fk(["encounter_id"], "encounters"),
        org_fk(["patient_id"], "patients"),
        org_fk(["location_id"], "locations"),
        org_fk(["coverage_id"], "coverages"),
        org_fk(["payer_id"], "payers"),
        org_fk(["rendering_provider_id"], "providers"),
        UniqueConstraint("org_id", "claim_number", name="uq_claims_number"),
        Index("ix_claims_org_status", "org_id", "status", "date_of_service"),
        Index("ix_claims_org_findings", "org_id", "finding_count"),
        Index("ix_claims_org_encounter", "org_id", "encounter_id"),
        Index("ix_claims_org_patient", "org_id", "patient_id"),
        Index("ix_claims_org_batch", "org_id", "batch_id"),
    )


class ClaimLine(TenantScoped, Base):
    __tablename__ = "claim_lines"

    claim_id: Mapped[uuid.UUID]
    line_no: Mapped[int] = mapped_column(Integer)
    line_control_number: Mapped[str] = mapped_column(String(30))  # REF*6R, matched by 835 SVC
    encounter_line_id: Mapped[uuid.UUID | None]
    code: Mapped[str] = mapped_column(String(8))
    modifiers: Mapped[list[Any]] = mapped_column(default=list)
    units: Mapped[int] = mapped_column(Integer, default=1)
    charge_cents: Mapped[int] = mapped_column(Integer)
    dx_pointers: Mapped[list[Any]] = mapped_column(default=list)
    service_date: Mapped[date] = mapped_column(Date)
    paid_cents: Mapped[int | None] = mapped_column(Integer)
    adjustments: Mapped[list[Any]] = mapped_column(default=list)  # [{"group","reason","cents"}]

    __table_args__ = (
        org_fk(["claim_id"], "claims", ondelete="CASCADE"),
        UniqueConstraint("org_id", "claim_id", "line_no", name="uq_claim_lines_no"),
        UniqueConstraint("org_id", "line_control_number", name="uq_claim_lines_control"),
    )


class ClaimEvent(TenantScoped, Base):
    """The claim's history: every status change and what caused it (a person, a 999, a 277CA)."""

    __tablename__ = "claim_events"

    claim_id: Mapped[uuid.UUID]
    event: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str] = mapped_column(String(10), default="")
    to_status: Mapped[str] = mapped_column(String(10), default="")
    note: Mapped[str] = mapped_column(String(1000), default="")
    detail: Mapped[dict[str, Any] | None]
    edi_file_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["claim_id"], "claims", ondelete="CASCADE"),
        Index("ix_claim_events_claim", "org_id", "claim_id", "at"),
    )


class ScrubRun(TenantScoped, Base):
    """One scrub of one claim under one rule set (None: the built-in defaults): the clean-claim
    rate of a rule set is clean runs / runs."""

    __tablename__ = "scrub_runs"

    claim_id: Mapped[uuid.UUID]
    rule_set_id: Mapped[uuid.UUID | None]
    clean: Mapped[bool] = mapped_column(Boolean)
    first_pass: Mapped[bool] = mapped_column(Boolean, default=False)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        org_fk(["claim_id"], "claims", ondelete="CASCADE"),
        Index("ix_scrub_runs_rule_set", "org_id", "rule_set_id", "at"),
    )


class ClaimBatch(TenantScoped, Base):
    """One 837P interchange sent to one clearinghouse connection."""

    __tablename__ = "claim_batches"

    connection_id: Mapped[uuid.UUID]
    payer_id: Mapped[uuid.UUID | None]  # set when submitted with --payer
    status: Mapped[str] = mapped_column(String(10), default="created")  # created|sent|accepted|partial|rejected
    interchange_control_number: Mapped[str] = mapped_column(String(9))
    group_control_number: Mapped[str] = mapped_column(String(9))
    claim_count: Mapped[int] = mapped_column(Integer, default=0)
    total_charge_cents: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str] = mapped_column(String(200), default="")
    edi_file_id: Mapped[uuid.UUID | None]
    ack_note: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["connection_id"], "clearinghouse_connections"),
        UniqueConstraint("org_id", "connection_id", "interchange_control_number", name="uq_claim_batches_isa"),
        Index("ix_claim_batches_org_created", "org_id", "created_at"),
    )


class EdiFile(TenantScoped, Base):
    """Every X12 file in or out, raw, stored before anything is done with it. An inbound file is
    processed once: the same bytes again (same sha256) find this row and change nothing."""

    __tablename__ = "edi_files"

    direction: Mapped[str] = mapped_column(String(3))  # in | out
    kind: Mapped[str] = mapped_column(String(8), default="")  # 837P | 999 | 277CA | TA1 | ...
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="received")  # received|processed|failed|sent
    error: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict[str, Any] | None]
    connection_id: Mapped[uuid.UUID | None]
    received_at: Mapped[datetime] = mapped_column(default=now)
    processed_at: Mapped[datetime | None]
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        UniqueConstraint("org_id", "direction", "sha256", name="uq_edi_files_sha"),
        Index("ix_edi_files_org_received", "org_id", "received_at"),
    )

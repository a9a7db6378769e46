"""Billing reference data: billing identity per location, provider taxonomies, payer EDI ids,
clearinghouse connections, code sets (with their importer), fee schedules and visit types'
default procedures. Set-up is organisation-level (`billing:manage`)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from praxis.billing import codes
from praxis.billing.models import (
    BillingCode,
    BillingProfile,
    ClearinghouseConnection,
    FeeSchedule,
    FeeScheduleItem,
    PayerEdiId,
    ProviderBilling,
    VisitTypeProcedure,
)
from praxis.billing.permissions import BILLING_CHARGE, BILLING_MANAGE, BILLING_READ
from praxis.billing.schemas import (
    BillingProfileIn,
    BillingProfileOut,
    CodeImportOut,
    ConnectionIn,
    ConnectionOut,
    FeeItemOut,
    FeeScheduleIn,
    FeeScheduleOut,
    PayerEdiIdIn,
    PayerEdiIdOut,
    ProcedureIn,
)
from praxis.patients.models import Payer
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Forbidden, NotFound, ValidationProblem
from praxis.platform.locks import key_for, xact_lock
from praxis.platform.settings import get_settings
from praxis.platform.uow import unit_of_work
from praxis.practice.models import Location, Organisation
from praxis.scheduling.models import Provider, VisitType


def _require_read(ctx: Context) -> None:
    if not (ctx.has(BILLING_READ) or ctx.has(BILLING_MANAGE) or ctx.has(BILLING_CHARGE)):
        raise Forbidden(f"Permission {BILLING_READ} required")


# --- billing identity per location ---------------------------------------------------------------


def set_billing_profile(ctx: Context, location_id: uuid.UUID, data: BillingProfileIn) -> BillingProfileOut:
    """Create or replace the billing provider identity (NPI, tax id, taxonomy, addresses) of a
    location."""
    ctx.require(BILLING_MANAGE)
    with unit_of_work(ctx) as session:
        get_or_404(session, Location, location_id, "location")
        if data.clearinghouse_id is not None:
            get_or_404(session, ClearinghouseConnection, data.clearinghouse_id, "clearinghouse connection")
        profile = session.scalars(select(BillingProfile).where(BillingProfile.location_id == location_id)).first()
        if profile is None:
            profile = BillingProfile(org_id=ctx.org_id, location_id=location_id, **data.model_dump())
            session.add(profile)
        else:
            for k, v in data.model_dump().items():
                setattr(profile, k, v)
        session.flush()
        audit.record(session, ctx, "billing_profile.set", "location", location_id, location_id=location_id)
        return BillingProfileOut.model_validate(profile)


def get_billing_profile(ctx: Context, location_id: uuid.UUID) -> BillingProfileOut:
    """A location's billing identity (a location outside the caller's scope answers 404)."""
    _require_read(ctx)
    held = next(p for p in (BILLING_READ, BILLING_MANAGE, BILLING_CHARGE) if ctx.has(p))
    ctx.require(held, location_id, what="location")
    with unit_of_work(ctx) as session:
        get_or_404(session, Location, location_id, "location")
        profile = profile_for(session, location_id)
        if profile is None:
            raise NotFound("This location has no billing identity yet")
        return BillingProfileOut.model_validate(profile)


def profile_for(session: Session, location_id: uuid.UUID) -> BillingProfile | None:
    return session.scalars(select(BillingProfile).where(BillingProfile.location_id == location_id)).first()


# --- providers ------------------------------------------------------------------------------------


def set_provider_taxonomy(ctx: Context, provider_id: uuid.UUID, taxonomy_code: str) -> None:
    """Record the rendering provider's taxonomy code (PRV*PE on the claim)."""
    ctx.require(BILLING_MANAGE)
    if not codes.taxonomy_ok(taxonomy_code):
        raise ValidationProblem("Not a provider taxonomy code (10 characters ending in X)", field="taxonomy_code")
    with unit_of_work(ctx) as session:
        get_or_404(session, Provider, provider_id, "provider")
        row = session.scalars(select(ProviderBilling).where(ProviderBilling.provider_id == provider_id)).first()
        if row is None:
            session.add(ProviderBilling(org_id=ctx.org_id, provider_id=provider_id, taxonomy_code=taxonomy_code))
        else:
            row.taxonomy_code = taxonomy_code
        audit.record(session, ctx, "provider.taxonomy", "provider", provider_id, detail={"taxonomy": taxonomy_code})


def taxonomy_of(session: Session, provider_id: uuid.UUID | None) -> str:
    if provider_id is None:
        return ""
    return session.scalars(select(ProviderBilling.taxonomy_code)
                           .where(ProviderBilling.provider_id == provider_id)).first() or ""


# --- payers' EDI ids ------------------------------------------------------------------------------


def set_payer_edi_id(ctx: Context, payer_id: uuid.UUID, data: PayerEdiIdIn) -> PayerEdiIdOut:
    """Set the payer's id for one transaction (at one clearinghouse, or at any when none is named)."""
    ctx.require(BILLING_MANAGE)
    with unit_of_work(ctx) as session:
        get_or_404(session, Payer, payer_id, "payer")
        if data.clearinghouse_id is not None:
            get_or_404(session, ClearinghouseConnection, data.clearinghouse_id, "clearinghouse connection")
        row = session.scalars(select(PayerEdiId).where(
            PayerEdiId.payer_id == payer_id, PayerEdiId.transaction == data.transaction,
            PayerEdiId.clearinghouse_id == data.clearinghouse_id if data.clearinghouse_id
            else PayerEdiId.clearinghouse_id.is_(None))).first()
        if row is None:
            row = PayerEdiId(org_id=ctx.org_id, payer_id=payer_id, **data.model_dump())
            session.add(row)
        else:
            row.edi_id = data.edi_id
        session.flush()
        audit.record(session, ctx, "payer.edi_id", "payer", payer_id, detail=data.model_dump(mode="json"))
        return PayerEdiIdOut.model_validate(row)


def list_payer_edi_ids(ctx: Context, payer_id: uuid.UUID) -> list[PayerEdiIdOut]:
    _require_read(ctx)
    with unit_of_work(ctx) as session:
        get_or_404(session, Payer, payer_id, "payer")
        rows = session.scalars(select(PayerEdiId).where(PayerEdiId.payer_id == payer_id)
                               .order_by(PayerEdiId.transaction))
        return [PayerEdiIdOut.model_validate(r) for r in rows]


def payer_edi_id(session: Session, payer: Payer, transaction: str, clearinghouse_id: uuid.UUID | None) -> str:
    """The payer's id for `transaction` at this clearinghouse; then at any; then its payer code."""
    rows = list(session.scalars(select(PayerEdiId).where(PayerEdiId.payer_id == payer.id,
                                                         PayerEdiId.transaction == transaction)))
    for r in rows:
        if clearinghouse_id is not None and r.clearinghouse_id == clearinghouse_id:
            return r.edi_id
    for r in rows:
        if r.clearinghouse_id is None:
            return r.edi_id
    return payer.payer_code


# --- clearinghouse connections --------------------------------------------------------------------


def create_connection(ctx: Context, data: ConnectionIn) -> ConnectionOut:
    """Add a clearinghouse connection (folder transport now; SFTP later)."""
    ctx.require(BILLING_MANAGE)
    with unit_of_work(ctx) as session:
        if session.scalars(select(ClearinghouseConnection.id)
                           .where(ClearinghouseConnection.name == data.name)).first():
            raise ValidationProblem("A connection with this name exists", field="name")
        if data.is_default:
            for c in session.scalars(select(ClearinghouseConnection).where(ClearinghouseConnection.is_default)):
                c.is_default = False
        conn = ClearinghouseConnection(org_id=ctx.org_id, **data.model_dump())
        session.add(conn)
        session.flush()
        _folders(session, conn)
        audit.record(session, ctx, "clearinghouse.create", "clearinghouse_connection", conn.id)
        return ConnectionOut.model_validate(conn)


def list_connections(ctx: Context) -> list[ConnectionOut]:
    _require_read(ctx)
    with unit_of_work(ctx) as session:
        rows = session.scalars(select(ClearinghouseConnection).order_by(ClearinghouseConnection.name))
        return [ConnectionOut.model_validate(c) for c in rows]


def _folders(session: Session, conn: ClearinghouseConnection) -> None:
    """A folder connection without directories gets var/clearinghouse/<org slug>/<name>/{outbound,inbound}."""
    if conn.kind != "folder" or (conn.outbound_dir and conn.inbound_dir):
        return
    org = session.get(Organisation, conn.org_id)
    base = Path(get_settings().var_dir) / "clearinghouse" / (org.slug if org else conn.org_id.hex) / \
        codes_safe(conn.name)
    conn.outbound_dir = conn.outbound_dir or str(base / "outbound")
    conn.inbound_dir = conn.inbound_dir or str(base / "inbound")


def codes_safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-") or "default"


def default_connection(session: Session, org_id: uuid.UUID) -> ClearinghouseConnection:
    """The organisation's default connection; a new organisation gets a folder under var/."""
    # Serialise the check-then-create (the org.created handler and a first submission may meet).
    xact_lock(session.connection(), key_for(org_id, CONNECTION_LOCK))
    conn = session.scalars(select(ClearinghouseConnection).where(ClearinghouseConnection.is_default,
                                                                 ClearinghouseConnection.active)).first()
    if conn is None:
        conn = session.scalars(select(ClearinghouseConnection).where(ClearinghouseConnection.active)
                               .order_by(ClearinghouseConnection.created_at)).first()
    if conn is None:
        org = session.get(Organisation, org_id)
        sender = (org.slug if org else "PRAXIS").upper().replace("-", "")[:15]
        conn = ClearinghouseConnection(org_id=org_id, name="Default folder", kind="folder", sender_id=sender,
                                       receiver_id="CLEARINGHOUSE", submitter_name=(org.name if org else "")[:60],
                                       is_default=True)
        session.add(conn)
        session.flush()
        _folders(session, conn)
    return conn


def ensure_default_connection(org_id: uuid.UUID | None, _payload: dict[str, object] | None = None) -> None:
    """`org.created` -> the new organisation's default connection: a folder under var/ (idempotent)."""
    if org_id is None:
        return
    from praxis.platform.context import system_context

    with unit_of_work(system_context(org_id, "billing.setup")) as session:
        default_connection(session, org_id)


def connection_for_location(session: Session, org_id: uuid.UUID, location_id: uuid.UUID) -> ClearinghouseConnection:
    profile = profile_for(session, location_id)
    if profile is not None and profile.clearinghouse_id is not None:
        conn = session.get(ClearinghouseConnection, (profile.clearinghouse_id, org_id))
        if conn is not None and conn.active:
            return conn
    return default_connection(session, org_id)


# --- code sets ------------------------------------------------------------------------------------

SYSTEMS = ("ICD10CM", "CPT", "HCPCS")
CONNECTION_LOCK = uuid.UUID("0c7f3a52-1d64-4b8e-b2a9-3e5f6d7c8b90")  # second part of the default-connection lock


def import_codes(ctx: Context, system: str, text: str, *, apply: bool) -> CodeImportOut:
    """Load an organisation's code list from CSV/TSV text `code,description` (a header row is
    skipped). A dry run (apply=False) reports every bad row; applying writes all or nothing."""
    ctx.require(BILLING_MANAGE)
    if system not in SYSTEMS:
        raise ValidationProblem(f"Unknown code system {system!r}; one of {', '.join(SYSTEMS)}", field="system")
    rows, errors = _parse_codes(system, text)
    if not rows and not errors:
        errors.append({"row": 0, "field": "code", "message": "The file holds no codes"})
    added = updated = 0
    if apply and not errors:
        with unit_of_work(ctx) as session:
            existing = {c.code: c for c in session.scalars(select(BillingCode).where(BillingCode.system == system))}
            for code, desc in rows:
                row = existing.get(code)
                if row is None:
                    session.add(BillingCode(org_id=ctx.org_id, system=system, code=code, description=desc))
                    added += 1
                elif row.description != desc or not row.active:
                    row.description, row.active = desc, True
                    updated += 1
            audit.record(session, ctx, "codes.import", "code_set", None,
                         detail={"system": system, "added": added, "updated": updated})
    return CodeImportOut(system=system, rows=len(rows), added=added, updated=updated, errors=errors,
                         applied=apply and not errors)


def _parse_codes(system: str, text: str) -> tuple[list[tuple[str, str]], list[dict[str, object]]]:
    dialect = "excel-tab" if "\t" in text.split("\n", 1)[0] else "excel"
    rows: list[tuple[str, str]] = []
    errors: list[dict[str, object]] = []
    seen: set[str] = set()
    for i, rec in enumerate(csv.reader(io.StringIO(text), dialect=dialect), start=1):
        if not rec or not "".join(rec).strip():
            continue
        raw = rec[0].strip()
        if i == 1 and raw.lower() in {"code", "codes", "cpt", "hcpcs", "icd10", "icd-10", "icd10cm"}:
            continue
        code = codes.normalise_icd10(raw) if system == "ICD10CM" else raw.upper()
        ok = codes.icd10_format_ok(code) if system == "ICD10CM" else codes.procedure_format_ok(code)
        if not ok:
            errors.append({"row": i, "field": "code", "message": f"{raw!r} is not a {system} code"})
            continue
        if code in seen:
            errors.append({"row": i, "field": "code", "message": f"{code} appears twice"})
            continue
        desc = rec[1].strip() if len(rec) > 1 else ""
        if desc[:1] in {"=", "+", "@"} or (desc[:1] == "-" and not desc[1:2].isdigit()):
            errors.append({"row": i, "field": "description", "message": "starts with a formula character"})
            continue
        seen.add(code)
        rows.append((code, desc[:300]))
    return rows, errors


def loaded_codes(session: Session, system: str, wanted: list[str]) -> set[str] | None:
    """Which of `wanted` the organisation's loaded list holds; None when no list is loaded."""
    any_row = session.scalars(select(BillingCode.id).where(BillingCode.system == system).limit(1)).first()
    if any_row is None:
        return None
    if not wanted:
        return set()
    return set(session.scalars(select(BillingCode.code).where(BillingCode.system == system,
                                                               BillingCode.active,
                                                               BillingCode.code.in_(wanted))))


def search_codes(ctx: Context, system: str, q: str, *, limit: int = 20) -> list[tuple[str, str]]:
    """Codes of a loaded list whose code or description starts with / contains `q`."""
    _require_read(ctx)
    # Input never becomes a LIKE pattern: wildcards and the escape character are escaped.
    words = q.strip()
    code = re.sub(r"[^A-Z0-9]", "", words.upper())
    pattern = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with unit_of_work(ctx) as session:
        stmt = select(BillingCode.code, BillingCode.description).where(
            BillingCode.system == system, BillingCode.active,
            or_(BillingCode.code.like(f"{code}%") if code else false(),
                BillingCode.description.ilike(f"%{pattern}%", escape="\\"))) \
            .order_by(BillingCode.code).limit(limit)
        return [(c, d) for c, d in session.execute(stmt)]


# --- fee schedules --------------------------------------------------------------------------------


def create_fee_schedule(ctx: Context, data: FeeScheduleIn) -> FeeScheduleOut:
    """Add a fee schedule (organisation-wide, or for one location and/or payer) with its items."""
    ctx.require(BILLING_MANAGE)
    with unit_of_work(ctx) as session:
        if data.location_id:
            get_or_404(session, Location, data.location_id, "location")
        if data.payer_id:
            get_or_404(session, Payer, data.payer_id, "payer")
        keys = [(i.code, i.modifier) for i in data.items]
        if len(set(keys)) != len(keys):
            raise ValidationProblem("A code and modifier appear twice", field="items")
        fs = FeeSchedule(org_id=ctx.org_id, **data.model_dump(exclude={"items"}))
        session.add(fs)
        session.flush()
        session.add_all(FeeScheduleItem(org_id=ctx.org_id, schedule_id=fs.id, **i.model_dump()) for i in data.items)
        audit.record(session, ctx, "fee_schedule.create", "fee_schedule", fs.id,
                     detail={"items": len(data.items)})
        out = FeeScheduleOut.model_validate(fs)
        out.items = [FeeItemOut.model_validate(i) for i in data.items]
        return out


def list_fee_schedules(ctx: Context) -> list[FeeScheduleOut]:
    _require_read(ctx)
    with unit_of_work(ctx) as session:
        return [FeeScheduleOut.model_validate(f) for f in
                session.scalars(select(FeeSchedule).order_by(FeeSchedule.effective_from.desc(), FeeSchedule.name))]


def get_fee_schedule(ctx: Context, schedule_id: uuid.UUID) -> FeeScheduleOut:
    _require_read(ctx)
    with unit_of_work(ctx) as session:
        fs = get_or_404(session, FeeSchedule, schedule_id, "fee schedule")
        out = FeeScheduleOut.model_validate(fs)
        out.items = [FeeItemOut.model_validate(i) for i in session.scalars(
            select(FeeScheduleItem).where(FeeScheduleItem.schedule_id == fs.id).order_by(FeeScheduleItem.code))]
        return out


@dataclass(frozen=True)
class Fee:
    charge_cents: int
    allowed_cents: int | None
    schedule_id: uuid.UUID


def fee_for(session: Session, *, location_id: uuid.UUID, payer_id: uuid.UUID | None, code: str,
            modifiers: list[str], on: date) -> Fee | None:
    """The fee of a code on a day: the most specific schedule in effect wins (location and payer,
    then payer, then location, then the organisation's); within it an item with the line's first
    modifier beats the plain code."""
    stmt = (select(FeeSchedule, FeeScheduleItem)
            .join(FeeScheduleItem, and_(FeeScheduleItem.schedule_id == FeeSchedule.id,
                                        FeeScheduleItem.org_id == FeeSchedule.org_id))
            .where(FeeScheduleItem.code == code, FeeSchedule.effective_from <= on,
                   or_(FeeSchedule.effective_to.is_(None), FeeSchedule.effective_to >= on),
                   or_(FeeSchedule.location_id.is_(None), FeeSchedule.location_id == location_id),
                   or_(FeeSchedule.payer_id.is_(None), FeeSchedule.payer_id == payer_id) if payer_id
                   else FeeSchedule.payer_id.is_(None)))
    first_mod = modifiers[0] if modifiers else ""
    best: tuple[tuple[int, int, int, date], Fee] | None = None
    for fs, item in session.execute(stmt):
        if item.modifier not in ("", first_mod):
            continue
        rank = (1 if fs.payer_id else 0, 1 if fs.location_id else 0, 1 if item.modifier else 0, fs.effective_from)
        if best is None or rank > best[0]:
            best = (rank, Fee(item.charge_cents, item.allowed_cents, fs.id))
    return best[1] if best else None


# --- visit types' default procedures --------------------------------------------------------------


def set_visit_type_procedures(ctx: Context, visit_type_id: uuid.UUID, items: list[ProcedureIn]) -> list[ProcedureIn]:
    """Replace the procedures a visit type bills by default."""
    ctx.require(BILLING_MANAGE)
    with unit_of_work(ctx) as session:
        get_or_404(session, VisitType, visit_type_id, "visit type")
        for old in session.scalars(select(VisitTypeProcedure).where(VisitTypeProcedure.visit_type_id == visit_type_id)):
            session.delete(old)
        session.flush()
        for i, item in enumerate(items):
            session.add(VisitTypeProcedure(org_id=ctx.org_id, visit_type_id=visit_type_id, position=i,
                                           **item.model_dump()))
        audit.record(session, ctx, "visit_type.procedures", "visit_type", visit_type_id,
                     detail={"codes": [i.code for i in items]})
        return items


def visit_type_procedures(session: Session, visit_type_id: uuid.UUID) -> list[VisitTypeProcedure]:
    return list(session.scalars(select(VisitTypeProcedure).where(VisitTypeProcedure.visit_type_id == visit_type_id)
                                .order_by(VisitTypeProcedure.position)))


def get_visit_type_procedures(ctx: Context, visit_type_id: uuid.UUID) -> list[ProcedureIn]:
    _require_read(ctx)
    with unit_of_work(ctx) as session:
        get_or_404(session, VisitType, visit_type_id, "visit type")
        return [ProcedureIn(code=p.code, modifiers=list(p.modifiers), units=p.units)
                for p in visit_type_procedures(session, visit_type_id)]

"""Charge capture: encounters (one per appointment, stand-alone, or from an EHR) and their lines.

An encounter is work in progress until a claim is built from it: the superbill may be saved
without diagnoses or with a pointer to a diagnosis not entered yet, and the scrubber says what
is missing. Its charges come from the fee schedule unless a line names its own.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.billing import reference
from praxis.billing.models import Claim, Encounter, EncounterLine
from praxis.billing.permissions import BILLING_CHARGE, BILLING_READ
from praxis.billing.schemas import EhrChargeIn, EncounterIn, EncounterOut, EncounterUpdate, LineIn, LineOut
from praxis.patients.access import load_patient
from praxis.patients.models import Coverage
from praxis.platform import audit
from praxis.platform.context import Context, system_context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Conflict, Forbidden, NotFound, ValidationProblem
from praxis.platform.paging import keyset_after
from praxis.platform.uow import unit_of_work, write_lock
from praxis.practice.models import Location
from praxis.scheduling.availability import to_local
from praxis.scheduling.models import Appointment, ProviderLocation, VisitType

TELEHEALTH_POS = "10"  # telehealth in the patient's home (CMS POS 10)


def _out(session: Session, enc: Encounter) -> EncounterOut:
    return _outs(session, [enc])[0]


def _outs(session: Session, encs: list[Encounter]) -> list[EncounterOut]:
    """Encounters with their lines, the lines read in one statement."""
    by_enc: dict[uuid.UUID, list[EncounterLine]] = {}
    if encs:
        for ln in session.scalars(select(EncounterLine).where(EncounterLine.encounter_id.in_([e.id for e in encs]))
                                  .order_by(EncounterLine.line_no)):
            by_enc.setdefault(ln.encounter_id, []).append(ln)
    outs = []
    for enc in encs:
        out = EncounterOut.model_validate(enc)
        lines = by_enc.get(enc.id, [])
        out.lines = [LineOut.model_validate(ln) for ln in lines]
        out.total_charge_cents = sum(ln.charge_cents for ln in lines)
        outs.append(out)
    return outs


def primary_coverage(session: Session, patient_id: uuid.UUID, on: date) -> Coverage | None:
    """The patient's active coverage of the lowest order in effect on a day."""
    for cov in coverages_on(session, patient_id, on):
        return cov
    return None


def coverages_on(session: Session, patient_id: uuid.UUID, on: date) -> list[Coverage]:
    """The patient's active coverages in effect on a day, by order (primary first)."""
    rows = session.scalars(select(Coverage).where(Coverage.patient_id == patient_id, Coverage.active)
                           .order_by(Coverage.priority))
    return [c for c in rows if (c.effective_from is None or c.effective_from <= on)
            and (c.effective_to is None or c.effective_to >= on)]


def _lines(session: Session, enc: Encounter, lines: list[LineIn]) -> list[EncounterLine]:
    cov = primary_coverage(session, enc.patient_id, enc.date_of_service)
    out = []
    for i, ln in enumerate(lines):
        charge = ln.charge_cents
        if charge is None:
            fee = reference.fee_for(session, location_id=enc.location_id, payer_id=cov.payer_id if cov else None,
                                    code=ln.code, modifiers=ln.modifiers, on=ln.service_date or enc.date_of_service)
            if fee is None:
                raise ValidationProblem(f"No fee schedule has a charge for {ln.code} on {enc.date_of_service}; "
                                        "enter the charge", field=f"lines[{i}].charge_cents")
            charge = fee.charge_cents * ln.units
        out.append(EncounterLine(org_id=enc.org_id, encounter_id=enc.id, line_no=i + 1, code=ln.code,
                                 modifiers=ln.modifiers, units=ln.units, charge_cents=charge,
                                 dx_pointers=ln.dx_pointers, service_date=ln.service_date))
    return out


def _check_refs(session: Session, ctx: Context, patient_id: uuid.UUID, location_id: uuid.UUID,
                provider_id: uuid.UUID | None) -> None:
    ctx.require(BILLING_CHARGE, location_id, what="location")
    get_or_404(session, Location, location_id, "location")
    load_patient(session, ctx, patient_id, BILLING_CHARGE)
    _check_provider(session, provider_id, location_id)


def _check_provider(session: Session, provider_id: uuid.UUID | None, location_id: uuid.UUID) -> None:
    """The rendering provider must work at the encounter's location (as booking requires): a provider
    of another location, or of another organisation, is refused like a missing one."""
    if provider_id is None:
        return
    works_here = session.scalars(select(ProviderLocation.id).where(ProviderLocation.provider_id == provider_id,
                                                                   ProviderLocation.location_id == location_id)
                                 ).first()
    if works_here is None:
        raise ValidationProblem("No such provider at this location", field="rendering_provider_id")


def _new(session: Session, ctx: Context, data: EncounterIn, **extra: Any) -> Encounter:
    location = get_or_404(session, Location, data.location_id, "location")
    enc = Encounter(org_id=ctx.org_id, **data.model_dump(exclude={"lines", "place_of_service", "source",
                                                                  "encounter_id"}),
                    place_of_service=data.place_of_service or location.place_of_service or "11", **extra)
    session.add(enc)
    session.flush()
    session.add_all(_lines(session, enc, data.lines))
    return enc


def require_patient(ctx: Context, patient_id: uuid.UUID) -> None:
    """404 unless the actor may enter charges for this patient (the new-superbill form asks first)."""
    with unit_of_work(ctx) as session:
        load_patient(session, ctx, patient_id, BILLING_CHARGE)


def create_encounter(ctx: Context, data: EncounterIn) -> EncounterOut:
    """Enter charges for a visit that has no appointment (stand-alone superbill)."""
    with unit_of_work(ctx) as session:
        _check_refs(session, ctx, data.patient_id, data.location_id, data.rendering_provider_id)
        enc = _new(session, ctx, data)
        audit.record(session, ctx, "encounter.create", "encounter", enc.id, patient_id=enc.patient_id,
                     location_id=enc.location_id)
        return _out(session, enc)


def record_ehr_charges(ctx: Context, data: EhrChargeIn) -> tuple[EncounterOut, bool]:
    """Charges from an EHR, idempotent by (source, the EHR's encounter id): the first call creates
    the encounter (True), a resend replaces its charges while no claim exists (False); once a
    claim is built a changed resend is refused (409) and an identical one changes nothing."""
    with unit_of_work(ctx) as session:
        write_lock(session)
        _check_refs(session, ctx, data.patient_id, data.location_id, data.rendering_provider_id)
        enc = session.scalars(select(Encounter).where(Encounter.external_source == data.source,
                                                      Encounter.external_id == data.encounter_id)).first()
        if enc is None:
            try:
                with session.begin_nested():
                    enc = _new(session, ctx, data, external_source=data.source, external_id=data.encounter_id)
            except IntegrityError:
                raise Conflict("This EHR encounter is being recorded by another request; retry",
                               field="encounter_id") from None
            audit.record(session, ctx, "encounter.create", "encounter", enc.id, patient_id=enc.patient_id,
                         location_id=enc.location_id, detail={"source": data.source})
            return _out(session, enc), True
        if enc.patient_id != data.patient_id or enc.location_id != data.location_id:
            raise Conflict("This EHR encounter id was recorded for another patient or location",
                           field="encounter_id")
        update = EncounterUpdate(**data.model_dump(include=set(EncounterUpdate.model_fields) - {"place_of_service"}),
                                 place_of_service=data.place_of_service or enc.place_of_service)
        if _same(session, enc, update):
            return _out(session, enc), False
        _apply(session, ctx, enc, update)
        return _out(session, enc), False


def _same(session: Session, enc: Encounter, data: EncounterUpdate) -> bool:
    current = _out(session, enc)
    if any(getattr(current, f) != getattr(data, f) for f in
           ("rendering_provider_id", "referring_npi", "place_of_service", "diagnoses", "prior_auth")):
        return False
    want = [(ln.code, ln.modifiers, ln.units, ln.dx_pointers) for ln in data.lines]
    have = [(ln.code, ln.modifiers, ln.units, ln.dx_pointers) for ln in current.lines]
    charges_given = all(ln.charge_cents is not None for ln in data.lines)
    return want == have and (not charges_given or [ln.charge_cents for ln in data.lines]
                             == [ln.charge_cents for ln in current.lines])


def _apply(session: Session, ctx: Context, enc: Encounter, data: EncounterUpdate) -> None:
    from praxis.billing import claims  # claims builds on charges; the refresh goes back the other way

    if enc.status == "void":
        raise Conflict("The encounter is void", field="encounter_id")
    if claims.encounter_locked(session, enc.id):
        raise Conflict("A claim of this encounter is with the payer; send a corrected claim instead",
                       field="encounter_id")
    _check_provider(session, data.rendering_provider_id, enc.location_id)
    for k, v in data.model_dump(exclude={"lines"}).items():
        setattr(enc, k, v)
    for old in session.scalars(select(EncounterLine).where(EncounterLine.encounter_id == enc.id)):
        session.delete(old)
    session.flush()
    session.add_all(_lines(session, enc, data.lines))
    enc.version += 1
    audit.record(session, ctx, "encounter.update", "encounter", enc.id, patient_id=enc.patient_id,
                 location_id=enc.location_id)
    session.flush()
    claims.refresh_from_encounter(session, ctx, enc)


def update_encounter(ctx: Context, encounter_id: uuid.UUID, data: EncounterUpdate) -> EncounterOut:
    """Replace an open encounter's diagnoses, providers and lines (the superbill's save)."""
    with unit_of_work(ctx) as session:
        enc = _load(session, ctx, encounter_id, BILLING_CHARGE)
        _apply(session, ctx, enc, data)
        session.flush()
        return _out(session, enc)


def _load(session: Session, ctx: Context, encounter_id: uuid.UUID, permission: str) -> Encounter:
    if not ctx.has(permission):
        raise Forbidden(f"Permission {permission} required")
    enc = get_or_404(session, Encounter, encounter_id, "encounter")
    ctx.require(permission, enc.location_id, what="encounter")
    return enc


def _reader(ctx: Context) -> str:
    return BILLING_READ if ctx.has(BILLING_READ) else BILLING_CHARGE


def get_encounter(ctx: Context, encounter_id: uuid.UUID) -> EncounterOut:
    """One encounter with its lines (billing:read, or billing:charge for the superbill)."""
    with unit_of_work(ctx) as session:
        enc = _load(session, ctx, encounter_id, _reader(ctx))
        audit.record(session, ctx, "encounter.read", "encounter", enc.id, patient_id=enc.patient_id,
                     location_id=enc.location_id)
        return _out(session, enc)


def list_encounters(ctx: Context, *, location_id: uuid.UUID | None = None, status: str | None = None,
                    patient_id: uuid.UUID | None = None, limit: int = 100, after: tuple[Any, ...] | None = None,
                    updated_since: datetime | None = None) -> list[EncounterOut]:
    """Encounters in the caller's scope, newest date of service first (then id, descending); `after`
    is a keyset position (date_of_service, id) of that order, `updated_since` keeps the changed ones."""
    permission = _reader(ctx)
    scope = ctx.scope(permission)
    if not ctx.has(permission):
        raise Forbidden(f"Permission {BILLING_READ} required")
    with unit_of_work(ctx) as session:
        stmt = select(Encounter).order_by(Encounter.date_of_service.desc(), Encounter.id.desc()).limit(limit)
        if after is not None:
            stmt = stmt.where(keyset_after([(Encounter.date_of_service, True), (Encounter.id, True)], after))
        if updated_since is not None:
            stmt = stmt.where(Encounter.updated_at >= updated_since)
        if location_id is not None:
            ctx.require(permission, location_id, what="location")
            stmt = stmt.where(Encounter.location_id == location_id)
        elif scope is not None:
            stmt = stmt.where(Encounter.location_id.in_(list(scope)))
        if status:
            stmt = stmt.where(Encounter.status == status)
        if patient_id:
            stmt = stmt.where(Encounter.patient_id == patient_id)
        rows = list(session.scalars(stmt))
        audit.record_many(session, ctx, "encounter.list", "encounter", [(e.id, e.patient_id) for e in rows])
        return _outs(session, rows)


# --- from the schedule -----------------------------------------------------------------------------


def encounter_for_appointment(ctx: Context, appointment_id: uuid.UUID) -> EncounterOut:
    """The appointment's encounter, created from the visit (its type's default procedures) when
    missing: the superbill button on the day sheet."""
    with unit_of_work(ctx) as session:
        write_lock(session)
        appt = get_or_404(session, Appointment, appointment_id, "appointment")
        ctx.require(BILLING_CHARGE, appt.location_id, what="appointment")
        load_patient(session, ctx, appt.patient_id, BILLING_CHARGE)
        enc, _ = _from_appointment(session, ctx, appt)
        return _out(session, enc)


def _from_appointment(session: Session, ctx: Context, appt: Appointment) -> tuple[Encounter, bool]:
    existing = session.scalars(select(Encounter).where(Encounter.appointment_id == appt.id)).first()
    if existing is not None:
        return existing, False
    location = get_or_404(session, Location, appt.location_id, "location")
    day = to_local(appt.start_at, location.timezone).date()
    pos = TELEHEALTH_POS if appt.telehealth else (location.place_of_service or "11")
    enc = Encounter(org_id=appt.org_id, patient_id=appt.patient_id, location_id=appt.location_id,
                    appointment_id=appt.id, date_of_service=day, rendering_provider_id=appt.provider_id,
                    place_of_service=pos, diagnoses=[])
    session.add(enc)
    session.flush()
    defaults = reference.visit_type_procedures(session, appt.visit_type_id)
    cov = primary_coverage(session, appt.patient_id, day)
    for i, p in enumerate(defaults):
        fee = reference.fee_for(session, location_id=appt.location_id, payer_id=cov.payer_id if cov else None,
                                code=p.code, modifiers=list(p.modifiers), on=day)
        session.add(EncounterLine(org_id=appt.org_id, encounter_id=enc.id, line_no=i + 1, code=p.code,
                                  modifiers=list(p.modifiers), units=p.units,
                                  charge_cents=(fee.charge_cents * p.units) if fee else 0, dx_pointers=[1]))
    vt = session.scalars(select(VisitType.name).where(VisitType.id == appt.visit_type_id)).first()
    audit.record(session, ctx, "encounter.create", "encounter", enc.id, patient_id=enc.patient_id,
                 location_id=enc.location_id, detail={"appointment_id": str(appt.id), "visit_type": vt})
    return enc, True


def handle_appointment_status(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """`scheduling.appointment_status` -> on check-out, open the visit's encounter. Idempotent: one
    encounter per appointment (found again on a retry; the unique key stops a racing twin)."""
    if org_id is None or payload.get("status") != "checked_out":
        return
    ctx = system_context(org_id, "billing.checkout")
    try:
        with unit_of_work(ctx) as session:
            write_lock(session)
            appt = session.scalars(select(Appointment).where(
                Appointment.id == uuid.UUID(str(payload["appointment_id"])))).first()
            if appt is None or appt.status != "checked_out":
                return
            _from_appointment(session, ctx, appt)
    except IntegrityError:
        return  # a concurrent handler created it first


def void_encounter(ctx: Context, encounter_id: uuid.UUID, reason: str) -> EncounterOut:
    """Mark an encounter with no claims as not billable (entered in error, no-charge visit)."""
    if not reason.strip():
        raise ValidationProblem("Give a reason", field="reason")
    with unit_of_work(ctx) as session:
        enc = _load(session, ctx, encounter_id, BILLING_CHARGE)
        if session.scalars(select(Claim.id).where(Claim.encounter_id == enc.id, Claim.status != "void")).first():
            raise Conflict("Void the encounter's claims first", field="encounter_id")
        enc.status = "void"
        enc.notes = (enc.notes + f"\nVoided: {reason}").strip()[:1000]
        audit.record(session, ctx, "encounter.void", "encounter", enc.id, patient_id=enc.patient_id,
                     location_id=enc.location_id, detail={"reason": reason})
        return _out(session, enc)


def ensure_exists(session: Session, encounter_id: uuid.UUID) -> Encounter:
    enc = session.scalars(select(Encounter).where(Encounter.id == encounter_id)).first()
    if enc is None:
        raise NotFound("No such encounter")
    return enc

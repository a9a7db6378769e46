"""Patient registry: register, read, update, search and duplicate checks.

Coverage and payers live in `coverage.py`, merge in `merge.py`, files in `documents.py` and
spreadsheet import in `importer.py`; all follow the same rules (context first, one unit of work,
audit every patient read or write in the same transaction).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.patients import normalise as n
from praxis.patients.access import (
    insert_location_link,
    link_location,
    load_patient,
    patient_location_ids,
    visibility_clause,
    visible_locations,
)
from praxis.patients.coverage import CardApplied, apply_coverage_card_in
from praxis.patients.lookups import (
    Contact,
    booking_columns,
    booking_visibility,
    check_bookable_status,
    contact,
    names,
    require_bookable_patient,
)
from praxis.patients.models import Coverage, MrnCounter, Patient, PatientAlias, PatientLocation
from praxis.patients.permissions import PATIENTS_READ, PATIENTS_WRITE
from praxis.patients.schemas import (
    DuplicateCandidate,
    DuplicateCheck,
    PatientCreate,
    PatientFields,
    PatientOut,
    PatientUpdate,
)
from praxis.patients.search import find_patients
from praxis.platform import audit, outbox
from praxis.platform.audit import AuditRecord
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.crypto import keyring
from praxis.platform.errors import Conflict, Forbidden, NotFound, ProblemError, ValidationProblem
from praxis.platform.hotsql import QUEUED, HotStatement, copy_rows
from praxis.platform.ids import new_id
from praxis.platform.outbox import OutboxMessage
from praxis.platform.uow import unit_of_work, write_lock
from praxis.practice.mrn import MrnFormat
from praxis.practice.service import org_settings


class PossibleDuplicates(Conflict):
    """Registration refused until the caller confirms: similar patients already exist."""

    type = "possible-duplicate"
    title = "Possible duplicate patient"

    def __init__(self, check: DuplicateCheck) -> None:
        names = ", ".join(f"{c.last_name}, {c.first_name} ({c.mrn})" for c in check.candidates[:5])
        detail = f"Similar patients exist: {names}" if names else "Similar patients exist"
        if check.hidden:
            detail += f" ({check.hidden} more at locations you cannot see)"
        detail += ". Send confirm_duplicate=true to register anyway."
        super().__init__(detail, errors=[c.model_dump(mode="json") for c in check.candidates])
        self.check = check


# --- MRN ------------------------------------------------------------------------------------------


def allocate_mrn_block(session: Session, org_id: uuid.UUID, count: int = 1) -> int:
    """Reserve `count` sequence values; returns the first. The row lock serialises allocators."""
    # A Core statement on the session's connection: the ORM's UPDATE would first evaluate which
    # loaded objects it touches (about a millisecond), and nothing reads MrnCounter objects.
    conn = session.connection()
    found = _BUMP_MRN.rows(conn, {"b_org_id": org_id, "count": count})
    if not found:
        try:
            with session.begin_nested():
                session.add(MrnCounter(org_id=org_id, last_value=count))
            return 1
        except IntegrityError:  # another transaction created the counter first
            found = _BUMP_MRN.rows(conn, {"b_org_id": org_id, "count": count})
    return int(found[0].last_value) - count + 1


_COUNTER = MrnCounter.__table__
_BUMP_MRN = HotStatement(
    update(_COUNTER)
    .where(_COUNTER.c.org_id == bindparam("b_org_id"))
    .values(last_value=_COUNTER.c.last_value + bindparam("count", type_=Integer))
    .returning(_COUNTER.c.last_value)
)


def advance_mrn_counter(session: Session, org_id: uuid.UUID, at_least: int) -> None:
    """Raise the organisation's MRN counter to `at_least` (never lower it).

    Whoever writes MRNs of the sequence without allocating them one by one (the seed, the importer
    skipping legacy values) calls this in the same transaction, so the next registration starts
    past every number already handed out."""
    stmt = (
        update(MrnCounter)
        .where(MrnCounter.org_id == org_id)
        .values(last_value=case((MrnCounter.last_value < at_least, at_least), else_=MrnCounter.last_value))
    )
    if session.execute(stmt).rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(MrnCounter(org_id=org_id, last_value=at_least))
    except IntegrityError:  # another transaction created the counter first
        session.execute(stmt)


def mrn_format(session: Session, org_id: uuid.UUID) -> MrnFormat:
    return org_settings(session, org_id).mrn_format


def _first_free_seq(session: Session, fmt: MrnFormat, seq: int) -> int:
    """The first sequence value at or after `seq` whose MRN no patient holds."""
    taken = {fmt.parse(m) for m in session.scalars(select(Patient.mrn).where(
        Patient.mrn.startswith(fmt.prefix, autoescape=True)))}
    while seq in taken:
        seq += 1
    return seq


_MRN_RESERVED = "patients.mrn_reserved"


def reserve_mrns(session: Session, org_id: uuid.UUID, count: int) -> None:
    """Reserve `count` MRNs for the registrations this unit of work is about to make (an HL7 batch):
    one counter update and one "already taken?" query for all of them, instead of two statements
    per registration. `next_mrn` hands them out first; values taken by someone else are skipped,
    and values left unused (a registration refused, an identifier that turned out to be known)
    are gaps in the sequence, as MRNs never promised to be gapless. The reservation commits or
    rolls back with the unit of work."""
    if count < 1:
        return
    fmt = mrn_format(session, org_id)
    first = allocate_mrn_block(session, org_id, count)
    wanted = [fmt.format(seq) for seq in range(first, first + count)]
    taken = {r.mrn for r in _TAKEN_MRNS.rows(session.connection(), {"org_id": org_id, "mrns": wanted})}
    session.info[_MRN_RESERVED] = (org_id, [mrn for mrn in wanted if mrn not in taken])


_TAKEN_MRNS = HotStatement(select(Patient.mrn).where(Patient.org_id == bindparam("org_id"),
                                                     Patient.mrn.in_(bindparam("mrns", expanding=True))))


def next_mrn(session: Session, org_id: uuid.UUID) -> str:
    """The organisation's next free MRN (first from a reservation, `reserve_mrns`). Never stuck:
    when the counter's value is taken (data written without advancing the counter, or a format
    change), allocation moves past every taken value at once and the counter keeps that position
    (the caller's unit of work commits it with the new patient)."""
    reserved = session.info.get(_MRN_RESERVED)
    if reserved and reserved[0] == org_id and reserved[1]:
        return str(reserved[1].pop(0))
    fmt = mrn_format(session, org_id)
    seq = allocate_mrn_block(session, org_id)
    mrn = fmt.format(seq)
    if session.scalars(select(Patient.id).where(Patient.mrn == mrn)).first() is None:
        return mrn
    # Rare (once per gap): load the taken MRNs once rather than probing one query per number.
    free = _first_free_seq(session, fmt, seq + 1)
    advance_mrn_counter(session, org_id, free)
    return fmt.format(free)


# --- helpers --------------------------------------------------------------------------------------


def apply_fields(patient: Patient, values: dict[str, Any]) -> dict[str, Any]:
    """Set demographic values on a patient, keeping derived columns in step; returns changes."""
    changed: dict[str, Any] = {}
    for key, value in values.items():
        if key == "ssn":
            if value is None:
                continue
            if patient.ssn_encrypted != value:
                patient.ssn_encrypted = value
                patient.ssn_index = keyring().blind_index(value, "ssn")
                patient.ssn_last4 = value[-4:]
                changed["ssn"] = "***"
            continue
        if key == "guarantor" and value is not None and hasattr(value, "model_dump"):
            value = value.model_dump()
        if getattr(patient, key) != value:
            setattr(patient, key, value)
            changed[key] = "***" if key in ("dob",) else None
    patient.first_name_norm = n.normalise_name(patient.first_name)
    patient.last_name_norm = n.normalise_name(patient.last_name)
    patient.preferred_name_norm = n.normalise_name(patient.preferred_name)
    return changed


def to_out(session: Session, patient: Patient) -> PatientOut:
    out = PatientOut.model_validate(patient, from_attributes=True)
    out.location_ids = patient_location_ids(session, patient.id)
    return out


def _check_location(session: Session, ctx: Context, location_id: uuid.UUID | None) -> None:
    """A referenced location must exist and be within the caller's scope: linking a patient to a
    location makes the patient visible there, so it is not for someone who cannot work there."""
    if location_id is None:
        return
    from praxis.practice.models import Location

    # session.get: a unit of work registering many patients (an HL7 batch) reads it once. The
    # key includes the organisation (another org's location answers like a missing one).
    loc = session.get(Location, {"id": location_id, "org_id": ctx.org_id})
    if loc is None:
        raise NotFound("No such location")
    if not ctx.can(PATIENTS_WRITE, location_id):
        raise NotFound("No such location", field="preferred_location_id")


# --- duplicates -----------------------------------------------------------------------------------


MAX_CANDIDATES = 10  # shown to the caller, most reasons first


@dataclass
class DuplicateProbe:
    first_name: str
    last_name: str
    dob: date | None
    phones: list[str] = field(default_factory=list)
    member_ids: list[str] = field(default_factory=list)
    ssn: str | None = None


def find_duplicate_candidates(session: Session, ctx: Context, probe: DuplicateProbe) -> DuplicateCheck:
    """Patients that may be the same person: similar name + same DOB, same phone, member id, SSN."""
    first, last = n.normalise_name(probe.first_name), n.normalise_name(probe.last_name)
    reasons: dict[uuid.UUID, list[str]] = {}
    found: dict[uuid.UUID, Patient] = {}

    def add(rows: list[Patient], reason: str) -> None:
        for p in rows:
            found[p.id] = p
            reasons.setdefault(p.id, [])
            if reason not in reasons[p.id]:
                reasons[p.id].append(reason)

    base = select(Patient).where(Patient.status == "active").limit(50)
    if probe.dob is not None and (first or last):
        similar = or_(
            Patient.last_name_norm == last,
            and_(Patient.first_name_norm == first, func.substr(Patient.last_name_norm, 1, 1) == last[:1]),
            and_(Patient.last_name_norm == first, Patient.first_name_norm == last),  # swapped
            Patient.preferred_name_norm == first,
        )
        add(
            list(session.scalars(base.where(Patient.dob == probe.dob, similar))),
            "similar name and same date of birth",
        )
    phones = [p for p in probe.phones if p]
    if phones:
        add(
            list(
                session.scalars(
                    base.where(
                        or_(
                            Patient.phone_mobile.in_(phones),
                            Patient.phone_home.in_(phones),
                            Patient.phone_work.in_(phones),
                        )
                    )
                )
            ),
            "same phone number",
        )
    members = [n.normalise_member_id(m) for m in probe.member_ids if m]
    if members:
        sub = select(Coverage.patient_id).where(Coverage.member_id_norm.in_(members))
        add(list(session.scalars(base.where(Patient.id.in_(sub)))), "same insurance member id")
    if probe.ssn:
        add(
            list(session.scalars(base.where(Patient.ssn_index == keyring().blind_index(probe.ssn, "ssn")))),
            "same SSN",
        )
    locations = visible_locations(session, ctx)
    visible_ids = set(found)
    if locations is not None and found:
        visible_ids = set(
            session.scalars(select(Patient.id).where(Patient.id.in_(list(found)), visibility_clause(locations)))
        )
    candidates = [
        DuplicateCandidate(
            id=p.id,
            mrn=p.mrn,
            first_name=p.first_name,
            last_name=p.last_name,
            dob=p.dob,
            reasons=reasons[p.id],
        )
        for p in sorted(found.values(), key=lambda p: (-len(reasons[p.id]), p.last_name_norm))
        if p.id in visible_ids
    ][:MAX_CANDIDATES]
    return DuplicateCheck(candidates=candidates, hidden=len(found) - len(visible_ids))


def check_duplicates(ctx: Context, data: PatientFields) -> DuplicateCheck:
    """Query: who might this new patient already be? (Used by the registration form as you type.)"""
    if not ctx.has(PATIENTS_READ):
        raise Forbidden(f"Permission {PATIENTS_READ} required")
    with unit_of_work(ctx) as session:
        check = find_duplicate_candidates(session, ctx, _probe(data))
        _audit_candidates(session, ctx, check)
        return check


def _audit_candidates(session: Session, ctx: Context, check: DuplicateCheck) -> None:
    """Each candidate shown to the caller (id, MRN, name, DOB) is a disclosure of PHI."""
    audit.record_many(session, ctx, "patient.duplicate_candidate", "patient", [(c.id, c.id) for c in check.candidates])


def _probe(data: PatientFields) -> DuplicateProbe:
    return DuplicateProbe(
        first_name=data.first_name,
        last_name=data.last_name,
        dob=data.dob,
        phones=[p for p in (data.phone_mobile, data.phone_home, data.phone_work) if p],
        ssn=data.ssn,
    )


# --- commands -------------------------------------------------------------------------------------


def register_patient(ctx: Context, data: PatientCreate, *, location_id: uuid.UUID | None = None) -> PatientOut:
    """Register a new patient at `location_id` (default: the actor's current location).

    Raises PossibleDuplicates (409) when similar patients exist and `confirm_duplicate` is not set.
    The patient gets the organisation's next MRN and is linked to the registering location and
    the preferred location.
    """
    location_id = _registration_location(ctx, data, location_id)
    with unit_of_work(ctx) as session:
        created = _register(session, ctx, data, location_id)
        if isinstance(created, Patient):
            return to_out(session, created)
        # The 409 shows the candidates: their disclosure is audited, and this unit of work commits
        # that record (nothing else was written) before the refusal below.
        _audit_candidates(session, ctx, created)
    raise PossibleDuplicates(created)


def register_patient_in(
    session: Session, ctx: Context, data: PatientCreate, *, location_id: uuid.UUID | None = None
) -> Patient:
    """`register_patient` in the caller's unit of work (online booking registers and books in one
    transaction): the same checks, MRN, location links and audit record. On possible duplicates it
    audits the candidates and raises PossibleDuplicates; whether that record commits is the caller's
    transaction's outcome."""
    location_id = _registration_location(ctx, data, location_id)
    created = _register(session, ctx, data, location_id)
    if isinstance(created, Patient):
        return created
    _audit_candidates(session, ctx, created)
    raise PossibleDuplicates(created)


def _registration_location(ctx: Context, data: PatientCreate, location_id: uuid.UUID | None) -> uuid.UUID | None:
    location_id = location_id or ctx.location_id or data.preferred_location_id
    scope = ctx.scope(PATIENTS_WRITE)
    if location_id is None and scope:
        # A location-bound actor registers at their location; with several, they must say which.
        if len(scope) > 1:
            raise ValidationProblem(
                "Choose the location where the patient is registered", field="preferred_location_id"
            )
        location_id = next(iter(scope))
    ctx.require(PATIENTS_WRITE, location_id, what="location")
    return location_id


def _register(
    session: Session, ctx: Context, data: PatientCreate, location_id: uuid.UUID | None
) -> Patient | DuplicateCheck:
    """Insert the patient, or return the duplicate check that refuses it."""
    _check_location(session, ctx, location_id)
    _check_location(session, ctx, data.preferred_location_id)
    check = find_duplicate_candidates(session, ctx, _probe(data))
    if (check.candidates or check.hidden) and not data.confirm_duplicate:
        return check
    patient = Patient(org_id=ctx.org_id, mrn=next_mrn(session, ctx.org_id))
    apply_fields(patient, data.model_dump(exclude={"confirm_duplicate"}))
    session.add(patient)
    session.flush()
    # A new patient has no links yet: no read first, and the inserts go out with the next flush.
    link_location(session, patient.id, location_id, new_patient=True)
    if data.preferred_location_id != location_id:
        link_location(session, patient.id, data.preferred_location_id, new_patient=True)
    detail: dict[str, Any] = {"mrn": patient.mrn}
    if check.candidates or check.hidden:
        detail["duplicate_confirmed"] = [str(c.id) for c in check.candidates]
    audit.record(
        session,
        ctx,
        "patient.create",
        "patient",
        patient.id,
        patient_id=patient.id,
        location_id=location_id,
        detail=detail,
    )
    # Identifiers only: subscribers (webhooks) read what they may see through the API.
    outbox.emit(session, "patient.registered", {"patient_id": str(patient.id),
                                                "location_id": str(location_id) if location_id else None,
                                                "origin": ctx.origin})
    return patient


# --- set-based registration (an HL7 batch) ---------------------------------------------------------

_DUP_ROWS = HotStatement(
    select(Patient.id, Patient.mrn, Patient.first_name, Patient.last_name, Patient.dob, Patient.first_name_norm,
           Patient.last_name_norm, Patient.preferred_name_norm, Patient.phone_mobile, Patient.phone_home,
           Patient.phone_work, Patient.ssn_index)
    .where(Patient.org_id == bindparam("org_id"), Patient.status == "active",
           or_(Patient.dob.in_(bindparam("dobs", expanding=True)),
               Patient.phone_mobile.in_(bindparam("phones", expanding=True)),
               Patient.phone_home.in_(bindparam("phones", expanding=True)),
               Patient.phone_work.in_(bindparam("phones", expanding=True)),
               Patient.ssn_index.in_(bindparam("ssns", expanding=True))))
)
_PER_REASON = 50  # as find_duplicate_candidates' LIMIT per reason


@dataclass
class _Known:
    """A patient as the duplicate check compares it (a stored row, or one registered earlier in
    the same call)."""

    id: uuid.UUID
    mrn: str
    first_name: str
    last_name: str
    dob: date | None
    first_name_norm: str
    last_name_norm: str
    preferred_name_norm: str
    phone_mobile: str | None
    phone_home: str | None
    phone_work: str | None
    ssn_index: str | None
    locations: frozenset[uuid.UUID] | None = None  # set: registered in this call (its links)


def _reasons(known: _Known, probe: DuplicateProbe, first: str, last: str, phones: list[str],
             ssn_index: str | None) -> list[str]:
    """`find_duplicate_candidates`' conditions, in Python, in its order of reasons."""
    out = []
    if probe.dob is not None and (first or last) and known.dob == probe.dob and (
        known.last_name_norm == last
        or (known.first_name_norm == first and known.last_name_norm[:1] == last[:1])
        or (known.last_name_norm == first and known.first_name_norm == last)
        or known.preferred_name_norm == first
    ):
        out.append("similar name and same date of birth")
    if phones and (known.phone_mobile in phones or known.phone_home in phones or known.phone_work in phones):
        out.append("same phone number")
    if ssn_index is not None and known.ssn_index == ssn_index:
        out.append("same SSN")
    return out


def _index(index: dict[tuple[str, Any], list[_Known]], known: _Known) -> None:
    keys = {("dob", known.dob), ("phone", known.phone_mobile), ("phone", known.phone_home),
            ("phone", known.phone_work), ("ssn", known.ssn_index)}
    for key in keys:
        if key[1] is not None:
            index.setdefault(key, []).append(known)


def _near(index: dict[tuple[str, Any], list[_Known]], dob: date | None, phones: list[str],
          ssn_index: str | None) -> list[_Known]:
    """The indexed rows that share a date of birth, a phone or the SSN index with a draft, each
    once, in the order they were indexed."""
    found: dict[uuid.UUID, _Known] = {}
    for key in [("dob", dob), *(("phone", p) for p in phones), ("ssn", ssn_index)]:
        for known in index.get(key, ()):
            found.setdefault(known.id, known)
    order = {id(k): i for i, k in enumerate(found.values())}
    return sorted(found.values(), key=lambda k: (k.locations is not None, order[id(k)]))


class _Draft:
    """A new patient's values as `apply_fields` sets them, without the ORM's instrumentation (a
    set-based registration writes rows, not objects): an attribute never set reads None, as on a
    new `Patient`."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def _patient_row(patient: _Draft, stamp: Any) -> dict[str, Any]:
    """Every column of a new patient built in Python (apply_fields), defaults as the ORM applies them."""
    row: dict[str, Any] = {}
    state = patient.__dict__
    for column in Patient.__table__.columns:
        key = column.key
        if key in state:
            row[key] = state[key]
        elif key in ("created_at", "updated_at"):
            row[key] = stamp
        elif column.default is not None and getattr(column.default, "is_scalar", False):
            row[key] = column.default.arg  # type: ignore[attr-defined]
        else:
            row[key] = None
    return row


@dataclass
class Registered:
    """One draft of `register_patients_in`: the new patient, or why it was not registered."""

    patient_id: uuid.UUID | None = None
    mrn: str | None = None
    duplicates: DuplicateCheck | None = None  # refused: similar patients and no confirm_duplicate
    problem: ProblemError | None = None  # refused: a location the caller may not use


def register_patients_in(
    session: Session, ctx: Context, drafts: list[PatientCreate], *, location_id: uuid.UUID | None = None
) -> list[Registered]:
    """`register_patient_in` for many drafts at once, set-based (an HL7 batch's registrations): the
    same rules, MRNs, location links, audit records and `patient.registered` events, written with
    one duplicate-candidate query and one multi-row INSERT per table instead of a round trip or two
    per patient. Drafts are handled in order: each one's duplicate check sees the stored patients and
    the drafts registered before it in the list. A draft refused (possible duplicates without
    `confirm_duplicate`, whose candidates are audited as a 409 would audit them; a location out of
    scope) is reported in its `Registered` and writes nothing else; the others are registered."""
    results = [Registered() for _ in drafts]
    places: list[uuid.UUID | None] = []
    for i, data in enumerate(drafts):
        try:
            place = _registration_location(ctx, data, location_id)
            _check_location(session, ctx, place)
            _check_location(session, ctx, data.preferred_location_id)
        except ProblemError as exc:
            results[i].problem = exc
            place = None
        places.append(place)
    probes = [_probe(d) for d in drafts]
    keyring_ = keyring()
    ssn_indexes = [keyring_.blind_index(p.ssn, "ssn") if p.ssn else None for p in probes]
    conn = session.connection()
    stored = [_Known(*r) for r in _DUP_ROWS.rows(conn, {
        "org_id": ctx.org_id,
        "dobs": sorted({p.dob for p in probes if p.dob is not None}),
        "phones": sorted({ph for p in probes for ph in p.phones if ph}),
        "ssns": sorted({s for s in ssn_indexes if s}),
    })]
    locations = visible_locations(session, ctx)
    visible = {k.id for k in stored}
    if locations is not None and stored:
        visible = set(session.scalars(select(Patient.id).where(
            Patient.id.in_([k.id for k in stored]), visibility_clause(locations))))
    # Who can match a draft: the rows sharing its date of birth, a phone or the SSN index (stored,
    # then registered earlier in this call, in that order), instead of every row for every draft.
    index: dict[tuple[str, Any], list[_Known]] = {}
    for k in stored:
        _index(index, k)
    patients_, links, audits, events = [], [], [], []
    stamp = now()
    for i, (data, probe, ssn_index) in enumerate(zip(drafts, probes, ssn_indexes, strict=True)):
        if results[i].problem is not None:
            continue
        first, last = n.normalise_name(probe.first_name), n.normalise_name(probe.last_name)
        phones = [p for p in probe.phones if p]
        reasons: dict[uuid.UUID, list[str]] = {}
        found: dict[uuid.UUID, _Known] = {}
        counts: dict[str, int] = {}
        for known in _near(index, probe.dob, phones, ssn_index):
            for reason in _reasons(known, probe, first, last, phones, ssn_index):
                if counts.get(reason, 0) >= _PER_REASON:
                    continue
                counts[reason] = counts.get(reason, 0) + 1
                found[known.id] = known
                reasons.setdefault(known.id, []).append(reason)

        def seen(k: _Known) -> bool:
            if k.locations is None:
                return k.id in visible
            return locations is None or bool(k.locations & locations)

        shown = [k for k in found.values() if seen(k)]
        check = DuplicateCheck(candidates=[
            DuplicateCandidate(id=k.id, mrn=k.mrn, first_name=k.first_name, last_name=k.last_name, dob=k.dob,
                               reasons=reasons[k.id])
            for k in sorted(shown, key=lambda k: (-len(reasons[k.id]), k.last_name_norm))
        ][:MAX_CANDIDATES], hidden=len(found) - len(shown))
        if (check.candidates or check.hidden) and not data.confirm_duplicate:
            results[i].duplicates = check
            _audit_candidates(session, ctx, check)
            continue
        place = places[i]
        patient = _Draft(org_id=ctx.org_id, id=new_id(), mrn=next_mrn(session, ctx.org_id))
        apply_fields(patient, data.model_dump(exclude={"confirm_duplicate"}))  # type: ignore[arg-type]
        patients_.append(_patient_row(patient, stamp))
        linked = {x for x in (place, data.preferred_location_id) if x is not None}
        for loc in sorted(linked, key=lambda x: x != place):
            links.append({"org_id": ctx.org_id, "id": new_id(), "patient_id": patient.id, "location_id": loc,
                          "created_at": stamp})
        detail: dict[str, Any] = {"mrn": patient.mrn}
        if check.candidates or check.hidden:
            detail["duplicate_confirmed"] = [str(c.id) for c in check.candidates]
        audits.append(audit.row(ctx, "patient.create", "patient", patient.id, patient_id=patient.id,
                                location_id=place, detail=detail))
        events.append(outbox.row("patient.registered", {"patient_id": str(patient.id),
                                                        "location_id": str(place) if place else None,
                                                        "origin": ctx.origin}, ctx.org_id))
        results[i].patient_id, results[i].mrn = patient.id, patient.mrn
        _index(index, _Known(patient.id, patient.mrn, patient.first_name, patient.last_name, patient.dob,
                          patient.first_name_norm, patient.last_name_norm, patient.preferred_name_norm,
                          patient.phone_mobile, patient.phone_home, patient.phone_work, patient.ssn_index,
                          frozenset(linked)))
    if patients_:
        copy_rows(conn, Patient.__table__, patients_)
        copy_rows(conn, PatientLocation.__table__, links)
        copy_rows(conn, AuditRecord.__table__, audits)
        copy_rows(conn, OutboxMessage.__table__, events)
    return results


def find_returning_patient_in(
    session: Session, ctx: Context, *, first_name: str, last_name: str, dob: date, address: str
) -> uuid.UUID | None:
    """The active patient a self-service request (online booking) is from: same normalised first
    and last name, same date of birth, and `address` (a normalised mobile number or email) on
    record. Exact on purpose: a stranger who knows a name and birthday must not land on someone's
    record, so anything less registers a new patient (staff merge duplicates later). Nothing is
    shown to the requester, so nothing is disclosed; the booking that follows is audited."""
    q = select(Patient.id, Patient.phone_mobile, Patient.email).where(
        Patient.last_name_norm == n.normalise_name(last_name),
        Patient.first_name_norm == n.normalise_name(first_name),
        Patient.dob == dob,
        Patient.status == "active",
    )
    return next((pid for pid, phone, email in session.execute(q.order_by(Patient.created_at))
                 if address in (phone, email)), None)


def update_patient(ctx: Context, patient_id: uuid.UUID, data: PatientUpdate) -> PatientOut:
    """Change demographics; only fields present in `data` change."""
    with unit_of_work(ctx) as session:
        patient = load_patient(session, ctx, patient_id, PATIENTS_WRITE)
        if patient.status == "merged":
            raise Conflict("This patient was merged into another record; edit the surviving record", field="patient_id")
        values = data.model_dump(exclude_unset=True)  # a null here clears a nullable field
        _check_location(session, ctx, values.get("preferred_location_id"))
        changes = apply_fields(patient, values)
        if "preferred_location_id" in values:
            link_location(session, patient.id, values["preferred_location_id"])
        session.flush()
        audit.record(
            session,
            ctx,
            "patient.update",
            "patient",
            patient.id,
            patient_id=patient.id,
            detail={"fields": sorted(changes)},
        )
        _emit_updated(session, ctx, patient.id, changes)
        return to_out(session, patient)


def update_patient_in(
    session: Session,
    ctx: Context,
    patient_id: uuid.UUID,
    data: PatientUpdate,
    *,
    action: str = "patient.update",
    detail: dict[str, Any] | None = None,
    flush: bool = True,
) -> Patient:
    """Apply demographic changes in the caller's unit of work (intake review, other domains).

    The caller has already checked its own permission (e.g. intake:review); the change is
    audited here like any other patient write. `flush=False` leaves the UPDATE to the unit of
    work's next flush: a caller that writes many patients and then flushes once (an HL7 batch)
    sends them as one executemany instead of a round trip each; it must not write the same rows
    with Core in between.
    """
    from praxis.platform.db import get_or_404

    # session.get: a patient this unit of work holds already (an HL7 batch reads its patients
    # in one query) costs no round trip; the key includes the organisation.
    patient = session.get(Patient, {"id": patient_id, "org_id": ctx.org_id})
    if patient is None:
        patient = get_or_404(session, Patient, None, "patient")
    if patient.status == "merged" and patient.merged_into_id:
        patient = get_or_404(session, Patient, patient.merged_into_id, "patient")
    values = data.model_dump(exclude_unset=True)
    changes = apply_fields(patient, {k: v for k, v in values.items() if v is not None})
    if flush:
        session.flush()
    audit.record(
        session,
        ctx,
        action,
        "patient",
        patient.id,
        patient_id=patient.id,
        detail={**(detail or {}), "fields": sorted(changes)},
    )
    _emit_updated(session, ctx, patient.id, changes)
    return patient


@dataclass
class Updated:
    """One change of `update_patients_in`: the patient changed, or why nothing was."""

    patient_id: uuid.UUID | None = None  # the record written (a merged record's survivor)
    problem: ProblemError | None = None


def update_patients_in(
    session: Session,
    ctx: Context,
    updates: list[tuple[uuid.UUID, PatientUpdate, dict[str, Any]]],
    *,
    action: str = "patient.update",
) -> list[Updated]:
    """`update_patient_in` for many changes at once, set-based (an HL7 batch's A08s): the same
    rules (a merged record's change goes to its survivor; only the fields given and not null
    change; derived columns follow), the same audit row per change and `patient.updated` event per
    change that changed something, written with one read of the patients and one UPDATE per set
    of changed columns instead of the ORM's load, flush and inserts per patient. Changes apply in
    order: a patient changed twice sees the first change. Each `(patient id, data, audit detail)`;
    a patient that does not exist (or not in this organisation) is reported and writes nothing.
    The caller has checked its own permission, as for `update_patient_in`; it must not hold these
    patients as ORM objects with pending changes."""
    table = Patient.__table__
    conn = session.connection()
    wanted = {pid for pid, _, _ in updates}
    rows: dict[uuid.UUID, SimpleNamespace] = {}
    while wanted:
        found = conn.execute(select(table).where(table.c.org_id == ctx.org_id, table.c.id.in_(sorted(wanted))))
        for r in found.mappings():
            rows[r["id"]] = SimpleNamespace(**r)
        # Survivors of merged records, read in a second pass (rare).
        wanted = {r.merged_into_id for r in rows.values()
                  if r.status == "merged" and r.merged_into_id and r.merged_into_id not in rows} - wanted
    before = {pid: dict(vars(r)) for pid, r in rows.items()}
    results: list[Updated] = []
    audits: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for patient_id, data, detail in updates:
        patient = rows.get(patient_id)
        if patient is not None and patient.status == "merged" and patient.merged_into_id:
            patient = rows.get(patient.merged_into_id)
        if patient is None:
            results.append(Updated(problem=NotFound("No such patient")))
            continue
        values = data.model_dump(exclude_unset=True)
        changes = apply_fields(patient, {k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]
        audits.append(audit.row(ctx, action, "patient", patient.id, patient_id=patient.id,
                                detail={**detail, "fields": sorted(changes)}))
        if changes:
            events.append(outbox.row("patient.updated", {"patient_id": str(patient.id), "fields": sorted(changes),
                                                         "at": now().isoformat(), "origin": ctx.origin},
                                     ctx.org_id))
        results.append(Updated(patient_id=patient.id))
    stamp = now()
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for pid, patient in rows.items():
        changed = {k: v for k, v in vars(patient).items() if before[pid][k] != v}
        if changed:
            by_columns.setdefault(tuple(sorted(changed)), []).append(
                {**changed, "updated_at": stamp, "b_id": pid, "b_org_id": ctx.org_id})
    for columns, params in by_columns.items():
        # Through SQLAlchemy (not a HotStatement): the encrypted SSN column is converted on the way.
        conn.execute(update(table).where(table.c.org_id == bindparam("b_org_id"), table.c.id == bindparam("b_id"))
                     .values({c: bindparam(c) for c in (*columns, "updated_at")}), params,
                     execution_options={QUEUED: True})
    copy_rows(conn, AuditRecord.__table__, audits)
    copy_rows(conn, OutboxMessage.__table__, events)
    return results


def _emit_updated(session: Session, ctx: Context, patient_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """`patient.updated` (identifiers and field names only; HL7 ADT A08 goes out from it). The time
    makes each change its own event; the origin says which system made it (`Context.origin`)."""
    if changes:
        outbox.emit(session, "patient.updated", {"patient_id": str(patient_id), "fields": sorted(changes),
                                                 "at": now().isoformat(), "origin": ctx.origin})


# --- queries --------------------------------------------------------------------------------------


def get_patient(ctx: Context, patient_id: uuid.UUID) -> PatientOut:
    """One patient (404 when missing, in another org or outside the caller's visible locations)."""
    with unit_of_work(ctx) as session:
        write_lock(session)  # an audited read: SQLite write lock first (docs/decisions.md)
        patient = load_patient(session, ctx, patient_id)
        audit.record(session, ctx, "patient.read", "patient", patient.id, patient_id=patient.id)
        return to_out(session, patient)


def get_patient_by_mrn(ctx: Context, mrn: str) -> PatientOut:
    """Find by MRN or alias (a merged record's MRN leads to the survivor)."""
    with unit_of_work(ctx) as session:
        pid = _resolve_mrn(session, mrn)
        patient = load_patient(session, ctx, pid)
        while patient.status == "merged" and patient.merged_into_id:
            patient = load_patient(session, ctx, patient.merged_into_id)
        audit.record(session, ctx, "patient.read", "patient", patient.id, patient_id=patient.id, detail={"via": "mrn"})
        return to_out(session, patient)


def _resolve_mrn(session: Session, mrn: str) -> uuid.UUID | None:
    pid = session.scalars(select(Patient.id).where(Patient.mrn == mrn.strip())).first()
    if pid is None:
        pid = session.scalars(select(PatientAlias.patient_id).where(PatientAlias.value == mrn.strip())).first()
    return pid


def touch(ctx: Context, patient_id: uuid.UUID, location_id: uuid.UUID) -> None:
    """Link a patient to a location (own unit of work); for callers outside a transaction."""
    ctx.require(PATIENTS_WRITE, location_id, what="location")
    with unit_of_work(ctx) as session:
        load_patient(session, ctx, patient_id, PATIENTS_WRITE)
        _check_location(session, ctx, location_id)
        if link_location(session, patient_id, location_id):
            audit.record(
                session,
                ctx,
                "patient.link_location",
                "patient",
                patient_id,
                patient_id=patient_id,
                location_id=location_id,
            )


__all__ = [
    "CardApplied",
    "Contact",
    "PossibleDuplicates",
    "apply_coverage_card_in",
    "booking_columns",
    "booking_visibility",
    "check_bookable_status",
    "check_duplicates",
    "contact",
    "find_duplicate_candidates",
    "find_patients",
    "find_returning_patient_in",
    "get_patient",
    "get_patient_by_mrn",
    "insert_location_link",
    "link_location",
    "names",
    "register_patient",
    "register_patient_in",
    "register_patients_in",
    "require_bookable_patient",
    "touch",
    "update_patient",
    "update_patient_in",
    "update_patients_in",
]

"""SIU -> scheduling: S12 book, S13 reschedule, S14 modify, S15 cancel, S26 no-show (docs/hl7.md).

Every change goes through the scheduling service, with its rules: a time the provider is busy
is refused (AE, ERR naming the reason) and nothing is changed. The sender's appointment ids
(SCH-1 placer, SCH-2 filler) are linked to our appointment when S12 books it, so the later
events find it. The patient is matched or registered from PID as the ADT path does, in the
same transaction as the booking.

Resolution (configuration is the facility map entry's `providers`, `locations`, `visit_types`
and `default_visit_type`, as an interface engine sets them up):

- provider: the first AIP whose AIP-3.1 is the NPI of one of our providers, or a key of
  `providers` (AIP-3.1 -> our provider id);
- location: that resource group's AIL-3.1 in `locations` (-> our location id) or equal to one
  of our location codes; else the facility's location;
- visit type: the group's AIS-3.1, else SCH-7.1, as one of our visit type codes or a key of
  `visit_types` (-> our code); else `default_visit_type`;
- start: AIS-4, AIP-6, AIL-6, then TQ1-7, then SCH-11.4; a time without an offset is the
  location's local time.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from praxis.formats.hl7v2 import AckError, Message, Segment
from praxis.interop.hl7 import inbound
from praxis.interop.hl7.adt import ExternalId, external_id, patient_fields
from praxis.interop.hl7.inbound import Outcome, Route
from praxis.interop.hl7.models import Hl7AppointmentLink, Hl7PatientLink
from praxis.patients import service as patients
from praxis.patients.schemas import PatientCreate
from praxis.platform.context import Context
from praxis.platform.db import session_scope
from praxis.platform.errors import ProblemError
from praxis.platform.uow import unit_of_work, write_lock
from praxis.practice.models import Location
from praxis.scheduling import booking
from praxis.scheduling import service as scheduling
from praxis.scheduling.models import Appointment, Provider, VisitType

BOOK, RESCHEDULE, MODIFY, CANCEL, NO_SHOW = "S12", "S13", "S14", "S15", "S26"
SUPPORTED = (BOOK, RESCHEDULE, MODIFY, CANCEL, NO_SHOW)

_DTM = re.compile(r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})?(\d{2})?(?:\.\d+)?)?([+-]\d{4})?\Z")
_UNITS = {"s": 1 / 60, "sec": 1 / 60, "min": 1, "m": 1, "h": 60, "hr": 60, "hour": 60, "hours": 60}


def _err(code: str, text: str, seg: str, field_no: int | None = None, comp: int | None = None,
         severity: str = "E") -> AckError:
    return AckError(code, text[:200], seg, 1, field_no, comp, severity)


def _fail(code: str, text: str, seg: str, field_no: int | None = None, comp: int | None = None) -> Outcome:
    return Outcome("AE", text[:80], (_err(code, text, seg, field_no, comp),))


def parse_dtm(raw: str, zone: str) -> datetime | None:
    """An HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]); without an offset it is `zone`'s local time."""
    m = _DTM.match(raw.strip())
    if m is None:
        return None
    y, mo, d, hh, mi, ss, off = m.groups()
    try:
        naive = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
    except ValueError:
        return None
    if off:
        sign = 1 if off[0] == "+" else -1
        offset = timedelta(hours=int(off[1:3]), minutes=int(off[3:5])) * sign
        return naive.replace(tzinfo=timezone(offset))
    return naive.replace(tzinfo=ZoneInfo(zone))


@dataclass
class Group:
    """One RGS resource group: its service (AIS), locations (AIL) and personnel (AIP)."""

    ais: list[Segment] = field(default_factory=list)
    ail: list[Segment] = field(default_factory=list)
    aip: list[Segment] = field(default_factory=list)


def groups(msg: Message) -> list[Group]:
    out = [Group()]
    for seg in msg.segments:
        if seg.name == "RGS" and (out[-1].ais or out[-1].ail or out[-1].aip):
            out.append(Group())
        elif seg.name == "AIS":
            out[-1].ais.append(seg)
        elif seg.name == "AIL":
            out[-1].ail.append(seg)
        elif seg.name == "AIP":
            out[-1].aip.append(seg)
    return [g for g in out if g.ais or g.ail or g.aip]


@dataclass
class Wanted:
    """What the message asks for, resolved to our ids (None: the message does not say)."""

    provider_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    visit_type_id: uuid.UUID | None = None
    visit_minutes: int | None = None
    visit_type_code: str = ""  # the code the message names (AIS-3.1, else SCH-7.1); "" = it names none
    visit_type_from: tuple[str, int] = ("AIS", 3)  # where that code is
    start_at: datetime | None = None
    start_from: tuple[str, int] = ("TQ1", 7)
    minutes: int | None = None  # the message's own duration
    reason: str = ""
    warnings: list[AckError] = field(default_factory=list)


def _resolve(session: Session, ctx: Context, route: Route, msg: Message, group_list: list[Group],
             default_location: uuid.UUID | None) -> Wanted | Outcome:
    opts = route.options
    org = ctx.org_id
    w = Wanted()
    chosen: Group | None = None
    provider_map = {str(k): v for k, v in (opts.get("providers") or {}).items()}
    seen_personnel = False
    for g in group_list:
        for aip in g.aip:
            ident = aip.value(3, 1).strip()
            if not ident:
                continue
            seen_personnel = True
            pid: uuid.UUID | None = None
            if re.fullmatch(r"\d{10}", ident):
                pid = session.scalars(select(Provider.id).where(Provider.org_id == org, Provider.npi == ident)).first()
            if pid is None and ident in provider_map:
                pid = uuid.UUID(str(provider_map[ident]))
            if pid is not None:
                w.provider_id, chosen = pid, g
                break
        if chosen is not None:
            break
    if chosen is None:
        chosen = group_list[0] if group_list else Group()
        w.warnings.append(_err("204", "no AIP-3 personnel resource is one of our providers (by NPI or the "
                                      "facility's provider map)" if seen_personnel else
                               "no AIP personnel resource names the provider", "AIP", 3, 1))
    # Location
    loc_map = {str(k): v for k, v in (opts.get("locations") or {}).items()}
    for ail in chosen.ail:
        code = ail.value(3, 1).strip()
        if not code:
            continue
        if code in loc_map:
            w.location_id = uuid.UUID(str(loc_map[code]))
        else:
            w.location_id = session.scalars(select(Location.id).where(Location.org_id == org,
                                                                      Location.code == code[:30])).first()
        if w.location_id is not None:
            break
    if w.location_id is None:
        w.location_id = default_location
    # Visit type
    vt_map = {str(k): str(v) for k, v in (opts.get("visit_types") or {}).items()}
    named = [(a.value(3, 1).strip(), ("AIS", 3)) for a in chosen.ais] + [(msg.get("SCH-7.1").strip(), ("SCH", 7))]
    w.visit_type_code, w.visit_type_from = next(((c, where) for c, where in named if c), ("", ("AIS", 3)))
    candidates = [c for c, _at in named]
    if opts.get("default_visit_type"):
        candidates.append(str(opts["default_visit_type"]))
    for code in filter(None, candidates):
        ours = vt_map.get(code, code)
        row = session.execute(select(VisitType.id, VisitType.duration_minutes).where(
            VisitType.org_id == org, func.lower(VisitType.code) == ours.lower()[:30], VisitType.active.is_(True))
        ).first()
        if row is not None:
            w.visit_type_id, w.visit_minutes = row.id, row.duration_minutes
            break
    # Start
    zone = "UTC"
    if w.location_id is not None:
        zone = session.scalars(select(Location.timezone).where(Location.org_id == org,
                                                               Location.id == w.location_id)).first() or "UTC"
    tq1 = msg.segment("TQ1")
    sources: list[tuple[Segment | None, str, int, int]] = [
        *[(s, "AIS", 4, 1) for s in chosen.ais], *[(s, "AIP", 6, 1) for s in chosen.aip],
        *[(s, "AIL", 6, 1) for s in chosen.ail], (tq1, "TQ1", 7, 1), (msg.segment("SCH"), "SCH", 11, 4)]
    for seg, name, field_no, comp in sources:
        raw = seg.value(field_no, comp).strip() if seg is not None else ""
        if raw:
            w.start_at = parse_dtm(raw, zone)
            w.start_from = (name, field_no)
            if w.start_at is None:
                return _fail("102", f"{name}-{field_no} start {raw[:30]!r} is not a date and time", name, field_no)
            break
    # The message's own duration: AIS-7 (units AIS-8), else TQ1 end - start, else SCH-9 (SCH-10).
    for ais in chosen.ais:
        if ais.value(7).strip().isdigit():
            w.minutes = round(int(ais.value(7)) * _UNITS.get(ais.value(8, 1).strip().lower(), 1))
            break
    if w.minutes is None and tq1 is not None and w.start_at is not None and tq1.value(8).strip():
        end = parse_dtm(tq1.value(8), zone)
        if end is not None and end > w.start_at:
            w.minutes = int((end - w.start_at).total_seconds() // 60)
    sch = msg.segment("SCH")
    if w.minutes is None and sch is not None and sch.value(9).strip().isdigit():
        w.minutes = round(int(sch.value(9)) * _UNITS.get(sch.value(10, 1).strip().lower(), 1))
    w.reason = (msg.get("SCH-7.2") or (chosen.ais[0].value(3, 2) if chosen.ais else "")).strip()[:200]
    return w


def _appointment_keys(msg: Message) -> list[tuple[str, str]]:
    keys = []
    for kind, field_no in (("filler", 2), ("placer", 1)):
        value = msg.get(f"SCH-{field_no}.1").strip()
        if value:
            keys.append((kind, value[:100]))
    return keys


def _find_appointment(session: Session, org_id: uuid.UUID, authority: str, keys: list[tuple[str, str]]
                      ) -> uuid.UUID | None:
    for kind, value in keys:
        found = session.scalars(select(Hl7AppointmentLink.appointment_id).where(
            Hl7AppointmentLink.org_id == org_id, Hl7AppointmentLink.authority == authority,
            Hl7AppointmentLink.kind == kind, Hl7AppointmentLink.external_id == value)).first()
        if found is not None:
            return found
    return None


def _linked_patient(session: Session, org_id: uuid.UUID, key: ExternalId) -> uuid.UUID | None:
    return session.scalars(select(Hl7PatientLink.patient_id).where(
        Hl7PatientLink.org_id == org_id, Hl7PatientLink.authority == key.authority,
        Hl7PatientLink.external_id == key.value)).first()


# Our field names -> where the message said it, for the scheduling service's refusals.
def _where(w: Wanted | None, problem_field: str | None) -> tuple[str, int | None, int | None]:
    return {
        "provider_id": ("AIP", 3, 1), "location_id": ("AIL", 3, 1),
        "visit_type_id": (*(w.visit_type_from if w else ("AIS", 3)), 1),
        "patient_id": ("PID", 3, 1), "start_at": (*(w.start_from if w else ("TQ1", 7)), None),
        "status": ("SCH", 25, None),
    }.get(problem_field or "", ("SCH", None, None))


def _problem(exc: ProblemError, w: Wanted | None) -> Outcome:
    seg, field_no, comp = _where(w, exc.field)
    code = {404: "204", 409: "206", 412: "206"}.get(exc.status, "207" if exc.status >= 500 else "102")
    return Outcome("AE", exc.detail[:80], (_err(code, exc.detail, seg, field_no, comp),))


def handle(ctx: Context, route: Route, msg: Message) -> Outcome:
    """Apply one stored SIU message; the Outcome becomes its ACK."""
    event = msg.trigger_event
    if event not in SUPPORTED:
        return Outcome("AR", f"event {event} is not supported",
                       (_err("201", f"MSH-9.2 event {event[:10]!r} is not supported", "MSH", 9, 2),))
    if msg.segment("SCH") is None:
        return _fail("100", "the SCH segment is required", "SCH")
    keys = _appointment_keys(msg)
    if not keys:
        return _fail("101", "SCH-1 placer or SCH-2 filler appointment id is required", "SCH", 2, 1)
    authority = msg.sending_facility[:100]
    with session_scope(ctx.org_id) as session:
        appointment_id = _find_appointment(session, ctx.org_id, authority, keys)
    if event == BOOK:
        if appointment_id is not None:
            return _fail("205", f"appointment {keys[0][1]!r} ({authority}) is booked already", "SCH", 2, 1)
        return _book(ctx, route, msg, keys, authority)
    if appointment_id is None:
        kind, value = keys[0]
        return _fail("204", f"SCH-{2 if kind == 'filler' else 1} appointment {value!r} ({authority}) is not known",
                     "SCH", 2 if kind == "filler" else 1, 1)
    try:
        if event in (RESCHEDULE, MODIFY):
            return _move(ctx, route, msg, appointment_id)
        with session_scope(ctx.org_id) as session:
            appt = session.scalars(select(Appointment).where(Appointment.org_id == ctx.org_id,
                                                             Appointment.id == appointment_id)).one()
            status, patient_id = appt.status, appt.patient_id
        if event == CANCEL:
            if status != "cancelled":
                reason = (msg.get("NTE-3") or msg.get("SCH-6.2") or "").strip()
                scheduling.cancel(ctx, appointment_id,
                                  reason=(reason or f"Cancelled by {msg.sending_facility} (SIU^S15)")[:200])
            return Outcome("AA", "", (), patient_id)
        if status != "no_show":
            scheduling.change_status(ctx, appointment_id, "no_show")
        return Outcome("AA", "", (), patient_id)
    except ProblemError as exc:
        return _problem(exc, None)


def _book(ctx: Context, route: Route, msg: Message, keys: list[tuple[str, str]], authority: str) -> Outcome:
    pid = msg.segment("PID")
    if pid is None:
        return _fail("100", "the PID segment is required", "PID")
    key = external_id(pid, 3, msg.sending_facility)
    if key is None:
        return _fail("101", "PID-3 patient identifier list is required", "PID", 3, 1)
    group_list = groups(msg)
    with session_scope(ctx.org_id) as session:
        resolved = _resolve(session, ctx, route, msg, group_list, route.location_id)
        patient_id = _linked_patient(session, ctx.org_id, key)
    if isinstance(resolved, Outcome):
        return resolved
    w = resolved
    if w.provider_id is None:
        return Outcome("AE", "unknown provider", tuple(w.warnings))
    if w.location_id is None:
        return _fail("101", "AIL-3 location is required (the facility has no default location)", "AIL", 3, 1)
    if w.visit_type_id is None:
        code = (group_list and group_list[0].ais and group_list[0].ais[0].value(3, 1)) or msg.get("SCH-7.1")
        return _fail("103", f"visit type {code[:30]!r} (AIS-3 / SCH-7) is not one of ours and the facility has "
                            "no default", "AIS", 3, 1)
    if w.start_at is None:
        return _fail("101", "the start time (AIS-4, TQ1-7 or SCH-11.4) is required", "TQ1", 7)
    warnings: list[AckError] = []
    if w.minutes is not None and w.visit_minutes is not None and w.minutes != w.visit_minutes:
        warnings.append(_err("102", f"the message's duration ({w.minutes} min) differs from the visit type's "
                                    f"({w.visit_minutes} min); booked for {w.visit_minutes} min", "AIS", 7,
                             None, "W"))
    mapped = patient_fields(pid) if patient_id is None else None
    if mapped is not None and mapped.errors:
        return Outcome("AE", mapped.errors[0].text[:80], tuple(mapped.errors + mapped.warnings))

    def run() -> tuple[uuid.UUID, uuid.UUID]:
        with unit_of_work(ctx) as session:
            write_lock(session)
            pat = _linked_patient(session, ctx.org_id, key)
            if pat is None:
                assert mapped is not None
                create = PatientCreate.model_validate({**mapped.values, "confirm_duplicate": True})
                pat = patients.register_patient_in(session, ctx, create, location_id=w.location_id).id
                session.add(Hl7PatientLink(org_id=ctx.org_id, authority=key.authority, external_id=key.value,
                                           patient_id=pat))
                session.flush()
            assert w.provider_id and w.visit_type_id and w.location_id and w.start_at
            appt = booking.book_in(session.connection(), ctx, booking.BookingRequest(
                pat, w.visit_type_id, w.provider_id, w.location_id, w.start_at,
                reason_for_visit=w.reason, source="hl7"))
            for kind, value in keys:
                session.add(Hl7AppointmentLink(org_id=ctx.org_id, authority=authority, kind=kind,
                                               external_id=value, appointment_id=appt.id))
            return appt.id, pat

    try:
        _appt_id, patient_id = booking.retrying(run)
    except ValidationError as exc:
        errs = [_err("102", f"PID: {e['msg']}", "PID") for e in exc.errors()]
        return Outcome("AE", "invalid patient data", tuple(errs))
    except ProblemError as exc:
        return _problem(exc, w)
    return Outcome("AA", "", tuple(warnings) + tuple(mapped.warnings if mapped else ()), patient_id)


def _duration_warning(w: Wanted, minutes: int | None) -> list[AckError]:
    """Our length is the visit type's: a different length in the message is a warning, not a change."""
    if w.minutes is None or minutes is None or w.minutes == minutes:
        return []
    return [_err("102", f"the message's duration ({w.minutes} min) differs from the visit type's ({minutes} min); "
                        f"the visit lasts {minutes} min", "AIS", 7, None, "W")]


def _move(ctx: Context, route: Route, msg: Message, appointment_id: uuid.UUID) -> Outcome:
    """S13/S14: move the appointment to the message's time, provider and location and give it the
    message's visit type, when they differ; one transaction, through the scheduling service."""
    with session_scope(ctx.org_id) as session:
        appt = session.scalars(select(Appointment).where(Appointment.org_id == ctx.org_id,
                                                         Appointment.id == appointment_id)).one()
        current = (appt.start_at, appt.provider_id, appt.location_id, appt.patient_id)
        current_type = appt.visit_type_id
        current_minutes = session.scalars(select(VisitType.duration_minutes).where(
            VisitType.org_id == ctx.org_id, VisitType.id == current_type)).first()
        resolved = _resolve(session, ctx, route, msg, groups(msg), appt.location_id)
    if isinstance(resolved, Outcome):
        return resolved
    w = resolved
    start = w.start_at or current[0]
    provider = w.provider_id or current[1]
    location = w.location_id or current[2]
    warnings: list[AckError] = []
    visit_type = current_type
    seg, field_no = w.visit_type_from
    if w.visit_type_code and w.visit_type_id is None:
        # Not ours and no default: the rest of the message still applies (a reschedule must not be
        # lost over a code we do not map), and the sender is told.
        warnings.append(_err("103", f"{seg}-{field_no}.1 visit type {w.visit_type_code[:30]!r} is not one of ours "
                                    "and the facility has no default; the visit type is unchanged", seg, field_no,
                             1, "W"))
    elif w.visit_type_code and w.visit_type_id is not None:
        visit_type = w.visit_type_id
    moved = (start, provider, location) != current[:3]
    retyped = visit_type != current_type
    warnings += _duration_warning(w, w.visit_minutes if retyped else current_minutes)
    if not moved and not retyped:
        # e.g. an S14 changing only notes or a room label
        return Outcome("AA", "no change", tuple(warnings), current[3])
    try:
        if moved:
            scheduling.reschedule(ctx, appointment_id, start_at=start, provider_id=provider, location_id=location,
                                  visit_type_id=visit_type if retyped else None)
        else:
            scheduling.change_visit_type(ctx, appointment_id, visit_type_id=visit_type)
    except ProblemError as exc:
        if retyped and (exc.field == "visit_type_id" or (not moved and exc.field in ("start_at", "overbook"))):
            # Only the visit type changed, so it is what does not fit (its length, its rooms, its hours).
            text = f"{seg}-{field_no}.1 visit type {w.visit_type_code[:30]!r}: {exc.detail}"
            code = {404: "204", 409: "206", 412: "206"}.get(exc.status, "207" if exc.status >= 500 else "102")
            return Outcome("AE", text[:80], (_err(code, text, seg, field_no, 1), *warnings))
        return _problem(exc, w)
    return Outcome("AA", "", tuple(warnings), current[3])


def register() -> None:
    """Route SIU messages here (wiring calls this)."""
    inbound.HANDLERS["SIU"] = handle

"""HL7 v2 inbound: route by sending facility, store raw, process once, answer one ACK.

`receive(data, routes)` is what the MLLP listener calls for each block; `replay(org_id, id,
routes)` processes a stored message again after a fix. Processing calls the patients' service
functions (registration, update, merge) with a system context named after the sender; this
module holds no patient rules of its own.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from praxis.formats.hl7v2 import AckError, HL7ParseError, Message, build_ack, parse_message
from praxis.interop.hl7.adt import FIELD_LOCATIONS, ExternalId, external_id, patient_fields
from praxis.interop.hl7.models import Hl7Message, Hl7PatientLink
from praxis.patients import service as patients
from praxis.patients.merge import merge_patients
from praxis.patients.schemas import PatientCreate, PatientUpdate
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.db import get_or_404, session_scope
from praxis.platform.errors import ProblemError, ValidationProblem
from praxis.platform.ids import new_id
from praxis.platform.uow import unit_of_work, write_lock

log = logging.getLogger(__name__)

REGISTER = {"A04", "A28"}
UPDATE = {"A08", "A31"}
MERGE = {"A40"}
SUPPORTED = REGISTER | UPDATE | MERGE


@dataclass(frozen=True)
class Route:
    """Where a sending facility's messages go: an organisation and (optionally) a location."""

    org_id: uuid.UUID
    location_id: uuid.UUID | None = None
    # The rest of the facility's entry (SIU identifier maps, the outbound peer: see docs/hl7.md).
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


Routes = dict[str, Route]


def load_routes(path: Path) -> Routes:
    """The facility map, a JSON file: {"MSH-4.1 value": {"org_id": "...", "location_id": "..."}}."""
    data = json.loads(path.read_text())
    return {
        facility: Route(
            uuid.UUID(v["org_id"]),
            uuid.UUID(v["location_id"]) if v.get("location_id") else None,
            {k: x for k, x in v.items() if k not in ("org_id", "location_id")},
        )
        for facility, v in data.items()
    }


@dataclass(frozen=True)
class Outcome:
    code: str  # AA | AE | AR
    text: str = ""
    errors: tuple[AckError, ...] = ()
    patient_id: uuid.UUID | None = None


def _sender(msg: Message) -> str:
    return f"{msg.sending_application}|{msg.sending_facility}"[:200]


def _ack(msg: Message, outcome: Outcome) -> str:
    return build_ack(
        msg,
        outcome.code,
        control_id=new_id().hex[:20],
        at=now(),
        text=outcome.text,
        errors=outcome.errors,
        application="PRAXIS",
    )


def _header_only(text: str) -> Message | None:
    """The MSH alone, to acknowledge a message whose body does not parse."""
    first = text.replace("\r\n", "\r").replace("\n", "\r").split("\r", 1)[0]
    try:
        return parse_message(first)
    except HL7ParseError:
        return None


def receive(data: bytes, routes: Routes) -> str | None:
    """Handle one inbound block; the ACK to send back (None when not even MSH is readable)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # as the parser reads it, so the stored raw replays the same
    if "\x00" in text:
        # Never text; PostgreSQL cannot store it either. Answer if MSH reads, store nothing.
        header = _header_only(text.replace("\x00", ""))
        err = AckError("102", "the message contains a NUL byte", "MSH", 1)
        return _ack(header, Outcome("AR", "not a valid HL7 v2 message", (err,))) if header else None
    try:
        msg = parse_message(text)
    except HL7ParseError as exc:
        header = _header_only(text)
        if header is None:
            log.warning("hl7: unreadable block dropped (%s)", exc.reason)
            return None
        err = AckError("100" if exc.segment != "MSH" else "102", exc.reason[:200], exc.segment or "MSH", 1, exc.field)
        outcome = Outcome("AR", "not a valid HL7 v2 message", (err,))
        route = routes.get(header.sending_facility)
        if route is None or not header.control_id:
            return _ack(header, outcome)
        # Kept like any other message (raw, rejected) so the sender's fix can be compared with it.
        stored_id, stored_ack, is_new = _store(route.org_id, header, text)
        if not is_new:
            return stored_ack or _ack(header, outcome)
        ack = _ack(header, outcome)
        _finish(route.org_id, stored_id, outcome, ack)
        return ack
    route = routes.get(msg.sending_facility)
    if route is None:
        # No organisation: nothing tenant-scoped may store it. Refused, logged without content.
        log.warning("hl7: sending facility %r is not configured; rejected", msg.sending_facility[:60])
        return _ack(
            msg,
            Outcome(
                "AR",
                "unknown sending facility",
                (
                    AckError(
                        "103", f"MSH-4 sending facility {msg.sending_facility[:60]!r} is not configured", "MSH", 1, 4
                    ),
                ),
            ),
        )
    if not msg.control_id:
        return _ack(
            msg,
            Outcome("AR", "MSH-10 required", (AckError("101", "MSH-10 message control id is required", "MSH", 1, 10),)),
        )
    stored_id, stored_ack, is_new = _store(route.org_id, msg, text)
    if is_new:
        return _process_stored(route, stored_id, msg)
    if stored_ack:
        return stored_ack  # a resend: answered as the first time, applied once
    # A copy is being processed right now (or a crash left it unprocessed: `praxis hl7 replay`).
    # Never process it a second time; the sender's retry will get the stored ACK.
    return _ack(msg, Outcome("AE", "being processed; resend later", (
        AckError("206", "this message (sender and MSH-10) is already being processed", "MSH", 1, 10),)))


def _store(org_id: uuid.UUID, msg: Message, text: str) -> tuple[uuid.UUID, str, bool]:
    """Insert the raw message (its own transaction, before processing); on a resend return the
    existing row and its ACK."""
    sender = _sender(msg)
    control_id = msg.control_id[:199]
    find = select(Hl7Message.id, Hl7Message.ack).where(
        Hl7Message.org_id == org_id, Hl7Message.sender == sender, Hl7Message.control_id == control_id
    )
    with session_scope(org_id) as session:
        # SQLite: take the write lock first, or two copies both read "absent" and one of them
        # fails to upgrade its lock ("database is locked"). PostgreSQL: the unique key decides.
        write_lock(session)
        found = session.execute(find).first()
        if found is not None:
            return found.id, found.ack or "", False
        row = Hl7Message(
            org_id=org_id,
            sender=sender,
            control_id=control_id,
            raw=text,
            message_type=f"{msg.message_type}^{msg.trigger_event}"[:20],
        )
        session.add(row)
        try:
            session.flush()
            return row.id, "", True
        except IntegrityError:
            session.rollback()
    # Lost the race to a concurrent copy of the same message: answer with that copy's result.
    with session_scope(org_id) as session:
        found = session.execute(find).one()
        return found.id, found.ack or "", False


def _process_stored(route: Route, message_id: uuid.UUID, msg: Message) -> str:
    ctx = system_context(route.org_id, f"hl7:{_sender(msg)}"[:80])
    try:
        outcome = _dispatch(ctx, route, msg)
    except Exception:
        log.exception("hl7: processing %s failed", message_id)
        outcome = Outcome(
            "AE", "application error", (AckError("207", "internal error; the message is kept for replay"),)
        )
    ack = _ack(msg, outcome)
    _finish(route.org_id, message_id, outcome, ack)
    return ack


def _finish(org_id: uuid.UUID, message_id: uuid.UUID, outcome: Outcome, ack: str) -> None:
    status = {"AA": "processed", "AE": "failed", "AR": "rejected"}[outcome.code]
    with session_scope(org_id) as session:
        write_lock(session)  # read-then-write: see _store
        row = get_or_404(session, Hl7Message, message_id, "HL7 message")
        row.status = status
        row.ack_code = outcome.code
        row.ack = ack
        row.error = "; ".join(e.text for e in outcome.errors if e.severity == "E")
        row.attempts += 1
        row.patient_id = outcome.patient_id
        row.processed_at = now()


def replay(org_id: uuid.UUID, message_id: uuid.UUID, routes: Routes) -> str:
    """Process a stored message again (after a fix); refused for one already processed (AA),
    which would apply it twice. Returns the new ACK (also stored)."""
    with session_scope(org_id) as session:
        row = get_or_404(session, Hl7Message, message_id, "HL7 message")
        if row.status == "processed":
            raise ProblemError(
                "This message was processed already; replaying it would apply it twice",
                field="message_id",
                status=409,
                type="conflict",
            )
        raw = row.raw
    try:
        msg = parse_message(raw)
    except HL7ParseError as exc:
        raise ValidationProblem(f"The stored message does not parse: {exc}", field="raw") from exc
    route = routes.get(msg.sending_facility) or Route(org_id)
    if route.org_id != org_id:
        route = Route(org_id)
    return _process_stored(route, message_id, msg)


# --- processing ---------------------------------------------------------------------------------

# Message types other than ADT, by MSH-9.1: each handler applies a stored message (siu.py registers SIU).
HANDLERS: dict[str, Callable[[Context, Route, Message], Outcome]] = {}


def _dispatch(ctx: Context, route: Route, msg: Message) -> Outcome:
    if msg.message_type in HANDLERS:
        return HANDLERS[msg.message_type](ctx, route, msg)
    if msg.message_type != "ADT":
        return Outcome(
            "AR",
            f"message type {msg.message_type} is not supported",
            (AckError("200", f"MSH-9.1 message type {msg.message_type[:10]!r} is not supported", "MSH", 1, 9, 1),),
        )
    event = msg.trigger_event
    if event not in SUPPORTED:
        return Outcome(
            "AR",
            f"event {event} is not supported",
            (AckError("201", f"MSH-9.2 event {event[:10]!r} is not supported", "MSH", 1, 9, 2),),
        )
    pid = msg.segment("PID")
    if pid is None:
        return Outcome("AE", "PID missing", (AckError("100", "the PID segment is required", "PID", 1),))
    key = external_id(pid, 3, msg.sending_facility)
    if key is None:
        return Outcome(
            "AE",
            "patient identifier missing",
            (AckError("101", "PID-3 patient identifier list is required", "PID", 1, 3, 1),),
        )
    if event in MERGE:
        return _merge(ctx, msg, key)
    mapped = patient_fields(pid, partial=event in UPDATE)
    if mapped.errors:
        return Outcome("AE", mapped.errors[0].text[:80], tuple(mapped.errors + mapped.warnings))
    try:
        with unit_of_work(ctx) as session:
            # SQLite: read-then-write; take the write lock before the first read, or a concurrent
            # writer (another connection storing a message) makes the lock upgrade fail at once.
            write_lock(session)
            existing = _linked(session, ctx.org_id, key)
            if existing is None and event == "A08":
                return Outcome(
                    "AE",
                    "unknown patient",
                    (
                        AckError(
                            "204", f"PID-3 identifier {key.value!r} ({key.authority}) is not known", "PID", 1, 3, 1
                        ),
                    ),
                )
            if existing is None:
                # A28 / A04 register; an A31 for an unknown patient is the sender's master file
                # adding them, which is a registration too. Matching: the sender's identifier
                # decides; a similar record elsewhere is flagged by registration's duplicate check
                # (audited) and left to staff to merge, as self-service registration does.
                create = PatientCreate.model_validate({**mapped.values, "confirm_duplicate": True})
                patient = patients.register_patient_in(session, ctx, create, location_id=route.location_id)
                session.add(
                    Hl7PatientLink(
                        org_id=ctx.org_id, authority=key.authority, external_id=key.value, patient_id=patient.id
                    )
                )
                patient_id = patient.id
            else:
                update = PatientUpdate.model_validate(mapped.values)
                patient_id = patients.update_patient_in(
                    session, ctx, existing, update, detail={"via": "hl7", "event": event}
                ).id
    except ValidationError as exc:
        return Outcome("AE", "invalid patient data", tuple(_validation_errors(exc)) + tuple(mapped.warnings))
    except ProblemError as exc:
        return Outcome("AE", exc.detail[:80], (_problem_error(exc),))
    return Outcome("AA", "", tuple(mapped.warnings), patient_id)


def _merge(ctx: Context, msg: Message, survivor_key: ExternalId) -> Outcome:
    mrg = msg.segment("MRG")
    if mrg is None:
        return Outcome("AE", "MRG missing", (AckError("100", "A40 needs an MRG segment", "MRG", 1),))
    merged_key = external_id(mrg, 1, msg.sending_facility)
    if merged_key is None:
        return Outcome(
            "AE",
            "prior identifier missing",
            (AckError("101", "MRG-1 prior patient identifier is required", "MRG", 1, 1, 1),),
        )
    with session_scope(ctx.org_id) as session:
        survivor = _linked(session, ctx.org_id, survivor_key)
        merged = _linked(session, ctx.org_id, merged_key)
    if survivor is None:
        return Outcome(
            "AE",
            "unknown patient",
            (
                AckError(
                    "204",
                    f"PID-3 identifier {survivor_key.value!r} ({survivor_key.authority}) is not known",
                    "PID",
                    1,
                    3,
                    1,
                ),
            ),
        )
    if merged is None:
        return Outcome(
            "AE",
            "unknown prior patient",
            (
                AckError(
                    "204",
                    f"MRG-1 identifier {merged_key.value!r} ({merged_key.authority}) is not known",
                    "MRG",
                    1,
                    1,
                    1,
                ),
            ),
        )
    if survivor == merged:
        return Outcome("AA", "already merged", (), survivor)
    try:
        merge_patients(ctx, survivor, merged, f"HL7 A40 {msg.control_id[:40]} from {_sender(msg)[:80]}")
    except ProblemError as exc:
        return Outcome(
            "AE", exc.detail[:80], (AckError("207" if exc.status >= 500 else "206", exc.detail[:200], "MRG", 1, 1, 1),)
        )
    return Outcome("AA", "", (), survivor)


def _linked(session, org_id: uuid.UUID, key: ExternalId) -> uuid.UUID | None:
    return session.scalars(
        select(Hl7PatientLink.patient_id).where(
            Hl7PatientLink.org_id == org_id,
            Hl7PatientLink.authority == key.authority,
            Hl7PatientLink.external_id == key.value,
        )
    ).first()


def _validation_errors(exc: ValidationError) -> list[AckError]:
    out = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        seg, field_no, comp = FIELD_LOCATIONS.get(name, ("PID", None, None))
        out.append(AckError("102", f"{seg}-{field_no}: {err['msg']}"[:200], seg, 1, field_no, comp))
    return out


def _problem_error(exc: ProblemError) -> AckError:
    seg, field_no, comp = FIELD_LOCATIONS.get(exc.field or "", ("PID", None, None))
    return AckError("207" if exc.status >= 500 else "102", exc.detail[:200], seg, 1, field_no, comp)

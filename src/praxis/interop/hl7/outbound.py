"""HL7 v2 outbound: SIU on our appointment events and ADT on registration changes, to a configured
MLLP peer per organisation, through the outbox with retries, backoff and a dead state.

Peers are configuration, beside the inbound routing: a facility-map entry (docs/hl7.md) may carry
an `outbound` object, `{"host", "port", "enabled", "events", "receiving_application",
"receiving_facility", "max_attempts", "timeout_seconds"}`; its events go to the organisation of
that entry only. A change that came in from that same facility (the event's origin, the system
context it was made with, is `hl7:<application>|<facility>`) is not sent back to it (loop
prevention, decision 54).

Flow: a domain event (outbox) -> `fan_out` writes one `hl7_outbound` row per matching peer (id
derived from peer, event and payload, so a rerun adds nothing) and queues `DELIVER_TOPIC` ->
`deliver` builds the message from current data, sends it over MLLP and reads the ACK. AA is
delivered; AE, AR, a timeout or a refused connection is an attempt: the outbox runs it again with
its exponential backoff, and after `max_attempts` the row is dead (an operator sees it in
`hl7_outbound`; `requeue` sends it again). The row keeps the last message sent and the ACK that
came back, as they were.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.formats.hl7v2 import (
    HL7ParseError,
    MllpDecoder,
    Repeat,
    build_message,
    hl7_timestamp,
    mllp_frame,
    parse_message,
)
from praxis.interop.hl7.inbound import Routes, load_routes
from praxis.interop.hl7.models import Hl7AppointmentLink, Hl7Outbound
from praxis.patients.models import Patient
from praxis.platform import audit, outbox
from praxis.platform.audit import AuditRecord
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404, session_scope
from praxis.platform.errors import ProblemError
from praxis.platform.settings import get_settings
from praxis.practice.models import Location
from praxis.scheduling.models import Appointment, Provider, VisitType

log = logging.getLogger(__name__)

DELIVER_TOPIC = "interop.hl7_deliver"
VERSION = "2.5.1"
MAX_ATTEMPTS = 5  # below the outbox's own limit, so hl7_outbound says "dead", not the outbox alone
TIMEOUT_SECONDS = 10.0
_NAMESPACE = uuid.UUID("6f1d2c3b-7a44-4c1e-9d0b-2b8e5f7a9c31")


@dataclass(frozen=True)
class Source:
    topic: str
    actions: tuple[str, ...]  # the audit actions of the change (an event without its origin: `_origin`)
    resource: str  # appointment | patient
    key: str  # the payload field holding the resource id
    when: dict[str, str] | None = None


# Our outbound events -> the domain events they come from.
EVENTS: dict[str, Source] = {
    "SIU^S12": Source("scheduling.appointment_booked", ("appointment.book",), "appointment", "appointment_id"),
    "SIU^S13": Source("scheduling.appointment_rescheduled", ("appointment.reschedule",), "appointment",
                      "appointment_id"),
    "SIU^S14": Source("scheduling.appointment_modified", ("appointment.change_visit_type",), "appointment",
                      "appointment_id"),
    "SIU^S15": Source("scheduling.appointment_cancelled", ("appointment.cancel",), "appointment", "appointment_id"),
    "SIU^S26": Source("scheduling.appointment_status", ("appointment.no_show",), "appointment", "appointment_id",
                      {"action": "no_show"}),
    "ADT^A04": Source("patient.registered", ("patient.create",), "patient", "patient_id"),
    "ADT^A08": Source("patient.updated", ("patient.update",), "patient", "patient_id"),
    "ADT^A40": Source("patient.merged", ("patient.merge",), "patient", "survivor_id"),
}


def patient_of(session: Session, row: Hl7Outbound) -> uuid.UUID | None:
    """The patient an outbound message is about (its audit rows name them): the payload's patient
    (the survivor of a merge), else the appointment's; None when the appointment is gone."""
    ids = row.payload
    pid = ids.get("patient_id") or ids.get("survivor_id")
    if pid:
        return uuid.UUID(pid)
    if ids.get("appointment_id"):
        return session.scalars(select(Appointment.patient_id).where(
            Appointment.org_id == row.org_id, Appointment.id == uuid.UUID(ids["appointment_id"]))).first()
    return None


class DeliveryFailed(RuntimeError):
    """Raised so the outbox retries the delivery with its exponential backoff."""


@dataclass(frozen=True)
class Peer:
    facility: str  # the facility-map key
    org_id: uuid.UUID
    host: str
    port: int
    events: frozenset[str]
    receiving_application: str
    receiving_facility: str
    max_attempts: int = MAX_ATTEMPTS
    timeout: float = TIMEOUT_SECONDS

    def wants(self, event: str) -> bool:
        return event in self.events or event.split("^")[0] in self.events


_routes: Routes | None = None


def configure(routes: Routes | None) -> None:
    """Use this facility map (tests, the CLI); None goes back to the settings' file."""
    global _routes
    _routes = routes


def _current_routes() -> Routes:
    global _routes
    if _routes is None:
        path = get_settings().hl7_facilities_file
        _routes = load_routes(path) if path else {}
    return _routes


def peers(org_id: uuid.UUID) -> list[Peer]:
    """The enabled outbound peers of one organisation."""
    out = []
    for facility, route in _current_routes().items():
        cfg = route.options.get("outbound")
        if route.org_id != org_id or not cfg or not cfg.get("enabled", True):
            continue
        out.append(Peer(facility, route.org_id, str(cfg["host"]), int(cfg["port"]),
                        frozenset(cfg.get("events") or ("SIU", "ADT")),
                        str(cfg.get("receiving_application") or facility),
                        str(cfg.get("receiving_facility") or facility),
                        int(cfg.get("max_attempts") or MAX_ATTEMPTS), float(cfg.get("timeout_seconds") or
                                                                             TIMEOUT_SECONDS)))
    return out


# --- fan-out (worker) -------------------------------------------------------------------------------


def _origin(session: Session, org_id: uuid.UUID, source: Source, resource_id: str) -> str:
    """Who made the change, for an event queued before events carried their `origin`: the actor of
    the record's latest audit row of that action. Only a guess (decision 54): a later change of the
    same record, by anyone, is taken for this one's origin."""
    patient_id: str | None = resource_id
    if source.resource == "appointment":
        patient_id = str(session.scalars(select(Appointment.patient_id).where(
            Appointment.org_id == org_id, Appointment.id == uuid.UUID(resource_id))).first() or "") or None
    q = select(AuditRecord.actor_name).where(
        AuditRecord.org_id == org_id, AuditRecord.resource_type == source.resource,
        AuditRecord.resource_id == resource_id, AuditRecord.action.in_(source.actions))
    if patient_id:
        q = q.where(AuditRecord.patient_id == uuid.UUID(patient_id))  # the (org, patient, time) index
    return session.scalars(q.order_by(AuditRecord.created_at.desc()).limit(1)).first() or ""


def _from_peer(origin: str, facility: str) -> bool:
    return origin.startswith("hl7:") and origin.rsplit("|", 1)[-1] == facility


def fan_out(event: str, org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler: one `hl7_outbound` row per peer of the organisation that takes `event`.
    Idempotent (the row id derives from peer, event and payload)."""
    source = EVENTS[event]
    if org_id is None or any(payload.get(k) != v for k, v in (source.when or {}).items()):
        return
    wanted = [p for p in peers(org_id) if p.wants(event)]
    resource_id = payload.get(source.key)
    if not wanted or not resource_id:
        return
    with session_scope(org_id) as s:
        # The origin the change was made with travels in the event (Context.origin): the record's
        # audit read now would name whoever changed it last, not who made this change.
        origin = (str(payload["origin"] or "") if "origin" in payload
                  else _origin(s, org_id, source, str(resource_id)))
        for peer in wanted:
            if _from_peer(origin, peer.facility):
                log.info("hl7: %s of %s came from %s; not sent back", event, resource_id, peer.facility)
                continue
            mid = uuid.uuid5(_NAMESPACE, f"{peer.facility}:{event}:{json.dumps(payload, sort_keys=True)}")
            if s.scalars(select(Hl7Outbound.id).where(Hl7Outbound.org_id == org_id, Hl7Outbound.id == mid)).first():
                continue
            ids = {k: v for k, v in payload.items() if k.endswith("_id") and v is not None}
            s.add(Hl7Outbound(id=mid, org_id=org_id, peer=peer.facility, event=event,
                              control_id=f"PX{mid.hex[:18]}", payload=ids))
            outbox.emit(s, DELIVER_TOPIC, {"message_id": str(mid)}, org_id=org_id)


def handler_for(event: str) -> outbox.Handler:
    return lambda org_id, payload: fan_out(event, org_id, payload)


# --- building the messages ----------------------------------------------------------------------


def _ts(moment: datetime | None) -> str:
    return hl7_timestamp(moment.astimezone(UTC)) if moment else ""


def _pid(p: Patient) -> list[Any]:
    sex = p.sex if p.sex in ("M", "F", "U") else ("O" if p.sex == "X" else "U")
    address = [p.address_line1, p.address_line2, p.city, p.state, p.postal_code] if p.address_line1 else None
    return ["1", None, Repeat(([p.mrn, None, None, "PRAXIS", "MR"],)), None,
            [p.last_name, p.first_name, p.middle_name or None], None, p.dob.strftime("%Y%m%d"), sex,
            None, None, address]


def _msh(peer: Peer, row: Hl7Outbound, structure: str) -> tuple[str, list[Any]]:
    kind, trigger = row.event.split("^")
    return ("MSH", ["PRAXIS", "PRAXIS", peer.receiving_application, peer.receiving_facility, _ts(now()), None,
                    [kind, trigger, structure], row.control_id, "P", VERSION])


def build(session: Session, peer: Peer, row: Hl7Outbound) -> str:
    """The message for one outbound row, from the current data (ProblemError 404 when it is gone)."""
    org = row.org_id
    ids = row.payload
    if row.event.startswith("SIU"):
        appt = get_or_404(session, Appointment, uuid.UUID(ids["appointment_id"]), "appointment")
        patient = get_or_404(session, Patient, appt.patient_id, "patient")
        provider = get_or_404(session, Provider, appt.provider_id, "provider")
        visit = get_or_404(session, VisitType, appt.visit_type_id, "visit type")
        location = get_or_404(session, Location, appt.location_id, "location")
        placer = session.scalars(select(Hl7AppointmentLink.external_id).where(
            Hl7AppointmentLink.org_id == org, Hl7AppointmentLink.appointment_id == appt.id,
            Hl7AppointmentLink.kind == "placer")).first()
        minutes = int((appt.end_at - appt.start_at).total_seconds() // 60)
        status = {"booked": "Booked", "confirmed": "Booked", "cancelled": "Cancelled", "no_show": "Noshow",
                  "checked_in": "Started", "roomed": "Started", "checked_out": "Complete"}.get(appt.status, "Booked")
        reason = {"SIU^S12": "Booked", "SIU^S13": "Rescheduled", "SIU^S14": "Modified", "SIU^S15": "Cancelled",
                  "SIU^S26": "No-show"}[row.event]
        who = [provider.npi or str(provider.id), provider.last_name, provider.first_name]
        start, end = _ts(appt.start_at), _ts(appt.end_at)
        segments: list[tuple[str, list[Any]]] = [
            _msh(peer, row, "SIU_S12"),
            ("SCH", [[placer, "EHR"] if placer else None, [str(appt.id), "PRAXIS"], None, None, None,
                     [reason, reason, "HL70276"], [visit.code, visit.name, "L"], None, str(minutes),
                     ["min", "minutes", "ISO+"], [None, None, None, start, end], None, None, None, None, who,
                     None, None, None, who, None, None, None, None, [status, status, "HL70278"]]),
            ("TQ1", ["1", None, None, None, None, None, start, end]),
            ("PID", _pid(patient)),
            ("RGS", ["1", "A"]),
            ("AIS", ["1", "A", [visit.code, visit.name, "L"], start, None, None, str(minutes),
                     ["min", "minutes", "ISO+"], None, [status, status, "HL70278"]]),
            ("AIL", ["1", "A", [location.code, None, None, ["PRAXIS"], None, None, None, None, location.name],
                     None, None, start, None, None, str(minutes), ["min", "minutes", "ISO+"], None,
                     [status, status, "HL70278"]]),
            ("AIP", ["1", "A", who, None, None, start, None, None, str(minutes), ["min", "minutes", "ISO+"], None,
                     [status, status, "HL70278"]]),
        ]
        return build_message(segments)
    trigger = row.event.split("^")[1]
    if trigger == "A40":
        survivor = get_or_404(session, Patient, uuid.UUID(ids["survivor_id"]), "patient")
        merged = get_or_404(session, Patient, uuid.UUID(ids["merged_id"]), "patient")
        return build_message([
            _msh(peer, row, "ADT_A39"), ("EVN", [trigger, _ts(now())]), ("PID", _pid(survivor)),
            ("MRG", [Repeat(([merged.mrn, None, None, "PRAXIS", "MR"],))]),
        ])
    patient = get_or_404(session, Patient, uuid.UUID(ids["patient_id"]), "patient")
    return build_message([_msh(peer, row, "ADT_A01"), ("EVN", [trigger, _ts(now())]), ("PID", _pid(patient)),
                          ("PV1", ["1", "O"])])


# --- delivery (worker) --------------------------------------------------------------------------------


class Reply(NamedTuple):
    code: str  # MSA-1 of a readable ACK to this message, else ''
    error: str  # why it is not AA ('' for AA)
    ack: str = ""  # the block the peer answered with, as text ('' when none came)


ACK_CHARS = 65536  # an ACK is a few hundred characters; a peer answering with more is cut here


def _text(block: bytes) -> str:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = block.decode("latin-1")  # as the parser reads it
    return text.replace("\x00", "")[:ACK_CHARS]  # a NUL is never text; PostgreSQL cannot store it


def send(host: str, port: int, message: str, control_id: str, timeout: float) -> Reply:
    """Send one message over MLLP; the ACK code or '', the error text and the ACK as received.
    Never raises for the network."""
    decoder = MllpDecoder(max_size=1024 * 1024)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(mllp_frame(message))
            blocks: list[bytes] = []
            while not blocks:
                chunk = sock.recv(65536)
                if not chunk:
                    return Reply("", "the peer closed the connection without an ACK")
                blocks = decoder.feed(chunk)
    except (OSError, ValueError) as exc:  # refused, reset, timeout (OSError), oversized block
        return Reply("", f"{type(exc).__name__}: {exc}"[:500])
    raw = _text(blocks[0])
    try:
        ack = parse_message(blocks[0])
    except HL7ParseError as exc:
        return Reply("", f"unreadable ACK: {exc}"[:500], raw)
    if ack.get("MSA-2") and ack.get("MSA-2") != control_id:
        return Reply("", f"the ACK answers {ack.get('MSA-2')[:40]!r}, not {control_id!r}", raw)
    code = ack.get("MSA-1")
    return Reply(code, "" if code == "AA" else (ack.get("ERR-8") or ack.get("MSA-3") or f"ACK {code}")[:500], raw)


def deliver(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler: send one outbound row; record the attempt; raise to be retried."""
    if org_id is None:
        return
    mid = uuid.UUID(payload["message_id"])
    with session_scope(org_id) as s:
        row = s.scalars(select(Hl7Outbound).where(Hl7Outbound.org_id == org_id, Hl7Outbound.id == mid)).first()
        if row is None or row.status != "pending":
            return
        peer = next((p for p in peers(org_id) if p.facility == row.peer), None)
        if peer is None:
            row.status, row.last_error = "dead", "the peer is no longer configured (or disabled)"
            return
        try:
            message = build(s, peer, row)
        except ProblemError as exc:
            row.status, row.last_error = "dead", f"cannot build the message: {exc.detail}"[:500]
            return
        control_id = row.control_id
    code, error, ack = send(peer.host, peer.port, message, control_id, peer.timeout)
    with session_scope(org_id) as s:
        row = s.scalars(select(Hl7Outbound).where(Hl7Outbound.org_id == org_id, Hl7Outbound.id == mid)).one()
        row.attempts += 1
        # The ACK of this attempt only: one from an earlier attempt would read as this one's.
        row.sent, row.last_ack_code, row.last_error, row.last_ack = message, code, error, ack
        if code == "AA":
            row.status, row.delivered_at = "delivered", now()
        elif row.attempts >= peer.max_attempts:
            row.status = "dead"
            log.error("hl7: %s to %s dead after %d attempts: %s", row.event, row.peer, row.attempts, error)
        attempts, dead = row.attempts, row.status == "dead"
    if code != "AA" and not dead:
        raise DeliveryFailed(f"HL7 {mid} attempt {attempts}: {error or code}")


def requeue(org_id: uuid.UUID, message_id: uuid.UUID, ctx: Context | None = None) -> None:
    """Send a dead (or delivered) message again, from attempt 0 (an operator's replay). A pending
    one is refused (409): it is queued already, and a second delivery job would send it twice.
    With `ctx` (the screen, the API) the resend is audited in the same transaction."""
    with session_scope(org_id) as s:
        row = get_or_404(s, Hl7Outbound, message_id, "HL7 outbound message")
        if row.status == "pending":
            raise ProblemError("This message is queued already (pending); it is sent again by itself",
                               field="message_id", status=409, type="conflict")
        row.status, row.attempts = "pending", 0
        outbox.emit(s, DELIVER_TOPIC, {"message_id": str(row.id)}, org_id=org_id)
        if ctx is not None:
            audit.record(s, ctx, "hl7_outbound.resend", "hl7_outbound", row.id, patient_id=patient_of(s, row),
                         detail={"event": row.event, "peer": row.peer})


def subscribe_all(subscribe: Callable[[str, outbox.Handler], None] = outbox.subscribe) -> None:
    """Wire the event handlers (wiring.py calls this)."""
    for event, source in EVENTS.items():
        subscribe(source.topic, handler_for(event))
    subscribe(DELIVER_TOPIC, deliver)

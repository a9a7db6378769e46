"""HL7 v2 outbound: SIU and ADT to a configured MLLP peer on 127.0.0.1 through the outbox, with
retries, backoff, a dead state, per-organisation peers, loop prevention, and hl7apy-clean messages."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message as Hl7apyMessage
from hl7apy.parser import get_message_info, parse_segments
from sqlalchemy import select, update

from praxis.formats.hl7v2 import MllpDecoder, build_ack, mllp_frame, parse_message
from praxis.interop.hl7 import outbound
from praxis.interop.hl7.inbound import Route
from praxis.interop.hl7.models import Hl7Outbound
from praxis.patients import service as patients
from praxis.patients.merge import merge_patients
from praxis.patients.schemas import PatientCreate, PatientUpdate
from praxis.platform import clock, outbox
from praxis.platform.db import session_scope
from praxis.platform.outbox import OutboxMessage
from praxis.scheduling import service as scheduling
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world


class Peer:
    """An MLLP peer on 127.0.0.1 that answers each message with the next code of `script` (the last
    one repeats): AA, AE or AR, or "drop" (close without answering)."""

    def __init__(self, *script: str) -> None:
        self.script = list(script) or ["AA"]
        self.received: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                decoder = MllpDecoder()
                blocks: list[bytes] = []
                while not blocks:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    blocks = decoder.feed(chunk)
                for block in blocks:
                    text = block.decode()
                    self.received.append(text)
                    code = self.script[min(len(self.received), len(self.script)) - 1]
                    if code == "drop":
                        continue
                    ack = build_ack(parse_message(text), code, control_id=f"ACK{len(self.received)}",
                                    at=datetime.now(UTC), text="" if code == "AA" else "peer says no")
                    conn.sendall(mllp_frame(ack))

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        self.sock.close()

    def config(self, events: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        return {"outbound": {"host": "127.0.0.1", "port": self.port, "events": events or ["SIU", "ADT"],
                             "receiving_application": "EHRApp", "timeout_seconds": 5, **extra}}


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    made: list[Peer] = []
    yield made
    for p in made:
        p.close()
    outbound.configure(None)


def peer(peers: list[Peer], *script: str) -> Peer:
    p = Peer(*script)
    peers.append(p)
    return p


def hl7apy_strict(text: str) -> Any:
    encoding, _, version = get_message_info(text)
    structure = parse_message(text).structure
    msg = Hl7apyMessage(structure, version=version, validation_level=VALIDATION_LEVEL.STRICT, encoding_chars=encoding)
    msg.children = parse_segments(text, version, encoding, VALIDATION_LEVEL.STRICT, msg.reference, True)
    msg.validate()
    return msg


def drain(org: Any, rounds: int = 12) -> None:
    """Run the org's due outbox messages, moving the clock past each backoff, until none is pending.
    Other organisations' messages are parked first so only this test's events run."""
    with session_scope(None, system=True, reason="test: reads what the code under test wrote") as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.org_id != org.id, OutboxMessage.status == "pending")
                  .values(status="done"))
    for _ in range(rounds):
        outbox.run_once()
        with session_scope(None, system=True, reason="test: reads what the code under test wrote") as s:
            pending = s.scalars(select(OutboxMessage.id).where(
                OutboxMessage.org_id == org.id, OutboxMessage.status == "pending",
                OutboxMessage.topic == outbound.DELIVER_TOPIC)).all()
            due = s.scalars(select(OutboxMessage.id).where(
                OutboxMessage.org_id == org.id, OutboxMessage.status == "pending",
                OutboxMessage.available_at <= clock.now())).all()
        if not pending and not due:
            return
        clock.advance(timedelta(hours=1, seconds=1))


def sent(org: Any) -> list[Hl7Outbound]:
    with session_scope(org.id) as s:
        rows = list(s.scalars(select(Hl7Outbound).where(Hl7Outbound.org_id == org.id)
                              .order_by(Hl7Outbound.created_at)))
        s.expunge_all()
        return rows


def book(org: Any, world: Any, hour: int = 10, days: int = 7) -> Any:
    return scheduling.book(world.ctx, patient_id=make_patient(org), visit_type_id=world.visit_id,
                           provider_id=world.provider_id, location_id=org.loc_a.id,
                           start_at=world.local(future_weekday(days), hour))


def test_peer_answering_ae_twice_then_aa_gets_the_booking_once_in_three_attempts(org: Any, peers: list[Peer]
                                                                                 ) -> None:
    ehr = peer(peers, "AE", "AE", "AA")
    outbound.configure({"EHR1": Route(org.id, org.loc_a.id, ehr.config(["SIU"]))})
    appt = book(org, make_world(org))
    drain(org)
    assert len(ehr.received) == 3
    control_ids = {parse_message(m).control_id for m in ehr.received}
    assert len(control_ids) == 1  # one message, resent: the peer can drop repeats
    msg = parse_message(ehr.received[-1])
    assert (msg.message_type, msg.trigger_event, msg.get("SCH-2.1")) == ("SIU", "S12", str(appt.id))
    (row,) = sent(org)
    assert (row.status, row.attempts, row.last_ack_code, row.event) == ("delivered", 3, "AA", "SIU^S12")
    hl7apy_strict(ehr.received[-1])
    ack = parse_message(row.last_ack)  # the last attempt's ACK, as the peer sent it
    assert (ack.get("MSA-1"), ack.get("MSA-2"), ack.control_id) == ("AA", row.control_id, "ACK3")


@pytest.mark.parametrize("script", [("AR",), ("drop",), ("closed",)])
def test_peer_that_always_refuses_ends_dead(org: Any, peers: list[Peer], script: tuple[str, ...]) -> None:
    ehr = peer(peers, *(("AA",) if script == ("closed",) else script))
    cfg = ehr.config(["SIU"], max_attempts=3)
    if script == ("closed",):
        with socket.socket() as unused:  # a port nothing listens on: connection refused
            unused.bind(("127.0.0.1", 0))
            cfg["outbound"]["port"] = unused.getsockname()[1]
    outbound.configure({"EHR1": Route(org.id, org.loc_a.id, cfg)})
    book(org, make_world(org))
    drain(org)
    (row,) = sent(org)
    assert (row.status, row.attempts) == ("dead", 3)
    assert row.last_error
    assert len(ehr.received) == (0 if script == ("closed",) else 3)
    if script == ("AR",):
        assert parse_message(row.last_ack).get("MSA-1") == "AR" and "peer says no" in row.last_ack
    else:
        assert row.last_ack == ""  # nothing came back


def test_org_a_events_never_go_to_org_b_peer(org: Any, other_org: Any, peers: list[Peer]) -> None:
    a_peer, b_peer = peer(peers, "AA"), peer(peers, "AA")
    outbound.configure({"A-EHR": Route(org.id, org.loc_a.id, a_peer.config()),
                        "B-EHR": Route(other_org.id, other_org.loc_a.id, b_peer.config())})
    book(org, make_world(org))
    drain(org)
    assert len(a_peer.received) == 1 and b_peer.received == []
    assert sent(other_org) == []


def test_every_event_we_send_parses_under_hl7apy_strict(org: Any, peers: list[Peer]) -> None:
    ehr = peer(peers, "AA")
    outbound.configure({"EHR1": Route(org.id, org.loc_a.id, ehr.config())})
    world = make_world(org)
    moved = book(org, world, hour=10)
    scheduling.reschedule(world.ctx, moved.id, start_at=world.local(future_weekday(8), 11))
    cancelled = book(org, world, hour=13)
    scheduling.cancel(world.ctx, cancelled.id, reason="patient called")
    modified = book(org, world, hour=15)
    scheduling.change_visit_type(world.ctx, modified.id, visit_type_id=world.new_visit_id)
    missed = book(org, world, hour=9, days=1)
    registered = patients.register_patient(world.ctx, PatientCreate(
        first_name="Ana", last_name="Sent", dob=date(1990, 2, 3), sex="F", address_line1="1 Main St",
        city="Albany", state="NY", postal_code="12207"), location_id=org.loc_a.id)
    patients.update_patient(world.ctx, registered.id, PatientUpdate(city="Troy"))
    twin = patients.register_patient(world.ctx, PatientCreate(first_name="Ana", last_name="Sent", dob=date(1990, 2, 3),
                                                              confirm_duplicate=True), location_id=org.loc_a.id)
    merge_patients(world.ctx, registered.id, twin.id, "duplicate")
    clock.advance(timedelta(days=2))  # past the start of `missed`
    scheduling.change_status(world.ctx, missed.id, "no_show")
    drain(org)
    events = sorted(f"{m.message_type}^{m.trigger_event}" for m in map(parse_message, ehr.received))
    assert events == sorted(["SIU^S12", "SIU^S12", "SIU^S12", "SIU^S12", "SIU^S13", "SIU^S14", "SIU^S15",
                             "SIU^S26", "ADT^A04", "ADT^A04", "ADT^A08", "ADT^A40"])
    for text in ehr.received:
        hl7apy_strict(text)
    s14 = next(parse_message(m) for m in ehr.received if "|SIU^S14^" in m)
    assert s14.get("MSH-9.3") == "SIU_S12" and s14.get("SCH-2.1") == str(modified.id)
    assert s14.get("SCH-6.1") == "Modified" and s14.get("AIS-3.2") == "New patient"
    assert (s14.get("SCH-9"), s14.get("AIS-7")) == ("60", "60")  # the new visit type's length
    assert s14.get("TQ1-8") == outbound._ts(modified.start_at + timedelta(minutes=60))
    assert hl7apy_strict(next(m for m in ehr.received if "|SIU^S14^" in m)).msh.msh_9.msh_9_2.value == "S14"
    a08 = next(parse_message(m) for m in ehr.received if "|ADT^A08^" in m)
    assert a08.get("PID-11.3") == "Troy"
    a40 = next(parse_message(m) for m in ehr.received if "|ADT^A40^" in m)
    assert a40.get("MRG-1.1") == twin.mrn and a40.get("PID-3.1") == registered.mrn
    assert all(r.status == "delivered" for r in sent(org))


def test_changes_from_a_peer_are_not_echoed_back_to_it(org: Any, peers: list[Peer]) -> None:
    from tests.integration.interop.test_hl7_siu import make_clinic, sample, send, set_clock

    set_clock(datetime(2021, 9, 14, 9, 20, tzinfo=UTC))
    clinic = make_clinic(org, "1210")
    source, other = peer(peers, "AA"), peer(peers, "AA")
    routes = {"GHHSFacility": Route(org.id, org.loc_a.id, {**clinic.route.options, **source.config()}),
              "LAB": Route(org.id, org.loc_a.id, other.config())}
    outbound.configure(routes)
    clinic.route = routes["GHHSFacility"]
    (ack,) = send(clinic, sample("fc_SIU-S12-01.hl7"))
    assert ack.get("MSA-1") == "AA"
    drain(org)
    assert source.received == []  # the booking (and the patient it registered) came from there
    assert sorted(parse_message(m).trigger_event for m in other.received) == ["A04", "S12"]
    # Its S14 giving the visit another type: applied, told to the other peer, not echoed back.
    (ack,) = send(clinic, sample("fc_SIU-S14-01.hl7", **{
        "76164006^Biopsy of colon (procedure)^SCT^1212^Biopsy": "CHECKUP^Annual checkup^L"}))
    assert ack.get("MSA-1") == "AA", ack.encode()
    drain(org)
    assert source.received == []
    assert sorted(parse_message(m).trigger_event for m in other.received) == ["A04", "S12", "S14"]
    assert parse_message(other.received[-1]).get("AIS-3.1") == "CHECKUP"
    # A change made here to that appointment does go back to the source.
    with session_scope(org.id) as s:
        from praxis.scheduling.models import Appointment

        appt_id: uuid.UUID = s.scalars(select(Appointment.id).where(Appointment.org_id == org.id)).one()
    from praxis.platform.context import system_context
    from praxis.scheduling.models import VisitType

    with session_scope(org.id) as s:
        biopsy = s.scalars(select(VisitType.id).where(VisitType.org_id == org.id, VisitType.code == "76164006")).one()
    desk = system_context(org.id, "front desk")
    scheduling.change_visit_type(desk, appt_id, visit_type_id=biopsy)
    scheduling.cancel(desk, appt_id, reason="clinic closed")
    drain(org)
    assert sorted(parse_message(m).trigger_event for m in source.received) == ["S14", "S15"]


def test_a_dead_message_is_listed_and_resent_from_the_cli(org: Any, peers: list[Peer]) -> None:
    from typer.testing import CliRunner

    from praxis.cli import app

    ehr = peer(peers, "AR")
    outbound.configure({"EHR1": Route(org.id, org.loc_a.id, ehr.config(["SIU"], max_attempts=2))})
    book(org, make_world(org))
    drain(org)
    (row,) = sent(org)
    assert row.status == "dead"
    listed = CliRunner().invoke(app, ["hl7", "outbound", "--org", org.slug, "--status", "dead"])
    assert listed.exit_code == 0 and str(row.id) in listed.output and "SIU^S12" in listed.output
    ehr.script = ["AA"]  # the peer was fixed
    resent = CliRunner().invoke(app, ["hl7", "resend", str(row.id), "--org", org.slug])
    assert resent.exit_code == 0, resent.output
    drain(org)
    (after,) = sent(org)
    assert (after.status, after.attempts, len(ehr.received)) == ("delivered", 1, 3)


def _adt(event: str, family: str, control_id: str) -> bytes:
    from praxis.formats.hl7v2 import build_message

    return build_message([
        ("MSH", ["EHRApp", "EHRFAC", "PRAXIS", "CLINIC", "20261207090000", None, ["ADT", event, "ADT_A01"],
                 control_id, "P", "2.5"]),
        ("EVN", [event, "20261207090000"]),
        ("PID", ["1", None, ["L-1", None, None, "EHRFAC", "MR"], None, [family, "Ann"], None, "19800102", "F"]),
        ("PV1", ["1", "O"]),
    ]).encode()


def _from_the_ehr(org: Any, peers: list[Peer]) -> tuple[Peer, dict[str, Route], uuid.UUID]:
    """A peer that is also the sender of ADT, and the patient its A04 registered (not echoed)."""
    from praxis.interop.hl7.inbound import receive
    from praxis.interop.hl7.models import Hl7PatientLink

    ehr = peer(peers, "AA")
    routes = {"EHRFAC": Route(org.id, org.loc_a.id, ehr.config(["ADT"]))}
    outbound.configure(routes)
    assert parse_message(receive(_adt("A04", "Origin", "O-1"), routes) or "").get("MSA-1") == "AA"
    drain(org)
    assert ehr.received == []
    with session_scope(org.id) as s:
        patient_id = s.scalars(select(Hl7PatientLink.patient_id).where(Hl7PatientLink.org_id == org.id)).one()
    return ehr, routes, patient_id


def test_a_change_made_here_reaches_the_peer_though_the_peers_own_change_came_after(org: Any,
                                                                                   peers: list[Peer]) -> None:
    # The origin travels with the event: the worker reaching the desk's change after the EHR's A08
    # was applied must not take the EHR's (later) audit row for the origin of the desk's change.
    from praxis.interop.hl7.inbound import receive
    from praxis.platform.context import system_context

    ehr, routes, patient_id = _from_the_ehr(org, peers)
    clock.advance(timedelta(minutes=1))
    patients.update_patient(system_context(org.id, "front desk"), patient_id, PatientUpdate(city="Troy"))
    clock.advance(timedelta(minutes=1))
    assert parse_message(receive(_adt("A08", "Renamed", "O-2"), routes) or "").get("MSA-1") == "AA"
    drain(org)
    (a08,) = [parse_message(m) for m in ehr.received]
    assert a08.trigger_event == "A08" and a08.get("PID-3.4") == "PRAXIS"  # (built from the data as it is now)
    assert [(r.event, r.payload["patient_id"]) for r in sent(org)] == [("ADT^A08", str(patient_id))]


def test_the_peers_change_is_not_echoed_though_a_change_made_here_came_after(org: Any, peers: list[Peer]) -> None:
    from praxis.interop.hl7.inbound import receive
    from praxis.platform.context import system_context

    ehr, routes, patient_id = _from_the_ehr(org, peers)
    clock.advance(timedelta(minutes=1))
    assert parse_message(receive(_adt("A08", "Renamed", "O-2"), routes) or "").get("MSA-1") == "AA"
    clock.advance(timedelta(minutes=1))
    patients.update_patient(system_context(org.id, "front desk"), patient_id, PatientUpdate(city="Troy"))
    drain(org)
    assert [parse_message(m).trigger_event for m in ehr.received] == ["A08"]  # the desk's change only
    with session_scope(org.id) as s:
        events = s.scalars(select(OutboxMessage.payload).where(OutboxMessage.org_id == org.id,
                                                               OutboxMessage.topic == "patient.updated")
                           .order_by(OutboxMessage.created_at)).all()
    assert [e["origin"] for e in events] == ["hl7:EHRApp|EHRFAC", "front desk"]


def test_an_event_queued_without_its_origin_falls_back_to_the_audit(org: Any, peers: list[Peer]) -> None:
    # Events queued before they carried `origin` (an upgrade with a backlog) still reach fan_out.
    from praxis.interop.hl7.inbound import receive

    _ehr, routes, patient_id = _from_the_ehr(org, peers)
    assert parse_message(receive(_adt("A08", "Renamed", "O-2"), routes) or "").get("MSA-1") == "AA"
    drain(org)
    legacy = {"patient_id": str(patient_id), "fields": ["last_name"], "at": clock.now().isoformat()}
    outbound.fan_out("ADT^A08", org.id, legacy)  # the EHR's change by its latest audit row: not sent
    assert sent(org) == []
    outbound.fan_out("ADT^A08", org.id, {**legacy, "origin": ""})  # ours
    assert [r.event for r in sent(org)] == ["ADT^A08"]


def test_the_detail_shows_the_message_as_sent_and_the_ack_received(org: Any, peers: list[Peer], bearer: Any
                                                                  ) -> None:
    from praxis.platform.audit import AuditRecord

    ehr = peer(peers, "AA")
    outbound.configure({"EHR1": Route(org.id, org.loc_a.id, ehr.config(["SIU"]))})
    world = make_world(org)
    appt = book(org, world)
    scheduling.reschedule(world.ctx, appt.id, start_at=world.local(future_weekday(8), 11))
    drain(org)
    s13 = next(r for r in sent(org) if r.event == "SIU^S13")
    assert "patient_id" not in s13.payload  # the reschedule event names the appointment only
    body = bearer(org, ["interop:hl7"]).get(f"/api/v1/hl7/outbound/{s13.id}").json()
    assert body["sent"] == next(m for m in ehr.received if parse_message(m).control_id == s13.control_id)
    hl7apy_strict(body["sent"])
    assert parse_message(body["ack"]).get("MSA-2") == s13.control_id and body["last_ack_code"] == "AA"
    assert (body["source_event"], body["patient_id"], body["status"]) == (
        "scheduling.appointment_rescheduled", str(appt.patient_id), "delivered")
    with session_scope(org.id) as s:
        (read,) = s.scalars(select(AuditRecord).where(AuditRecord.org_id == org.id,
                                                      AuditRecord.action == "hl7_outbound.read")).all()
        assert (read.resource_id, read.patient_id) == (str(s13.id), appt.patient_id)

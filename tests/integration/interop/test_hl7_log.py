"""The HL7 message logs over the API: filters, keyset paging, the audited detail with the raw
message, replay after the fix (AE, then the A04 registers the patient, then AA), 409 for a
processed one, a replay not made when its audit row cannot be written, resend of a dead outbound
row, an outbound message's audited detail, and another organisation seeing nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from praxis.formats.hl7v2 import build_message, parse_message
from praxis.interop.hl7.inbound import Route, receive
from praxis.interop.hl7.models import Hl7Message, Hl7Outbound
from praxis.platform import clock
from praxis.platform.audit import AuditRecord
from praxis.platform.db import session_scope
from praxis.platform.errors import ProblemError
from praxis.platform.outbox import OutboxMessage

FACILITY = "Northside"


def adt(event: str, ext_id: str, family: str, control_id: str, facility: str = FACILITY) -> bytes:
    return build_message([
        ("MSH", ["EHR", facility, "PRAXIS", "CLINIC", "20261207090000", None, ["ADT", event, "ADT_A01"],
                 control_id, "P", "2.5"]),
        ("EVN", [event, "20261207090000"]),
        ("PID", ["1", None, [ext_id, None, None, "NSH", "MR"], None, [family, "Ann"], None, "19800102", "F"]),
        ("PV1", ["1", "O"]),
    ]).encode()


def deliver(org: Any, *blocks: bytes, facility: str = FACILITY) -> list[str]:
    routes = {facility: Route(org.id, org.loc_a.id)}
    return [parse_message(receive(b, routes) or "").get("MSA-1") for b in blocks]


def _row(org: Any, control_id: str) -> Hl7Message:
    with session_scope(org.id) as s:
        row = s.scalars(select(Hl7Message).where(Hl7Message.org_id == org.id,
                                                 Hl7Message.control_id == control_id)).one()
        s.expunge(row)
        return row


def _audits(org: Any, action: str) -> list[AuditRecord]:
    with session_scope(org.id) as s:
        rows = list(s.scalars(select(AuditRecord).where(AuditRecord.org_id == org.id, AuditRecord.action == action)))
        s.expunge_all()
        return rows


def test_a_failed_update_replays_to_aa_after_the_registration(org: Any, bearer: Any) -> None:
    c = bearer(org, ["interop:hl7"])
    assert deliver(org, adt("A08", "X-1", "Early", "EARLY-1")) == ["AE"]
    failed = c.get("/api/v1/hl7/messages", params={"status": "failed"}).json()
    assert [(m["control_id"], m["message_type"], m["status"], m["ack_code"], m["attempts"]) for m in failed] == [
        ("EARLY-1", "ADT^A08", "failed", "AE", 1)]
    assert failed[0]["error"] and "raw" not in failed[0] and "ack" not in failed[0]  # the list carries no PHI text
    assert failed[0]["sender"] == f"EHR|{FACILITY}" and failed[0]["patient_id"] is None

    assert deliver(org, adt("A04", "X-1", "Early", "REG-1")) == ["AA"]
    r = c.post(f"/api/v1/hl7/messages/{failed[0]['id']}/replay")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ack_code"] == "AA" and "MSA|AA|EARLY-1" in body["ack"]
    assert body["message"]["status"] == "processed" and body["message"]["attempts"] == 2
    registered = _row(org, "REG-1").patient_id
    assert registered is not None and body["message"]["patient_id"] == str(registered)
    replays = _audits(org, "hl7_message.replay")
    assert [(a.resource_id, a.patient_id) for a in replays] == [(failed[0]["id"], registered)]

    again = c.post(f"/api/v1/hl7/messages/{failed[0]['id']}/replay")
    assert again.status_code == 409 and "processed already" in again.json()["detail"]
    assert _row(org, "EARLY-1").attempts == 2  # the refusal changed nothing


def test_detail_holds_the_raw_message_and_ack_and_is_audited(org: Any, bearer: Any) -> None:
    c = bearer(org, ["interop:hl7"])
    deliver(org, adt("A04", "D-1", "Detail", "DET-1"))
    row = _row(org, "DET-1")
    assert _audits(org, "hl7_message.read") == []
    r = c.get(f"/api/v1/hl7/messages/{row.id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["raw"] == row.raw and "PID|1||D-1^^^NSH^MR||Detail^Ann" in body["raw"]
    assert body["ack"].startswith("MSH|") and "MSA|AA|DET-1" in body["ack"]
    (read,) = _audits(org, "hl7_message.read")
    assert read.resource_id == str(row.id) and read.patient_id == row.patient_id is not None
    assert c.get(f"/api/v1/hl7/messages/{uuid.uuid4()}").status_code == 404
    assert c.get("/api/v1/hl7/messages/not-an-id").status_code == 404


def test_filters_and_paging(org: Any, bearer: Any) -> None:
    c = bearer(org, ["interop:hl7"])
    deliver(org, adt("A04", "F-1", "One", "F-1"))
    clock.advance(timedelta(minutes=5))
    t = clock.now()
    deliver(org, adt("A08", "F-2", "Two", "F-2"))  # unknown patient: failed
    deliver(org, adt("A04", "F-3", "Three", "F-3", facility="Southside"), facility="Southside")

    def ids(**params: Any) -> list[str]:
        r = c.get("/api/v1/hl7/messages", params=params)
        assert r.status_code == 200, r.text
        return [m["control_id"] for m in r.json()]

    assert ids() == ["F-3", "F-2", "F-1"]  # newest first
    assert ids(status="failed") == ["F-2"]
    assert ids(message_type="ADT^A04") == ["F-3", "F-1"] and ids(message_type="ADT") == ["F-3", "F-2", "F-1"]
    assert ids(message_type="SIU") == []
    assert ids(sender="Southside") == ["F-3"] and ids(sender=f"EHR|{FACILITY}") == ["F-2", "F-1"]
    assert ids(received_since=t.isoformat()) == ["F-3", "F-2"]
    assert ids(received_until=t.isoformat()) == ["F-1"]
    assert ids(updated_since=t.isoformat()) == ["F-3", "F-2"]

    for params, field in [({"status": "done"}, "status"), ({"message_type": "adt^a08"}, "message_type"),
                          ({"received_since": t.isoformat(), "received_until": (t - timedelta(1)).isoformat()},
                           "received_until")]:
        r = c.get("/api/v1/hl7/messages", params=params)
        assert r.status_code == 422 and field in r.text, (params, r.text)

    first = c.get("/api/v1/hl7/messages", params={"limit": 2})
    assert [m["control_id"] for m in first.json()] == ["F-3", "F-2"]
    nxt = first.headers["Link"].split(";")[0].strip("<>")
    assert 'rel="next"' in first.headers["Link"]
    second = c.get(nxt)
    assert [m["control_id"] for m in second.json()] == ["F-1"] and "Link" not in second.headers

    # An old message replayed now is changed since T: updated_since finds it though received before.
    clock.advance(timedelta(minutes=5))
    t2 = clock.now()
    assert ids(updated_since=t2.isoformat()) == []
    assert c.post(f"/api/v1/hl7/messages/{_row(org, 'F-2').id}/replay").json()["ack_code"] == "AE"  # still unknown
    assert ids(updated_since=t2.isoformat()) == ["F-2"]


def _outbound(org: Any, status: str = "dead", event: str = "ADT^A04", **extra: Any) -> uuid.UUID:
    values: dict[str, Any] = {"payload": {"patient_id": str(uuid.uuid4())}, "attempts": 5,
                              "last_error": "ConnectionRefusedError: [Errno 111] Connection refused", **extra}
    with session_scope(org.id) as s:
        row = Hl7Outbound(org_id=org.id, peer="LAB", event=event, control_id=f"PX{uuid.uuid4().hex[:18]}",
                          status=status, **values)
        s.add(row)
        s.flush()
        return row.id


def test_outbound_list_and_resend_of_a_dead_row(org: Any, bearer: Any) -> None:
    c = bearer(org, ["interop:hl7"])
    dead = _outbound(org, sent="MSH|^~\\&|PRAXIS|PRAXIS|LAB|LAB|x||ADT^A04|PX1|P|2.5.1\rPID|1||SECRET-MRN")
    pending = _outbound(org, status="pending", event="SIU^S12")
    listed = c.get("/api/v1/hl7/outbound").json()
    assert [(o["id"], o["status"]) for o in listed] == [(str(pending), "pending"), (str(dead), "dead")]
    assert "SECRET-MRN" not in str(listed) and "sent" not in listed[0]
    assert [o["id"] for o in c.get("/api/v1/hl7/outbound", params={"status": "dead"}).json()] == [str(dead)]
    assert [o["id"] for o in c.get("/api/v1/hl7/outbound", params={"event": "SIU"}).json()] == [str(pending)]
    assert c.get("/api/v1/hl7/outbound", params={"peer": "ELSEWHERE"}).json() == []
    assert c.get("/api/v1/hl7/outbound", params={"status": "lost"}).status_code == 422

    t = clock.now()
    clock.advance(timedelta(seconds=1))
    r = c.post(f"/api/v1/hl7/outbound/{dead}/resend")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
    assert [o["id"] for o in c.get("/api/v1/hl7/outbound",
                                   params={"updated_since": (t + timedelta(seconds=1)).isoformat()}).json()] == [
        str(dead)]
    with session_scope(org.id) as s:
        queued = s.scalars(select(OutboxMessage.payload).where(OutboxMessage.org_id == org.id,
                                                               OutboxMessage.topic == "interop.hl7_deliver")).all()
    assert {"message_id": str(dead)} in queued
    (audit_row,) = _audits(org, "hl7_outbound.resend")
    assert audit_row.resource_id == str(dead) and audit_row.detail["event"] == "ADT^A04"
    again = c.post(f"/api/v1/hl7/outbound/{dead}/resend")
    assert again.status_code == 409 and "queued already" in again.json()["detail"]


def test_outbound_detail_holds_the_message_as_sent_and_the_ack_and_is_audited(org: Any, bearer: Any) -> None:
    c = bearer(org, ["interop:hl7"])
    patient = str(uuid.uuid4())
    sent = "MSH|^~\\&|PRAXIS|PRAXIS|LAB|LAB|20261207090000||ADT^A04^ADT_A01|PX1|P|2.5.1\rPID|1||SECRET-MRN^^^PRAXIS^MR"
    ack = ("MSH|^~\\&|LAB|LAB|PRAXIS|PRAXIS|20261207090001||ACK^A04^ACK|A1|P|2.5.1\rMSA|AE|PX1\r"
           "ERR||PID^1^3|204^x^HL70357|E")
    dead = _outbound(org, sent=sent, last_ack=ack, last_ack_code="AE", payload={"patient_id": patient})
    assert _audits(org, "hl7_outbound.read") == []
    r = c.get(f"/api/v1/hl7/outbound/{dead}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["sent"], body["ack"], body["last_ack_code"], body["status"]) == (sent, ack, "AE", "dead")
    assert (body["source_event"], body["patient_id"], body["peer"], body["event"]) == (
        "patient.registered", patient, "LAB", "ADT^A04")
    assert body["last_error"].startswith("ConnectionRefusedError") and body["payload"] == {"patient_id": patient}
    (read,) = _audits(org, "hl7_outbound.read")
    assert (read.resource_id, str(read.patient_id), read.actor_type) == (str(dead), patient, "api_client")
    assert read.detail == {"event": "ADT^A04", "peer": "LAB", "status": "dead"}
    # Never sent yet: empty message and ACK, still an audited read.
    pending = _outbound(org, status="pending", attempts=0, last_error="")
    fresh = c.get(f"/api/v1/hl7/outbound/{pending}").json()
    assert (fresh["sent"], fresh["ack"], fresh["attempts"]) == ("", "", 0)
    assert len(_audits(org, "hl7_outbound.read")) == 2
    assert c.get(f"/api/v1/hl7/outbound/{uuid.uuid4()}").status_code == 404
    assert c.get("/api/v1/hl7/outbound/not-an-id").status_code == 404
    assert len(_audits(org, "hl7_outbound.read")) == 2  # a miss reads nothing and records nothing


def test_permission_and_tenancy(org: Any, other_org: Any, bearer: Any) -> None:
    deliver(org, adt("A08", "T-1", "Theirs", "T-1"))
    row = _row(org, "T-1")
    dead = _outbound(org, sent="MSH|^~\\&|PRAXIS|PRAXIS|LAB|LAB|x||ADT^A04|PX1|P|2.5.1\rPID|1||THEIR-MRN")
    assert bearer(org, ["webhooks:manage"]).get("/api/v1/hl7/messages").status_code == 403
    other = bearer(other_org, ["interop:hl7"])
    assert other.get("/api/v1/hl7/messages").json() == [] and other.get("/api/v1/hl7/outbound").json() == []
    assert other.get(f"/api/v1/hl7/messages/{row.id}").status_code == 404
    assert other.post(f"/api/v1/hl7/messages/{row.id}/replay").status_code == 404
    assert other.post(f"/api/v1/hl7/outbound/{dead}/resend").status_code == 404
    missing = other.get(f"/api/v1/hl7/outbound/{dead}")
    assert missing.status_code == 404 and "THEIR-MRN" not in missing.text
    assert bearer(org, ["webhooks:manage"]).get(f"/api/v1/hl7/outbound/{dead}").status_code == 403
    assert _row(org, "T-1").attempts == 1 and _audits(other_org, "hl7_message.read") == []
    assert _audits(other_org, "hl7_outbound.read") == [] == _audits(org, "hl7_outbound.read")
    with session_scope(org.id) as s:
        assert s.scalars(select(Hl7Outbound.status).where(Hl7Outbound.org_id == org.id,
                                                          Hl7Outbound.id == dead)).one() == "dead"


def test_cli_resend_refuses_a_pending_row_and_queues_a_dead_one(org: Any) -> None:
    from typer.testing import CliRunner

    from praxis.cli import app

    pending, dead = _outbound(org, status="pending"), _outbound(org)
    refused = CliRunner().invoke(app, ["hl7", "resend", str(pending), "--org", org.slug])
    assert refused.exit_code != 0 and "queued already" in refused.output
    done = CliRunner().invoke(app, ["hl7", "resend", str(dead), "--org", org.slug])
    assert done.exit_code == 0 and "queued" in done.output, done.output
    with session_scope(org.id) as s:
        assert s.scalars(select(Hl7Outbound.status).where(Hl7Outbound.org_id == org.id,
                                                          Hl7Outbound.id == dead)).one() == "pending"


class AuditDown(RuntimeError):
    pass


def _failing_replay_audit(monkeypatch: Any) -> None:
    """Writing the `hl7_message.replay` audit row fails; every other audit row is written."""
    from praxis.platform import audit

    original = audit.record

    def record(session: Any, ctx: Any, action: str, *args: Any, **kwargs: Any) -> None:
        if action == "hl7_message.replay":
            raise AuditDown("the audit row of who asked could not be written")
        original(session, ctx, action, *args, **kwargs)

    monkeypatch.setattr(audit, "record", record)


def _patient(org: Any, patient_id: uuid.UUID | None) -> Any:
    from praxis.patients.models import Patient

    with session_scope(org.id) as s:
        p = s.scalars(select(Patient).where(Patient.org_id == org.id, Patient.id == patient_id)).one()
        s.expunge(p)
        return p


def _topic(org: Any, topic: str) -> int:
    with session_scope(org.id) as s:
        return len(s.scalars(select(OutboxMessage.id).where(OutboxMessage.org_id == org.id,
                                                            OutboxMessage.topic == topic)).all())


def test_a_replay_whose_audit_row_fails_is_not_made(org: Any, bearer: Any, monkeypatch: Any) -> None:
    # An A08 (one transaction with its audit): nothing of the replay is committed without the
    # record of who asked for it, neither the message's outcome nor the patient's change.
    c = bearer(org, ["interop:hl7"])
    assert deliver(org, adt("A08", "R-1", "After", "R-UPD")) == ["AE"]
    assert deliver(org, adt("A04", "R-1", "Before", "R-REG")) == ["AA"]
    failed, registered = _row(org, "R-UPD"), _row(org, "R-REG").patient_id
    updates, events = len(_audits(org, "patient.update")), _topic(org, "patient.updated")

    with monkeypatch.context() as m:
        _failing_replay_audit(m)
        assert c.post(f"/api/v1/hl7/messages/{failed.id}/replay").status_code == 500
    after = _row(org, "R-UPD")
    assert (after.status, after.ack_code, after.attempts, after.ack, after.patient_id) == (
        "failed", "AE", 1, failed.ack, None)
    assert _patient(org, registered).last_name == "Before"
    assert len(_audits(org, "patient.update")) == updates and _topic(org, "patient.updated") == events
    assert _audits(org, "hl7_message.replay") == []

    done = c.post(f"/api/v1/hl7/messages/{failed.id}/replay")
    assert done.status_code == 200 and done.json()["ack_code"] == "AA"
    assert _patient(org, registered).last_name == "After" and _row(org, "R-UPD").attempts == 2
    (asked,) = _audits(org, "hl7_message.replay")
    assert asked.actor_type == "api_client" and asked.detail == {"message_type": "ADT^A08", "ack_code": "AA",
                                                                 "attempts": 2}
    assert len(_audits(org, "patient.update")) == updates + 1 and _topic(org, "patient.updated") == events + 1


def a40(survivor: str, merged: str, control_id: str) -> bytes:
    return build_message([
        ("MSH", ["EHR", FACILITY, "PRAXIS", "CLINIC", "20261207090000", None, ["ADT", "A40", "ADT_A39"],
                 control_id, "P", "2.5"]),
        ("EVN", ["A40", "20261207090000"]),
        ("PID", ["1", None, [survivor, None, None, "NSH", "MR"], None, ["Keep", "Ann"], None, "19800102", "F"]),
        ("MRG", [[merged, None, None, "NSH", "MR"]]),
    ]).encode()


def test_a_merge_replay_whose_audit_row_fails_keeps_its_status(org: Any, bearer: Any, monkeypatch: Any) -> None:
    # A40 merges in its own units of work (as at reception): the merge is made, but the message's
    # outcome is recorded with the audit row of who asked or not at all, so the log still says
    # failed; the next replay finds the two merged already and answers AA.
    c = bearer(org, ["interop:hl7"])
    assert deliver(org, adt("A04", "M-1", "Keep", "M-REG1"), a40("M-1", "M-2", "M-MERGE")) == ["AA", "AE"]
    assert deliver(org, adt("A04", "M-2", "Twin", "M-REG2")) == ["AA"]
    failed, twin = _row(org, "M-MERGE"), _row(org, "M-REG2").patient_id
    with monkeypatch.context() as m:
        _failing_replay_audit(m)
        assert c.post(f"/api/v1/hl7/messages/{failed.id}/replay").status_code == 500
    after = _row(org, "M-MERGE")
    assert (after.status, after.attempts, after.ack) == ("failed", 1, failed.ack)
    assert _patient(org, twin).status == "merged" and _audits(org, "hl7_message.replay") == []

    done = c.post(f"/api/v1/hl7/messages/{failed.id}/replay")
    assert done.status_code == 200 and done.json()["ack_code"] == "AA"
    assert (done.json()["message"]["status"], done.json()["message"]["attempts"]) == ("processed", 2)
    assert len(_audits(org, "patient.merge")) == 2  # survivor and merged record: one merge
    assert [a.detail["ack_code"] for a in _audits(org, "hl7_message.replay")] == ["AA"]


def test_a_replay_that_another_finished_meanwhile_is_refused(org: Any, monkeypatch: Any) -> None:
    # Two replays at once: the second passed the first "not processed" check before the first
    # committed. The check is made again under the write lock, so it is 409, not applied twice.
    from praxis.interop.hl7 import inbound

    assert deliver(org, adt("A08", "C-1", "After", "C-UPD")) == ["AE"]
    assert deliver(org, adt("A04", "C-1", "Before", "C-REG")) == ["AA"]
    failed = _row(org, "C-UPD")
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    parse, raced = inbound.parse_message, []

    def parse_then_race(raw: Any) -> Any:
        if not raced:  # the other replay runs to its commit between our check and our apply
            raced.append("")
            raced[0] = inbound.replay(org.id, failed.id, routes)
        return parse(raw)

    monkeypatch.setattr(inbound, "parse_message", parse_then_race)
    with pytest.raises(ProblemError) as refused:
        inbound.replay(org.id, failed.id, routes)
    assert refused.value.status == 409 and "processed already" in refused.value.detail
    assert "MSA|AA|C-UPD" in raced[0]
    assert (_row(org, "C-UPD").status, _row(org, "C-UPD").attempts) == ("processed", 2)
    assert [a.detail["fields"] for a in _audits(org, "patient.update")] == [["last_name"]]

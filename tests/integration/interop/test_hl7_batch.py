"""The listener's group commit (`inbound.receive_many`): one batch, each message its own outcome."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from praxis.formats.hl7v2 import parse_message
from praxis.interop.hl7 import inbound
from praxis.interop.hl7.inbound import Inbound, Route, prepare, receive_many
from praxis.platform.audit import AuditRecord
from praxis.platform.db import session_scope
from praxis.platform.outbox import OutboxMessage
from tests.integration.interop.test_hl7_mllp import _exchange, a04, corpus, patients, stored

FACILITY = "Ntierprise Clinic"


def a08(ext_id: str, family: str, given: str, control_id: str) -> bytes:
    return a04(ext_id, family, given, control_id).replace(b"|A04|", b"|A08|").replace(b"^A04^", b"^A08^")


def batch(routes: dict[str, Route], *blocks: bytes) -> list[str]:
    items = [prepare(b, routes) for b in blocks]
    assert all(isinstance(i, Inbound) for i in items)
    receive_many(items)  # type: ignore[arg-type]
    return [i.ack for i in items]  # type: ignore[union-attr]


def codes(acks: list[str]) -> list[str]:
    return [parse_message(a).get("MSA-1") for a in acks]


def count(org: Any, model: Any, **where: Any) -> int:
    with session_scope(org.id) as s:
        q = select(func.count()).select_from(model).where(model.org_id == org.id)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return int(s.scalar(q) or 0)


def test_a_batch_applies_each_message_once_in_order(org: Any) -> None:
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    acks = batch(routes, a04("1", "Alpha", "Ann", "B-1"), a08("1", "Alpha", "Anna", "B-2"),
                 a04("2", "Beta", "Bob", "B-3"))
    assert codes(acks) == ["AA", "AA", "AA"]
    assert sorted((p.last_name, p.first_name) for p in patients(org)) == [("Alpha", "Anna"), ("Beta", "Bob")]
    assert [r.status for r in stored(org)] == ["processed"] * 3
    assert count(org, AuditRecord, action="patient.create") == 2
    assert count(org, AuditRecord, action="patient.update") == 1
    with session_scope(org.id) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.org_id == org.id, OutboxMessage.topic == "patient.registered")) == 2


def test_one_failing_message_gets_ae_and_changes_nothing_while_the_rest_commit(
        org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A failure after the handler has written (the patient row is flushed): the batch is run
    # again with a savepoint per message, and only that message's writes are undone.
    real = inbound.patients.register_patient_in

    def failing(session: Any, ctx: Any, data: Any, **kw: Any) -> Any:
        patient = real(session, ctx, data, **kw)
        session.flush()
        if data.last_name == "Boom":
            raise RuntimeError("simulated failure after writing")
        return patient

    real_many = inbound.patients.register_patients_in

    def failing_many(session: Any, ctx: Any, drafts: Any, **kw: Any) -> Any:
        # The set-based pass fails after writing too: the savepoint pass takes over.
        results = real_many(session, ctx, drafts, **kw)
        if any(d.last_name == "Boom" for d in drafts):
            raise RuntimeError("simulated failure after writing")
        return results

    monkeypatch.setattr(inbound.patients, "register_patient_in", failing)
    monkeypatch.setattr(inbound.patients, "register_patients_in", failing_many)
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    acks = batch(routes, a04("1", "Good", "Gia", "F-1"), a04("2", "Boom", "Bo", "F-2"), a04("3", "Fine", "Fay", "F-3"))
    assert codes(acks) == ["AA", "AE", "AA"]
    assert parse_message(acks[1]).get("ERR-3.1") == "207"
    assert sorted(p.last_name for p in patients(org)) == ["Fine", "Good"]
    by_control = {r.control_id: r for r in stored(org)}
    assert by_control["F-2"].status == "failed" and by_control["F-2"].raw  # kept raw, for replay
    assert by_control["F-1"].status == by_control["F-3"].status == "processed"
    assert count(org, AuditRecord, action="patient.create") == 2
    with session_scope(org.id) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.org_id == org.id, OutboxMessage.topic == "patient.registered")) == 2
    # Replayed after the fix, it is applied.
    monkeypatch.setattr(inbound.patients, "register_patient_in", real)
    again = inbound.replay(org.id, by_control["F-2"].id, routes)
    assert parse_message(again).get("MSA-1") == "AA"
    assert sorted(p.last_name for p in patients(org)) == ["Boom", "Fine", "Good"]


def test_a_refused_registration_in_a_batch_is_ae_naming_the_problem(org: Any) -> None:
    # A location of another organisation in the route: registration refuses it (NotFound).
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    bad = Route(org.id, uuid.uuid4())
    items = [prepare(a04("1", "Kept", "Kay", "N-1"), routes), prepare(a04("2", "Lost", "Lu", "N-2"), {FACILITY: bad})]
    receive_many(items)  # type: ignore[arg-type]
    assert codes([i.ack for i in items]) == ["AA", "AE"]  # type: ignore[union-attr]
    assert [p.last_name for p in patients(org)] == ["Kept"]


def test_the_same_message_twice_in_one_batch_is_applied_once_with_one_ack(org: Any) -> None:
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    block = a04("1", "Twice", "Tom", "D-1")
    first, second = batch(routes, block, block)
    assert first == second and codes([first]) == ["AA"]
    assert len(patients(org)) == 1 and len(stored(org)) == 1
    # And resent later: the stored ACK, byte for byte.
    (third,) = batch(routes, block)
    assert third == first
    assert stored(org)[0].attempts == 1


def test_a40_in_a_batch_sees_the_registrations_before_it(org: Any) -> None:
    # A40's merge runs in its own units of work: what came before it in the batch commits first.
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    acks = batch(routes, a04("12345", "Test", "Test", "M-1"), a04("56789", "Test", "Tess", "M-2"),
                 corpus("adt_a40/fc_ADT-A40-01.hl7"), a08("12345", "Test", "Testa", "M-4"))
    assert codes(acks) == ["AA", "AA", "AA", "AA"]
    by_status = {p.status: p for p in patients(org)}
    assert by_status["merged"].merged_into_id == by_status["active"].id
    assert by_status["active"].first_name == "Testa"


def test_organisations_in_one_batch_stay_apart(org: Any, other_org: Any) -> None:
    routes = {FACILITY: Route(org.id, org.loc_a.id), "GHHSFacility": Route(other_org.id)}
    acks = batch(routes, a04("1", "Ours", "Olga", "O-1"), corpus("adt_a04/fc_ADT-A04-02.hl7"))
    assert codes(acks) == ["AA", "AA"]
    assert [p.last_name for p in patients(org)] == ["Ours"]
    assert [p.last_name for p in patients(other_org)] == ["EVERYMAN"]


def test_many_connections_at_once_each_get_their_own_acks_in_order(org: Any) -> None:
    routes = {FACILITY: Route(org.id, org.loc_a.id)}

    async def clients() -> list[list[Any]]:
        return list(await asyncio.gather(*(
            _exchange(routes, [a04(f"{c}-{i}", f"Fam{c}", f"Giv{i}", f"C{c}-{i}") for i in range(5)])
            for c in range(6))))

    results = asyncio.run(clients())
    for c, acks in enumerate(results):
        assert [a.get("MSA-2") for a in acks] == [f"C{c}-{i}" for i in range(5)]
        assert {a.get("MSA-1") for a in acks} == {"AA"}
    assert len(patients(org)) == 30
    assert {r.status for r in stored(org)} == {"processed"}


def test_a_batch_reserves_its_mrns_at_once_and_skips_taken_ones(org: Any) -> None:
    from praxis.patients.models import MrnCounter, Patient
    from praxis.patients.service import mrn_format

    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    assert codes(batch(routes, a04("1", "First", "Fi", "R-1"))) == ["AA"]
    with session_scope(org.id) as s:
        counter = s.scalars(select(MrnCounter).where(MrnCounter.org_id == org.id)).one()
        fmt = mrn_format(s, org.id)
        # Someone wrote the next two MRNs without advancing the counter (an import, say).
        first = s.scalars(select(Patient).where(Patient.org_id == org.id)).one()
        taken = fmt.format(counter.last_value + 2)
        first.mrn = taken
    acks = batch(routes, a04("2", "Second", "Se", "R-2"), a04("3", "Third", "Th", "R-3"),
                 a04("4", "Fourth", "Fo", "R-4"), a08("2", "Second", "Sec", "R-5"))
    assert codes(acks) == ["AA"] * 4
    mrns = [p.mrn for p in patients(org)]
    assert len(mrns) == 4 and len(set(mrns)) == 4
    assert mrns.count(taken) == 1


def test_registrations_made_ahead_keep_message_order(org: Any) -> None:
    # The batch registers its new patients set-based first; an A08 before the A04 of its patient
    # still finds the identifier unknown, and one after it updates the new patient.
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    acks = batch(routes, a08("7", "Seven", "Sam", "O-1"), a04("7", "Seven", "Sam", "O-2"),
                 a08("7", "Seven", "Samuel", "O-3"), a04("8", "Eight", "Eve", "O-4"))
    assert codes(acks) == ["AE", "AA", "AA", "AA"]
    assert parse_message(acks[0]).get("ERR-3.1") == "204"
    assert sorted((p.last_name, p.first_name) for p in patients(org)) == [("Eight", "Eve"), ("Seven", "Samuel")]
    assert count(org, AuditRecord, action="patient.create") == 2
    assert count(org, AuditRecord, action="patient.update") == 1


def test_batches_of_registrations_alone_and_updates_alone_read_what_they_need(org: Any) -> None:
    # A batch that only registers reads the links without their patients, so an A04 whose
    # identifier is linked already (an update) loads its patient itself; a batch of updates alone
    # does not read the organisation. Each row's outcome and ACK are the ones sent back.
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    first = batch(routes, a04("21", "Twenty", "Tia", "R-1"))
    acks = batch(routes, a04("21", "Twenty", "Tina", "R-2"), a04("22", "Twentytwo", "Ted", "R-3"))
    updates = batch(routes, a08("21", "Twenty", "Tanja", "R-4"), a08("22", "Twentytwo", "Teddy", "R-5"),
                    a08("23", "Unknown", "Una", "R-6"))
    assert codes(first + acks + updates) == ["AA", "AA", "AA", "AA", "AA", "AE"]
    assert sorted((p.last_name, p.first_name) for p in patients(org)) == [("Twenty", "Tanja"),
                                                                         ("Twentytwo", "Teddy")]
    assert count(org, AuditRecord, action="patient.create") == 2
    assert count(org, AuditRecord, action="patient.update") == 3
    rows = {r.control_id: r for r in stored(org)}
    by_patient = {p.last_name: p.id for p in patients(org)}
    for control_id, ack in zip(["R-1", "R-2", "R-3", "R-4", "R-5", "R-6"], first + acks + updates, strict=True):
        row = rows[control_id]
        assert (row.ack, row.ack_code, row.attempts) == (ack, parse_message(ack).get("MSA-1"), 1)
        assert row.processed_at is not None
    assert [rows[c].status for c in ("R-4", "R-5", "R-6")] == ["processed", "processed", "failed"]
    assert rows["R-2"].patient_id == rows["R-4"].patient_id == by_patient["Twenty"]
    assert rows["R-6"].patient_id is None and "not known" in rows["R-6"].error


def _event(block: bytes, event: str) -> bytes:
    return block.replace(b"|A04|", f"|{event}|".encode()).replace(b"^A04^", f"^{event}^".encode())


def _mixed(prefix: str) -> list[bytes]:
    """Registrations and updates interleaved, with what a batch must keep in message order."""
    return [
        a08("Y", "Late", "Lou", f"{prefix}-1"),  # before Y's registration: unknown patient (AE)
        a04("X", "Xeno", "Xia", f"{prefix}-2"),
        a08("X", "Xeno", "Xiana", f"{prefix}-3"),  # a patient registered earlier in the batch
        a04("Y", "Late", "Lou", f"{prefix}-4"),
        a08("X", "Xenos", "Xiana", f"{prefix}-5"),  # the same patient again: sees the change before
        _event(a04("X", "Xenos", "Xiana", f"{prefix}-6", dob="19800103"), "A31"),  # a full update
        a04("Y", "Later", "Lou", f"{prefix}-7"),  # a known identifier: an update, not a second patient
        a08("X", "Xenos", "Xiana", f"{prefix}-8", ).replace(b"|19800102|", b"|1980-13-45|"),  # bad DOB: AE
        a08("K", "Known", "Kim", f"{prefix}-9"),  # registered before the batch
    ]


def _state(org: Any) -> tuple[list[Any], dict[str, int]]:
    rows = sorted((p.last_name, p.first_name, str(p.dob), p.last_name_norm, p.first_name_norm) for p in patients(org))
    return rows, {a: count(org, AuditRecord, action=a) for a in ("patient.create", "patient.update")} | {
        t: count(org, OutboxMessage, topic=t) for t in ("patient.registered", "patient.updated")}


def test_a_batch_of_registrations_and_updates_ends_as_one_message_at_a_time_does(
        org: Any, other_org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The batch registers and updates set-based (`_register_ahead`, `_update_ahead`); the same
    # messages one by one with those turned off go through `_dispatch`, the patients service's
    # one-at-a-time functions. Both end the same.
    one_by_one = {FACILITY: Route(other_org.id, other_org.loc_a.id)}
    together = {FACILITY: Route(org.id, org.loc_a.id)}
    batch(one_by_one, a04("K", "Known", "Ken", "K-0"))
    batch(together, a04("K", "Known", "Ken", "K-0"))
    with monkeypatch.context() as m:
        m.setattr(inbound, "_register_ahead", lambda *a: None)
        m.setattr(inbound, "_update_ahead", lambda *a: None)
        single = [batch(one_by_one, block)[0] for block in _mixed("S")]
    grouped = batch(together, *_mixed("G"))
    assert codes(single) == codes(grouped) == ["AE", "AA", "AA", "AA", "AA", "AA", "AA", "AE", "AA"]
    assert [parse_message(a).get("ERR-3.1") for a in grouped if parse_message(a).get("MSA-1") == "AE"] == ["204", "102"]
    assert _state(org) == _state(other_org)
    rows, counts = _state(org)
    assert [r[:3] for r in rows] == [("Known", "Kim", "1980-01-02"), ("Later", "Lou", "1980-01-02"),
                                     ("Xenos", "Xiana", "1980-01-03")]
    assert counts == {"patient.create": 3, "patient.update": 5, "patient.registered": 3, "patient.updated": 5}


def test_a_failing_set_based_update_is_redone_one_by_one(org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    batch(routes, a04("1", "Old", "Oda", "U-0"))
    real = inbound.patients.update_patients_in
    calls = []

    def failing(session: Any, ctx: Any, updates: Any, **kw: Any) -> Any:
        calls.append(len(updates))
        real(session, ctx, updates, **kw)
        raise RuntimeError("simulated failure after writing")

    monkeypatch.setattr(inbound.patients, "update_patients_in", failing)
    acks = batch(routes, a08("1", "New", "Oda", "U-1"), a04("2", "Two", "Tia", "U-2"))
    assert codes(acks) == ["AA", "AA"]
    assert calls == [1]  # the set-based pass ran (and failed); the savepoint pass did not call it
    assert sorted(p.last_name for p in patients(org)) == ["New", "Two"]
    assert count(org, AuditRecord, action="patient.update") == 1  # the failed pass left nothing
    assert count(org, OutboxMessage, topic="patient.updated") == 1


def test_the_raw_rows_are_committed_before_the_batch_is_applied(org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # What another connection sees while the batch's registrations run: the stored, unprocessed
    # messages (so a listener that crashed here would answer a resend 206, not apply it twice).
    from praxis.interop.hl7.models import Hl7Message

    seen: list[tuple[str, str]] = []
    real = inbound.patients.register_patients_in

    def watching(session: Any, ctx: Any, drafts: Any, **kw: Any) -> Any:
        with session_scope(org.id) as other:
            seen.extend((r.control_id, r.status) for r in other.execute(select(
                Hl7Message.control_id, Hl7Message.status).where(Hl7Message.org_id == org.id)
                .order_by(Hl7Message.control_id)))
        return real(session, ctx, drafts, **kw)

    monkeypatch.setattr(inbound.patients, "register_patients_in", watching)
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    assert codes(batch(routes, a04("1", "Raw", "Ray", "R-1"), a04("2", "Raw", "Rae", "R-2"))) == ["AA", "AA"]
    assert seen == [("R-1", "received"), ("R-2", "received")]
    assert [r.status for r in stored(org)] == ["processed", "processed"]


def test_a_failure_that_surfaces_at_a_later_read_is_redone_with_savepoints(
        org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The organisation's MRN counter is created by someone else between the batch's look for it
    # and its own INSERT. In pipeline mode (PostgreSQL) the duplicate key surfaces only at the
    # next statement that is read, and the transaction is aborted by then: that read's error must
    # still reach the batch as a database error, which runs it again with savepoints (no ACK lost).
    from praxis.patients import service
    from praxis.patients.models import MrnCounter

    real = service._BUMP_MRN.rows
    raced: list[int] = []

    def racing(conn: Any, params: Any = None) -> Any:
        if not raced:
            raced.append(1)
            with session_scope(org.id) as other:
                other.add(MrnCounter(org_id=org.id, last_value=0))
            return []  # as if the counter was not there yet when this batch looked
        return real(conn, params)

    monkeypatch.setattr(service._BUMP_MRN, "rows", racing)
    routes = {FACILITY: Route(org.id, org.loc_a.id)}
    acks = batch(routes, a04("1", "Race", "Ray", "M-1"), a04("2", "Race", "Rae", "M-2"))
    assert codes(acks) == ["AA", "AA"]
    assert raced == [1]
    mrns = sorted(p.mrn for p in patients(org))
    assert len(mrns) == 2 and len(set(mrns)) == 2
    assert [r.status for r in stored(org)] == ["processed", "processed"]
    assert count(org, AuditRecord, action="patient.create") == 2

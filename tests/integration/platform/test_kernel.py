"""Kernel behaviour on a real database: tenant scoping, audit chain, outbox, key rotation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from praxis.platform import audit, clock, crypto, keys, outbox
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.platform.errors import TenantScopeError
from praxis.platform.scoping import cross_org
from praxis.practice.models import Location


def test_query_without_org_filter_cannot_see_other_org(org, other_org):
    with session_scope(org.id) as s:
        rows = s.scalars(select(Location)).all()
    assert {r.id for r in rows} == {org.loc_a.id, org.loc_b.id}
    with session_scope(other_org.id) as s:
        assert s.scalars(select(Location).where(Location.id == org.loc_a.id)).first() is None


def test_query_with_no_org_fails_closed(org):
    with pytest.raises(TenantScopeError), session_scope(None) as s:
        s.scalars(select(Location)).all()


def test_flush_refuses_row_of_another_org(org, other_org):
    with pytest.raises(TenantScopeError), session_scope(org.id) as s:
        s.add(Location(org_id=other_org.id, code="X", name="x", timezone="UTC"))
        s.flush()


def test_audit_chain_detects_edit_delete_and_reorder(org):
    ctx = system_context(org.id, "test")
    with session_scope(org.id) as s:
        for i in range(5):
            audit.record(s, ctx, "read", "thing", i)
    audit.seal_pending(org.id)
    assert audit.verify(org.id).ok
    with session_scope(org.id) as s:
        rows = s.scalars(select(audit.AuditRecord).order_by(audit.AuditRecord.seq)).all()
    victim = rows[2]
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        # A direct table edit, as an attacker with database access would do it.
        t = audit.AuditRecord.__table__
        s.execute(update(t).where(t.c.org_id == org.id, t.c.id == victim.id).values(action="nothing"))
    report = audit.verify(org.id)
    assert not report.ok
    assert any(p.record_id == str(victim.id) and "edited" in p.problem for p in report.problems)


def test_audit_chain_detects_deleted_row(org):
    ctx = system_context(org.id, "test")
    with session_scope(org.id) as s:
        for i in range(4):
            audit.record(s, ctx, "read", "thing", i)
    audit.seal_pending(org.id)
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        t = audit.AuditRecord.__table__
        s.execute(delete(t).where(t.c.org_id == org.id, t.c.seq == 2))
    report = audit.verify(org.id)
    assert any("missing" in p.problem for p in report.problems)


def test_records_written_after_a_seal_extend_the_chain(org):
    ctx = system_context(org.id, "test")
    for _ in range(3):
        with session_scope(org.id) as s:
            audit.record(s, ctx, "read", "thing", uuid.uuid4())
        audit.seal_pending(org.id)
    assert audit.verify(org.id).ok


def drain() -> None:
    """Handle every due message (other tests' messages may be queued before ours)."""
    while outbox.run_once():
        pass


def test_outbox_retries_with_backoff_then_succeeds(org):
    calls: list[dict] = []
    attempts = {"n": 0}

    def flaky(org_id, payload):
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("temporary")
        calls.append(payload)

    topic = f"test.{uuid.uuid4().hex}"
    outbox.subscribe(topic, flaky)
    with session_scope(org.id) as s:
        msg = outbox.emit(s, topic, {"n": 1})
        msg_id = msg.id
    drain()
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        row = s.get(outbox.OutboxMessage, msg_id)
        assert row.status == "pending" and row.attempts == 1 and "temporary" in row.last_error
    drain()  # not due yet
    assert calls == []
    clock.advance(timedelta(minutes=5))
    drain()
    assert calls == [{"n": 1}]
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        assert s.get(outbox.OutboxMessage, msg_id).status == "done"


def test_key_rotation_reencrypts_and_old_values_still_read(org, tmp_path, monkeypatch):
    from sqlalchemy import Column, MetaData, String, Table

    md = MetaData()
    t = Table(f"enc_test_{uuid.uuid4().hex[:8]}", md, Column("org_id", String(36), primary_key=True),
              Column("id", String(36), primary_key=True), Column("secret", String(400)))
    from praxis.platform.db import get_engine

    md.create_all(get_engine())
    ring = crypto.keyring()
    path = tmp_path / "ring.json"
    crypto.save(ring, path)
    with get_engine().begin() as conn:
        for i in range(7):
            conn.execute(t.insert().values(org_id=str(org.id), id=str(i), secret=ring.encrypt(f"123-45-67{i:02d}")))
    monkeypatch.setattr(crypto, "ENCRYPTED_COLUMNS", [])
    crypto.register_encrypted_column(t.name, "secret")
    try:
        counts = keys.rotate(path, batch=3)
        new = crypto.keyring()
        assert new.active != ring.active
        assert counts[f"{t.name}.secret"] == 7
        with get_engine().connect() as conn:
            values = [r[0] for r in conn.execute(cross_org(select(t.c.secret), "test: every organisation's rows"))]
        assert all(new.key_id_of(v) == new.active for v in values)
        assert sorted(new.decrypt(v) for v in values) == [f"123-45-67{i:02d}" for i in range(7)]
    finally:
        md.drop_all(get_engine())


def test_concurrent_workers_never_take_the_same_message(org):
    """Two workers at once (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite): each message once."""
    import threading
    from collections import Counter

    seen: Counter[int] = Counter()
    lock = threading.Lock()
    topic = f"test.{uuid.uuid4().hex}"

    def handler(_org_id, payload):
        with lock:
            seen[payload["n"]] += 1

    outbox.subscribe(topic, handler)
    with session_scope(org.id) as s:
        for n in range(60):
            outbox.emit(s, topic, {"n": n})

    def work():
        for _ in range(10):
            outbox.run_once(batch=7)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(60))
    assert set(seen.values()) == {1}


def test_record_many_writes_one_row_per_patient_and_seals(org):
    ctx = system_context(org.id, "test")
    patients = [uuid.uuid4() for _ in range(25)]
    with session_scope(org.id) as s:
        n = audit.record_many(s, ctx, "read", "appointment", [(uuid.uuid4(), p) for p in patients],
                              location_id=org.loc_a.id)
    assert n == 25
    audit.seal_pending(org.id)
    assert audit.verify(org.id).ok
    with session_scope(org.id) as s:
        rows = audit.list_records(s, patient_id=patients[7])
    assert len(rows) == 1 and rows[0].action == "read" and rows[0].location_id == org.loc_a.id
    assert rows[0].seq is not None


def test_record_many_stores_what_record_stores(org):
    """The bulk path (COPY on PostgreSQL) keeps every column of row(), `detail` included."""
    from dataclasses import replace

    ctx = replace(system_context(org.id, "test"), client_ip="203.0.113.9", request_id="req-1",
                  reason="month-end review")
    one, many = uuid.uuid4(), uuid.uuid4()
    detail = {"query": "smith", "page": 2, "nested": {"ok": True}}
    with session_scope(org.id) as s:
        audit.record(s, ctx, "search", "patient", one, patient_id=one, location_id=org.loc_a.id, detail=detail)
        audit.record_many(s, ctx, "search", "patient", [(many, many)], location_id=org.loc_a.id, detail=detail)
        audit.record_many(s, ctx, "search", "patient", [(uuid.uuid4(), None)])
    audit.seal_pending(org.id)
    assert audit.verify(org.id).ok
    skip = {"id", "created_at", "resource_id", "patient_id", "seq", "prev_hash", "hash"}
    with session_scope(org.id) as s:
        a, b = (audit.list_records(s, patient_id=p)[0] for p in (one, many))
        cols = [c.key for c in audit.AuditRecord.__table__.columns if c.key not in skip]
        assert {c: getattr(a, c) for c in cols} == {c: getattr(b, c) for c in cols}
        assert b.detail == detail and b.client_ip == "203.0.113.9" and b.reason == "month-end review"
        bare = [r for r in audit.list_records(s) if r.patient_id is None and r.action == "search"]
        assert len(bare) == 1 and bare[0].detail is None

"""Issue 17, finding 3: the audit chain is tamper-evident without trusting the database.

Each attack is made the way someone with database access would make it (direct table statements,
bypassing the application), then `praxis audit verify` is run as an operator would run it."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from typer.testing import CliRunner

from praxis.cli import app as cli
from praxis.platform import audit, audit_checkpoints, clock
from praxis.platform.context import system_context
from praxis.platform.db import get_engine, session_scope
from praxis.platform.settings import get_settings

T = audit.AuditRecord.__table__
H = audit.AuditChainHead.__table__


def _verify(org):
    return CliRunner().invoke(cli, ["audit", "verify", "--org", org.slug])


def _write(org, n, start=0):
    ctx = system_context(org.id, "test")
    with session_scope(org.id) as s:
        for i in range(start, start + n):
            audit.record(s, ctx, "read", "thing", i)


def _chain(org):
    with get_engine().connect() as conn:
        return conn.execute(select(T).where(T.c.org_id == org.id, T.c.seq.is_not(None)).order_by(T.c.seq)).all()


def _sealed(org, n=6):
    _write(org, n)
    audit.seal_pending(org.id)  # the organisation's first seal in this process also checkpoints it
    ok = _verify(org)
    assert ok.exit_code == 0 and "OK" in ok.output, ok.output
    return _chain(org)


def _rehash_from(org, seq_from, *, keyed):
    """Renumber the chain from `seq_from` on and recompute every link and the head, as an attacker
    would after deleting a record: with the published algorithm and no key (keyed=False), or with the
    key ring in hand (keyed=True)."""
    with get_engine().begin() as conn:
        rows = conn.execute(select(T).where(T.c.org_id == org.id, T.c.seq.is_not(None)).order_by(T.c.seq)).all()
        prev, seq = audit.GENESIS, 0
        for row in rows:
            seq += 1
            if seq < seq_from:
                prev = row.hash
                continue
            digest = audit._digest(row, seq, prev, keyed=keyed)
            conn.execute(update(T).where(T.c.org_id == org.id, T.c.id == row.id)
                         .values(seq=seq, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(update(H).where(H.c.org_id == org.id).values(last_seq=seq, last_hash=prev))


def test_deleting_a_middle_record_and_rehashing_the_rest_and_the_head_is_detected(org):
    rows = _sealed(org)
    victim = rows[2]
    with get_engine().begin() as conn:
        conn.execute(delete(T).where(T.c.org_id == org.id, T.c.id == victim.id))
    _rehash_from(org, victim.seq, keyed=False)  # SHA-256 as before: the algorithm is public
    bad = _verify(org)
    assert bad.exit_code == 1, bad.output
    assert "re-hashed without the audit key" in bad.output
    assert "(records deleted)" in bad.output  # the checkpoint saw a longer chain


def test_with_the_key_too_a_rewrite_before_the_last_checkpoint_is_detected(org):
    rows = _sealed(org)
    with get_engine().begin() as conn:
        conn.execute(delete(T).where(T.c.org_id == org.id, T.c.id == rows[2].id))
    _rehash_from(org, rows[2].seq, keyed=True)  # an insider with the database and the key ring
    bad = _verify(org)
    assert bad.exit_code == 1, bad.output
    assert "does not match the checkpoint" in bad.output or "(records deleted)" in bad.output
    assert "re-hashed without the audit key" not in bad.output  # every link is a valid keyed link


def test_with_the_key_records_sealed_after_the_last_checkpoint_can_be_rewritten(org):
    """The documented limit (docs/decisions.md): database + key ring can rewrite what no checkpoint
    has seen yet. Here: a record sealed after the checkpoint, deleted and re-hashed with the key."""
    seen = len(_sealed(org, 3))
    _write(org, 2, start=10)
    audit.seal_pending(org.id)  # within the checkpoint interval: no new checkpoint
    rows = _chain(org)
    assert len(rows) == seen + 2
    victim = rows[seen]  # the first record no checkpoint has seen
    with get_engine().begin() as conn:
        conn.execute(delete(T).where(T.c.org_id == org.id, T.c.id == victim.id))
    _rehash_from(org, victim.seq, keyed=True)
    assert _verify(org).exit_code == 0
    # ... and the moment a checkpoint is written, what it saw is fixed for good.
    assert CliRunner().invoke(cli, ["audit", "checkpoint", "--org", org.slug]).exit_code == 0
    with get_engine().begin() as conn:
        conn.execute(delete(T).where(T.c.org_id == org.id, T.c.seq == victim.seq))
    _rehash_from(org, victim.seq, keyed=True)
    assert _verify(org).exit_code == 1


def test_deleting_all_of_an_organisations_records_and_its_head_is_detected(org, other_org):
    _sealed(org)
    _sealed(other_org)
    with get_engine().begin() as conn:
        conn.execute(delete(T).where(T.c.org_id == org.id))
        conn.execute(delete(H).where(H.c.org_id == org.id))
    bad = _verify(org)
    assert bad.exit_code == 1, bad.output
    assert "the chain ends at 0" in bad.output and "(records deleted)" in bad.output
    assert "OK: 0 records" not in bad.output
    assert _verify(other_org).exit_code == 0


def _backdated_row(org, days=1):
    values = audit.row(system_context(org.id, "attacker"), "patient.read", "patient", "p-123")
    values["created_at"] = clock.now() - timedelta(days=days)
    with get_engine().begin() as conn:
        conn.execute(insert(T).values(**values))
    return values["id"]


def test_a_backdated_unsealed_record_is_refused_by_the_sealer_and_named(org):
    _sealed(org)
    forged = _backdated_row(org)
    bad = _verify(org)  # seals first, as the operator's command does
    assert bad.exit_code == 1, bad.output
    assert str(forged) in bad.output and "back-dated" in bad.output
    with get_engine().connect() as conn:
        assert conn.execute(select(T.c.seq).where(T.c.org_id == org.id, T.c.id == forged)).scalar_one() is None
    # Records written now still seal normally around it.
    _write(org, 2, start=100)
    assert audit.seal_pending(org.id) == 2


def test_a_backdated_record_slipped_past_the_sealer_is_still_named(org):
    """Lowering the head's watermark lets the sealer chain the forged record; the keyed chain itself
    still shows a record dated before records sealed earlier."""
    _sealed(org)
    forged = _backdated_row(org)
    with get_engine().begin() as conn:
        conn.execute(update(H).where(H.c.org_id == org.id).values(sealed_through=None))
    assert audit.seal_pending(org.id) == 1
    bad = _verify(org)
    assert bad.exit_code == 1 and str(forged) in bad.output and "back-dated" in bad.output


def test_a_late_commit_within_the_transaction_limit_is_sealed(org):
    """A long transaction's records are older than records sealed meanwhile: not back-dated."""
    _sealed(org)
    values = audit.row(system_context(org.id, "importer"), "patient.import", "patient", "p-1")
    values["created_at"] = clock.now() - timedelta(seconds=get_settings().audit_max_transaction_seconds - 60)
    with get_engine().begin() as conn:
        conn.execute(insert(T).values(**values))
    assert audit.seal_pending(org.id) == 1
    assert _verify(org).exit_code == 0


def test_moving_the_key_boundary_to_pass_off_unkeyed_links_is_detected(org):
    _sealed(org)
    with get_engine().begin() as conn:
        conn.execute(update(H).where(H.c.org_id == org.id).values(keyed_from_seq=1000))
    _rehash_from(org, 1, keyed=False)
    bad = _verify(org)
    assert bad.exit_code == 1 and "key boundary was moved" in bad.output, bad.output


def test_links_sealed_before_keyed_links_existed_still_verify(org):
    """A chain upgraded by migration core_0002: its first links are plain SHA-256 and stay so."""
    _write(org, 3)
    with get_engine().connect() as conn:
        legacy = conn.execute(select(T.c.id).where(T.c.org_id == org.id)).all()
    boundary = len(legacy) + 1
    with get_engine().begin() as conn:  # the head as the migration leaves an upgraded chain
        conn.execute(insert(H).values(org_id=org.id, last_seq=0, last_hash=audit.GENESIS,
                                      keyed_from_seq=boundary))
    audit.seal_pending(org.id)
    _write(org, 2, start=10)
    audit.seal_pending(org.id)
    rows = _chain(org)
    assert len(rows) == boundary + 1
    unkeyed = [r.hash == audit._digest(r, r.seq, r.prev_hash, keyed=False) for r in rows]
    assert unkeyed == [True] * (boundary - 1) + [False, False]
    assert all(r.hash == audit._digest(r, r.seq, r.prev_hash, keyed=r.seq >= boundary) for r in rows)
    assert _verify(org).exit_code == 0


def test_a_forged_or_edited_checkpoint_line_is_named(org, tmp_path, monkeypatch):
    monkeypatch.setenv("PRAXIS_AUDIT_CHECKPOINT_FILE", str(tmp_path / "cp.jsonl"))
    get_settings.cache_clear()
    try:
        _write(org, 2)
        audit.seal_pending(org.id)
        audit.checkpoint(org.id)
        assert audit.verify(org.id).ok
        path = audit_checkpoints.path()
        line = json.loads(path.read_text().splitlines()[-1])
        line["seq"] -= 1  # claim the chain was shorter, keeping the signature
        with path.open("a") as f:
            f.write(json.dumps(line) + "\n")
        report = audit.verify(org.id)
        assert not report.ok and any("forged or edited" in p.problem for p in report.problems)
    finally:
        monkeypatch.delenv("PRAXIS_AUDIT_CHECKPOINT_FILE")
        get_settings.cache_clear()


def test_checkpoints_are_appended_outside_the_database(org):
    before = audit_checkpoints.path().read_text().count("\n") if audit_checkpoints.path().exists() else 0
    _write(org, 3)
    audit.seal_pending(org.id)
    mine = audit_checkpoints.read(org.id).checkpoints
    assert [(c.seq, c.hash, c.keyed_from) for c in mine] == [(len(_chain(org)), _chain(org)[-1].hash, 1)]
    assert audit_checkpoints.path().read_text().count("\n") == before + 1
    assert oct(audit_checkpoints.path().stat().st_mode & 0o777) == "0o600"


def test_the_audit_key_lives_in_the_key_ring_file_and_older_rings_derive_one():
    from praxis.platform.crypto import KeyRing

    ring = KeyRing.generate()
    again = KeyRing.from_json(ring.to_json())
    assert again.audit_key == ring.audit_key and len(ring.audit_key) == 32
    assert again.audit_mac("link", b"x") == ring.audit_mac("link", b"x") != ring.audit_mac("checkpoint", b"x")
    older = json.loads(ring.to_json())
    del older["audit_key"]  # a ring written before the audit key existed
    a, b = KeyRing.from_json(json.dumps(older)), KeyRing.from_json(json.dumps(older))
    assert a.audit_mac("link", b"x") == b.audit_mac("link", b"x") != ring.audit_mac("link", b"x")
    assert a.rotated().audit_mac("link", b"x") == a.audit_mac("link", b"x")  # rotation keeps it

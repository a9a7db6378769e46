"""Inbound acknowledgements: stored raw, processed exactly once, claims moved with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from praxis.billing import claims, edi, reference, submission
from praxis.platform.errors import ValidationProblem
from tests.integration.billing.helpers import make_billing_world

CORPUS = Path("/work/shared/corpus/x12")


def _isa(sender: str, receiver: str, control: str = "000000901") -> str:
    return (f"ISA*00*          *00*          *ZZ*{sender.ljust(15)}*ZZ*{receiver.ljust(15)}*261207*0900*^*00501*"
            f"{control}*0*T*:~")


def _999(conn, batch, st: str, status: str = "A", errors: str = "") -> str:
    body = (f"GS*FA*{conn.receiver_id}*{conn.sender_id}*20261207*0900*77*X*005010X231A1~ST*999*0001*005010X231A1~"
            f"AK1*HC*{batch.group_control_number}*005010X222A1~AK2*837*{st}*005010X222A1~{errors}IK5*{status}~"
            f"AK9*{status}*1*1*{1 if status == 'A' else 0}~SE*6*0001~GE*1*77~IEA*1*000000901~")
    return _isa(conn.receiver_id, conn.sender_id) + body


def _submitted(w, n: int = 2):
    made = []
    for _ in range(n):
        pid, _ = w.patient()
        [c] = claims.build_claims(w.ctx, w.encounter(pid).id)
        made.append(c)
    result = submission.submit_ready(w.ctx)
    [batch] = result.batches
    conn = next(c for c in reference.list_connections(w.ctx) if c.id == batch.connection_id)
    st = claims.get_claim(w.ctx, made[0].id).events[-1].detail["st02"]
    return made, batch, conn, st


def test_999_accepts_the_batch_once(org):
    w = make_billing_world(org)
    made, batch, conn, st = _submitted(w)
    text = _999(conn, batch, st)
    f, dup = edi.ingest(w.ctx, text, "ack.999")
    assert not dup and f.status == "processed" and f.kind == "999"
    for c in made:
        got = claims.get_claim(w.ctx, c.id)
        assert got.status == "accepted"
        assert got.events[-1].event == "ack_999" and got.events[-1].edi_file_id == f.id
    events_before = [len(claims.get_claim(w.ctx, c.id).events) for c in made]
    f2, dup2 = edi.ingest(w.ctx, text, "ack-again.999")
    assert dup2 and f2.id == f.id
    assert [len(claims.get_claim(w.ctx, c.id).events) for c in made] == events_before
    assert [b.status for b in submission.list_batches(w.ctx) if b.id == batch.id] == ["accepted"]


def test_999_rejection_shows_reasons_on_the_claim(org):
    w = make_billing_world(org)
    made, batch, conn, st = _submitted(w, 1)
    _f, _ = edi.ingest(w.ctx, _999(conn, batch, st, "R", "IK3*NM1*17**8~IK4*9*67*7*X~"))
    got = claims.get_claim(w.ctx, made[0].id)
    assert got.status == "rejected"
    assert "rejected" in got.events[-1].note
    assert "NM1 at segment 17: Segment has data element errors (8)" in got.events[-1].note


def test_277ca_accepts_and_rejects_by_claim_number(org):
    w = make_billing_world(org)
    made, _batch, conn, _st = _submitted(w, 2)
    a, r = made[0].claim_number, made[1].claim_number
    text = (_isa(conn.receiver_id, conn.sender_id, "000000777")
            + "GS*HN*CH*ME*20261207*0900*5*X*005010X214~ST*277*0001*005010X214~BHT*0085*08*1*20261207*0900*TH~"
            "HL*1**20*1~NM1*PR*2*ACME*****PI*60054~TRN*1*1~DTP*050*D8*20261207~DTP*009*D8*20261207~"
            "HL*2*1*21*1~NM1*41*2*ME*****46*ME~TRN*2*1~STC*A1:20*20261207*WQ*350~"
            "HL*3*2*19*1~NM1*85*2*CLINIC*****XX*1234567893~TRN*1*1~"
            f"HL*4*3*PT~NM1*QC*1*DOE*JANE****MI*M1~TRN*2*{a}~STC*A2:20*20261207*WQ*175~REF*1K*ICN-A~"
            f"HL*5*3*PT~NM1*QC*1*DOE*JOHN****MI*M2~TRN*2*{r}~STC*A7:562:85*20261207*WQ*175~"
            "SE*20*0001~GE*1*5~IEA*1*000000777~")
    f, _ = edi.ingest(w.ctx, text)
    assert f.kind == "277CA" and f.status == "processed"
    ok = claims.get_claim(w.ctx, made[0].id)
    bad = claims.get_claim(w.ctx, made[1].id)
    assert ok.status == "accepted" and ok.payer_claim_number == "ICN-A"
    assert bad.status == "rejected" and "A7:562:85" in bad.events[-1].note


def test_ta1_rejection_rejects_the_interchange(org):
    w = make_billing_world(org)
    made, batch, conn, _st = _submitted(w, 1)
    text = _isa(conn.receiver_id, conn.sender_id, "000000555") + \
        f"TA1*{batch.interchange_control_number}*261207*0900*R*006~IEA*0*000000555~"
    f, _ = edi.ingest(w.ctx, text)
    assert f.kind == "TA1"
    assert claims.get_claim(w.ctx, made[0].id).status == "rejected"


def test_truncated_or_foreign_files_are_stored_and_change_nothing(org):
    w = make_billing_world(org)
    made, batch, conn, st = _submitted(w, 1)
    text = _999(conn, batch, st)
    f, _ = edi.ingest(w.ctx, text[: len(text) // 2])
    assert f.status == "failed" and "truncated" in f.error
    assert claims.get_claim(w.ctx, made[0].id).status == "submitted"
    with pytest.raises(ValidationProblem):
        edi.ingest(w.ctx, b"   ")


@pytest.mark.parametrize("name", ["999/ims_999_accepted.999", "999/ims_999_rejected.999",
                                  "277ca/ims_277CA_rejected.X214.277", "277ca/herophilus_277CA_accepted.277"])
def test_corpus_acknowledgements_are_read(org, name):
    w = make_billing_world(org)
    f, _ = edi.ingest(w.ctx, (CORPUS / name).read_bytes(), name)
    assert f.status == "processed", f.error
    assert f.summary and f.summary["unmatched"]  # nothing of ours in a stranger's file


def test_a_file_stored_but_never_processed_is_processed_by_the_resend(org):
    import hashlib

    w = make_billing_world(org)
    made, batch, conn, st = _submitted(w, 1)
    text = _999(conn, batch, st)
    raw = text.encode()
    edi._store(w.ctx, text, hashlib.sha256(raw).hexdigest(), "crashed.999", len(raw))  # the run stopped here
    assert claims.get_claim(w.ctx, made[0].id).status == "submitted"
    f, dup = edi.ingest(w.ctx, raw, "again.999")
    assert dup and f.status == "processed"
    assert claims.get_claim(w.ctx, made[0].id).status == "accepted"


def test_a_new_organisation_gets_a_default_folder_connection(org):
    reference.ensure_default_connection(org.id)
    reference.ensure_default_connection(org.id)
    w = make_billing_world(org)
    [conn] = reference.list_connections(w.ctx)
    assert conn.is_default and conn.kind == "folder" and conn.outbound_dir.endswith("outbound")
    assert f"clearinghouse/{org.slug}/" in conn.outbound_dir

"""Inbound EDI files: stored raw first, then processed exactly once.

`ingest` writes the bytes (and their SHA-256) in their own transaction before anything is read, so
a file that fails to parse is still on record. Processing takes the file row's lock and runs only
while the row is `received`; the same bytes again find the stored row and change nothing.
Acknowledgements move batches and claims: a 999 by group control number (AK1) and transaction set
(AK2 = the batch's ST02), a TA1 by interchange control number, a 277CA claim by claim by CLM01.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.billing import acks
from praxis.billing.claims import TRANSITIONS, move, note_event
from praxis.billing.models import Claim, ClaimBatch, ClearinghouseConnection, EdiFile
from praxis.billing.permissions import BILLING_READ, BILLING_SUBMIT
from praxis.billing.schemas import EdiFileOut
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import ValidationProblem
from praxis.platform.uow import unit_of_work, write_lock

MAX_BYTES = 20_000_000
REJECTED_999 = {"R", "M", "W", "X"}
IK5_TEXT = {"A": "accepted", "E": "accepted with errors", "R": "rejected", "M": "rejected (MAC failed)",
            "W": "rejected (assurance failed)", "X": "rejected (content could not be analysed)"}


def ingest(ctx: Context, content: bytes | str, file_name: str = "") -> tuple[EdiFileOut, bool]:
    """Store an inbound file raw, then process it once. Returns the file and whether it had been
    received before (then nothing changes)."""
    ctx.require(BILLING_SUBMIT)  # org-wide: acknowledgements touch claims of every location
    raw = content.encode("latin-1", errors="replace") if isinstance(content, str) else content
    if not raw.strip():
        raise ValidationProblem("The file is empty", field="content")
    if len(raw) > MAX_BYTES:
        raise ValidationProblem(f"The file is larger than {MAX_BYTES} bytes", field="content")
    text = raw.decode("latin-1")
    digest = hashlib.sha256(raw).hexdigest()
    file_id, duplicate = _store(ctx, text, digest, file_name, len(raw))
    # Also for a duplicate: a file stored by a run that stopped before processing it is processed now;
    # one processed already is left alone (the status is checked under the row's lock).
    _process(ctx, file_id)
    with unit_of_work(ctx) as session:
        return EdiFileOut.model_validate(get_or_404(session, EdiFile, file_id, "file")), duplicate


def _store(ctx: Context, text: str, digest: str, file_name: str, size: int) -> tuple[uuid.UUID, bool]:
    def existing() -> uuid.UUID | None:
        with unit_of_work(ctx) as session:
            return session.scalars(select(EdiFile.id).where(EdiFile.direction == "in",
                                                            EdiFile.sha256 == digest)).first()

    found = existing()
    if found is not None:
        return found, True
    try:
        with unit_of_work(ctx) as session:
            row = EdiFile(org_id=ctx.org_id, direction="in", sha256=digest, file_name=file_name[:200], size=size,
                          content=text, status="received")
            session.add(row)
            session.flush()
            audit.record(session, ctx, "edi_file.receive", "edi_file", row.id, detail={"name": file_name[:200]})
            return row.id, False
    except IntegrityError:  # the same file arriving twice at once: the other request stored it
        found = existing()
        assert found is not None
        return found, True


def _process(ctx: Context, file_id: uuid.UUID) -> None:
    with unit_of_work(ctx) as session:
        write_lock(session)
        f = session.scalars(select(EdiFile).where(EdiFile.id == file_id).with_for_update()).one()
        if f.status != "received":
            return  # processed (or failed) already: exactly once
        try:
            ack = acks.read_ack(f.content)
        except acks.AckError as exc:
            f.status, f.error, f.processed_at = "failed", str(exc), now()
            audit.record(session, ctx, "edi_file.failed", "edi_file", f.id, detail={"error": str(exc)})
            return
        f.kind = ack.kind
        summary: dict[str, Any] = {"kind": ack.kind, "matched": [], "unmatched": [], "warnings": ack.warnings}
        if ack.kind == "999":
            _apply_999(session, ctx, f, ack, summary)
        elif ack.kind == "277CA":
            _apply_277ca(session, ctx, f, ack, summary)
        else:
            _apply_ta1(session, ctx, f, ack, summary)
        f.summary, f.status, f.processed_at = summary, "processed", now()
        audit.record(session, ctx, "edi_file.process", "edi_file", f.id,
                     detail={"kind": ack.kind, "matched": len(summary["matched"])})


def _batches_for(session: Session, ack: acks.Ack) -> list[ClaimBatch]:
    """Batches sent through a connection whose sender id is the acknowledgement's receiver."""
    conns = [c.id for c in session.scalars(select(ClearinghouseConnection))
             if c.sender_id.strip() == ack.receiver_id.strip()]
    stmt = select(ClaimBatch)
    if conns:
        stmt = stmt.where(ClaimBatch.connection_id.in_(conns))
    return list(session.scalars(stmt))


def _claim_to(session: Session, ctx: Context, claim: Claim, to: str, event: str, note: str, f: EdiFile,
              detail: dict[str, Any]) -> None:
    if to in TRANSITIONS[claim.status]:
        move(session, ctx, claim, to, event, note=note, detail=detail, edi_file_id=f.id)
    else:
        note_event(session, ctx, claim, event, note, detail=detail, edi_file_id=f.id)


def _apply_999(session: Session, ctx: Context, f: EdiFile, ack: acks.Ack, summary: dict[str, Any]) -> None:
    batches = [b for b in _batches_for(session, ack) if b.group_control_number == ack.group_control_number.lstrip("0")
               or b.group_control_number == ack.group_control_number]
    if not batches:
        summary["unmatched"].append(f"group {ack.group_control_number}")
        return
    for batch in batches:
        outcomes = []
        for tx in ack.transactions:
            claims = list(session.scalars(select(Claim).where(Claim.batch_id == batch.id,
                                                              Claim.st_control_number == tx.control_number)))
            if not claims:
                summary["unmatched"].append(f"transaction {tx.control_number}")
                continue
            rejected = tx.status in REJECTED_999
            outcomes.append(rejected)
            note = f"999: transaction {tx.control_number} {IK5_TEXT.get(tx.status, tx.status)}"
            if tx.errors:
                note += " - " + "; ".join(tx.errors)
            for claim in claims:
                _claim_to(session, ctx, claim, "rejected" if rejected else "accepted", "ack_999", note, f,
                          {"ik5": tx.status, "errors": list(tx.errors)})
                summary["matched"].append(claim.claim_number)
        if outcomes:
            batch.status = "rejected" if all(outcomes) else "accepted" if not any(outcomes) else "partial"
            batch.ack_note = f"999 {ack.group_status or ''} ({f.id})"[:1000]


def _apply_277ca(session: Session, ctx: Context, f: EdiFile, ack: acks.Ack, summary: dict[str, Any]) -> None:
    for status in ack.claims:
        claim = session.scalars(select(Claim).where(Claim.claim_number == status.claim_number)
                                .order_by(Claim.created_at.desc())).first()
        if claim is None:
            summary["unmatched"].append(f"claim {status.claim_number}")
            continue
        if status.payer_claim_number:
            claim.payer_claim_number = status.payer_claim_number[:50]
        said = "; ".join(f"{c} {t}".strip() for c, t in zip(status.codes, status.texts, strict=False)) \
            or ", ".join(status.codes)
        detail = {"stc": status.category, "codes": list(status.codes)}
        if status.accepted:
            note = f"277CA: accepted by the payer ({said})"
            if claim.status == "submitted":
                _claim_to(session, ctx, claim, "accepted", "ack_277ca", note, f, detail)
            else:
                note_event(session, ctx, claim, "ack_277ca", note, detail=detail, edi_file_id=f.id)
        else:
            _claim_to(session, ctx, claim, "rejected", "ack_277ca",
                      f"277CA: rejected ({said}); fix the claim and send it again", f, detail)
        summary["matched"].append(claim.claim_number)


def _apply_ta1(session: Session, ctx: Context, f: EdiFile, ack: acks.Ack, summary: dict[str, Any]) -> None:
    batches = [b for b in _batches_for(session, ack) if b.interchange_control_number == ack.ta1_control_number]
    if not batches:
        summary["unmatched"].append(f"interchange {ack.ta1_control_number}")
        return
    for batch in batches:
        batch.ack_note = f"TA1 {ack.ta1_status} note {ack.ta1_note}"
        if ack.ta1_status == "R":
            batch.status = "rejected"
            for claim in session.scalars(select(Claim).where(Claim.batch_id == batch.id)):
                _claim_to(session, ctx, claim, "rejected", "ack_ta1",
                          f"TA1: interchange {ack.ta1_control_number} rejected (note code {ack.ta1_note})", f,
                          {"ta1": ack.ta1_status, "note": ack.ta1_note})
                summary["matched"].append(claim.claim_number)


def list_files(ctx: Context, *, direction: str | None = None, limit: int = 100) -> list[EdiFileOut]:
    ctx.require(BILLING_READ)  # org-wide: a file spans locations
    with unit_of_work(ctx) as session:
        stmt = select(EdiFile).order_by(EdiFile.received_at.desc()).limit(limit)
        if direction:
            stmt = stmt.where(EdiFile.direction == direction)
        return [EdiFileOut.model_validate(f) for f in session.scalars(stmt)]


def get_file(ctx: Context, file_id: uuid.UUID) -> tuple[EdiFileOut, str]:
    """A stored file and its raw text (X12 carries PHI: audited)."""
    ctx.require(BILLING_READ)  # org-wide: a file spans locations
    with unit_of_work(ctx) as session:
        f = get_or_404(session, EdiFile, file_id, "file")
        audit.record(session, ctx, "edi_file.read", "edi_file", f.id)
        return EdiFileOut.model_validate(f), f.content

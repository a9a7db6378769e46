"""Submitting claims: every ready claim, batched per clearinghouse connection into one 837P
interchange with persistent control numbers, stored raw, then handed to the connection's transport.

Order of work, so that nothing is lost or sent twice: (1) one transaction allocates the control
numbers, writes the batch (status `created`), the outbound file row and moves the claims to
`submitted`; (2) after commit the file is delivered; (3) a second transaction marks the batch
`sent`. A delivery that fails leaves the batch `created`; the next submission delivers it again
(same file, same control numbers) before building new ones.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.billing import reference
from praxis.billing.claims import move, next_number
from praxis.billing.models import Claim, ClaimBatch, ClaimLine, ClearinghouseConnection, EdiFile
from praxis.billing.permissions import BILLING_READ, BILLING_SUBMIT
from praxis.billing.schemas import BatchOut
from praxis.formats import x12
from praxis.formats.x12 import X12WriteError, check_interchange, write_837p
from praxis.patients.models import Coverage, Patient
from praxis.patients.models import Payer as PayerRow
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Forbidden, NotFound, ValidationProblem
from praxis.platform.locks import key_for, xact_lock
from praxis.platform.uow import unit_of_work, write_lock
from praxis.practice.models import Organisation
from praxis.scheduling.models import Provider

# --- transports (ports): "folder" is built in; wiring may add others (SFTP lives in interop) --------

Deliver = Callable[[ClearinghouseConnection, str, str], None]


def deliver_to_folder(conn: ClearinghouseConnection, file_name: str, content: str) -> None:
    """Write the file into the connection's outbound folder (atomically: temp name, then rename)."""
    folder = Path(conn.outbound_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{file_name}.part"
    tmp.write_text(content, encoding="ascii", newline="")
    tmp.chmod(0o600)  # claims carry PHI: readable by the service account only
    tmp.replace(folder / file_name)


TRANSPORTS: dict[str, Deliver] = {"folder": deliver_to_folder}
SUBMIT_LOCK = uuid.UUID("5b1e4d2a-8c39-4f0e-9a57-6b3c2d1e0f14")  # the lock key's second part: "claim submission"


# --- mapping a claim onto the writer's dataclasses -----------------------------------------------


def _addr(line1: str, city: str, state: str, postal: str, line2: str = "") -> x12.Address:
    return x12.Address(line1=line1, city=city, state=state, postal_code=postal.replace("-", ""), line2=line2)


def _sex(value: str) -> str:
    return value if value in ("M", "F") else "U"


def _memo(cache: dict[Any, Any] | None, key: Any, load: Callable[[], Any]) -> Any:
    """`load()` once per key within one batch (billing identities, payers, providers repeat)."""
    if cache is None:
        return load()
    if key not in cache:
        cache[key] = load()
    return cache[key]


def to_x12_claim(session: Session, claim: Claim, conn: ClearinghouseConnection,
                 cache: dict[Any, Any] | None = None) -> x12.Claim:
    """The claim as the 837P writer's input (subscriber and payer details as they are now). `cache`
    keeps the reference rows a batch's claims share."""
    prof = _memo(cache, ("profile", claim.location_id), lambda: reference.profile_for(session, claim.location_id))
    if prof is None:
        raise ValidationProblem("The location has no billing identity", field="billing")
    patient = session.scalars(select(Patient).where(Patient.id == claim.patient_id)).one()
    cov = session.scalars(select(Coverage).where(Coverage.id == claim.coverage_id)).one()
    payer = _memo(cache, ("payer", claim.payer_id),
                  lambda: session.scalars(select(PayerRow).where(PayerRow.id == claim.payer_id)).one())
    payer_edi = _memo(cache, ("edi", claim.payer_id), lambda: reference.payer_edi_id(session, payer, "claims", conn.id))
    p_addr = _addr(patient.address_line1, patient.city, patient.state, patient.postal_code, patient.address_line2)
    if cov.relationship == "18":
        subscriber = x12.Subscriber(
            member_id=cov.member_id, last_name=patient.last_name, first_name=patient.first_name,
            sex=_sex(patient.sex), birth_date=patient.dob, address=p_addr,  # type: ignore[arg-type]
            payer_responsibility=claim.responsibility, claim_filing_indicator=payer.claim_filing_indicator,  # type: ignore[arg-type]
            group_number=cov.group_number, middle_name=patient.middle_name, suffix=patient.suffix)
        x_patient = None
    else:
        subscriber = x12.Subscriber(
            member_id=cov.member_id, last_name=cov.subscriber_last_name, first_name=cov.subscriber_first_name,
            sex=_sex(cov.subscriber_sex), birth_date=cov.subscriber_dob or patient.dob,  # type: ignore[arg-type]
            address=_addr(cov.subscriber_address_line1, cov.subscriber_city, cov.subscriber_state,
                          cov.subscriber_postal_code, cov.subscriber_address_line2),
            payer_responsibility=claim.responsibility, claim_filing_indicator=payer.claim_filing_indicator,  # type: ignore[arg-type]
            group_number=cov.group_number)
        x_patient = x12.Patient(relationship_code=cov.relationship, last_name=patient.last_name,
                                first_name=patient.first_name, sex=_sex(patient.sex),  # type: ignore[arg-type]
                                birth_date=patient.dob, address=p_addr, middle_name=patient.middle_name,
                                suffix=patient.suffix)
    payer_address = (_addr(payer.address_line1, payer.city, payer.state, payer.postal_code, payer.address_line2)
                     if payer.address_line1 and payer.city and payer.state and payer.postal_code else None)
    rendering = None
    if claim.rendering_provider_id:
        pid = claim.rendering_provider_id
        rendering = _memo(cache, ("provider", pid), lambda: _rendering(session, pid))
    referring = None
    if claim.referring and claim.referring.get("npi"):
        referring = x12.Provider(last_name=claim.referring.get("last_name", "") or "UNKNOWN",
                                 first_name=claim.referring.get("first_name", ""), npi=claim.referring["npi"])
    lines = list(session.scalars(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)))
    others, line_adj = _other_coverages(session, claim, conn)
    x_lines = tuple(x12.ServiceLine(
        procedure_code=ln.code, charge_cents=ln.charge_cents, units=Decimal(ln.units),
        diagnosis_pointers=tuple(ln.dx_pointers), service_date=ln.service_date,
        line_item_control_number=ln.line_control_number, modifiers=tuple(ln.modifiers),
        adjudications=line_adj.get(ln.line_no, ())) for ln in lines)
    pay_to = None
    if prof.pay_to_line1:
        pay_to = x12.PayToAddress(_addr(prof.pay_to_line1, prof.pay_to_city, prof.pay_to_state,
                                        prof.pay_to_postal_code, prof.pay_to_line2))
    return x12.Claim(
        claim_id=claim.claim_number, total_charge_cents=claim.total_charge_cents,
        place_of_service=claim.place_of_service,
        billing_provider=x12.BillingProvider(
            name=prof.name, npi=prof.npi, tax_id=prof.tax_id, taxonomy_code=prof.taxonomy_code,
            address=_addr(prof.address_line1, prof.city, prof.state, prof.postal_code, prof.address_line2),
            tax_id_qualifier="SY" if prof.tax_id_type == "SSN" else "EI"),
        subscriber=subscriber, payer=x12.Payer(name=payer.name, payer_id=payer_edi, address=payer_address),
        diagnoses=tuple(claim.diagnoses), lines=x_lines, patient=x_patient, pay_to=pay_to,
        frequency_code=claim.frequency,  # type: ignore[arg-type]
        payer_claim_control_number=claim.payer_claim_number if claim.frequency != "1" else "",
        prior_authorization=claim.prior_auth, referring_provider=referring, rendering_provider=rendering,
        other_coverages=others)


def _rendering(session: Session, provider_id: uuid.UUID) -> x12.Provider | None:
    prov = session.scalars(select(Provider).where(Provider.id == provider_id)).first()
    if prov is None or not prov.npi:
        return None
    return x12.Provider(last_name=prov.last_name, first_name=prov.first_name, npi=prov.npi,
                        taxonomy_code=reference.taxonomy_of(session, prov.id))


def _other_coverages(session: Session, claim: Claim, conn: ClearinghouseConnection
                     ) -> tuple[tuple[x12.OtherCoverage, ...], dict[int, tuple[x12.LineAdjudication, ...]]]:
    """On a secondary (tertiary) claim: the earlier payers' coverage and adjudication (2320/2330,
    and 2430 per line, matched by line number: both claims copy the same encounter lines)."""
    if claim.responsibility == "P":
        return (), {}
    earlier = {"S": ("P",), "T": ("P", "S")}[claim.responsibility]
    out: list[x12.OtherCoverage] = []
    per_line: dict[int, list[x12.LineAdjudication]] = {}
    for prior in session.scalars(select(Claim).where(Claim.encounter_id == claim.encounter_id,
                                                     Claim.responsibility.in_(earlier),
                                                     Claim.status.in_(("paid", "denied")))):
        cov = session.scalars(select(Coverage).where(Coverage.id == prior.coverage_id)).one()
        payer = session.scalars(select(PayerRow).where(PayerRow.id == prior.payer_id)).one()
        payer_id = reference.payer_edi_id(session, payer, "claims", conn.id)
        patient = session.scalars(select(Patient).where(Patient.id == prior.patient_id)).one()
        last, first = ((patient.last_name, patient.first_name) if cov.relationship == "18"
                       else (cov.subscriber_last_name, cov.subscriber_first_name))
        out.append(x12.OtherCoverage(
            payer_responsibility=prior.responsibility,  # type: ignore[arg-type]
            relationship_code=cov.relationship, subscriber=x12.OtherSubscriber(member_id=cov.member_id,
                                                                               last_name=last, first_name=first),
            payer=x12.OtherPayer(name=payer.name, payer_id=payer_id),
            claim_filing_indicator=payer.claim_filing_indicator,
            group_number=cov.group_number, paid_cents=prior.paid_cents or 0, adjudication_date=prior.adjudicated_at))
        for ln in session.scalars(select(ClaimLine).where(ClaimLine.claim_id == prior.id)):
            per_line.setdefault(ln.line_no, []).append(x12.LineAdjudication(
                payer_id=payer_id, paid_cents=ln.paid_cents or 0, procedure_code=ln.code, units=Decimal(ln.units),
                adjudication_date=prior.adjudicated_at or prior.date_of_service, modifiers=tuple(ln.modifiers),
                adjustments=tuple(x12.ClaimAdjustment(a["group"], a["reason"], int(a["cents"]))
                                  for a in ln.adjustments)))
    return tuple(out), {k: tuple(v) for k, v in per_line.items()}


def _submitter(session: Session, conn: ClearinghouseConnection, claims: list[Claim]) -> x12.Submitter:
    org = session.get(Organisation, conn.org_id)
    phone = conn.submitter_phone
    if not phone:
        for c in claims:
            prof = reference.profile_for(session, c.location_id)
            if prof is not None and prof.phone:
                phone = re.sub(r"\D", "", prof.phone)[-10:]
                break
    name = conn.submitter_name or (org.name if org else "Praxis")
    return x12.Submitter(name=name[:60], submitter_id=conn.sender_id,
                         contact_name=(conn.submitter_contact or name)[:60], phone=phone or "0000000000")


# --- submission ------------------------------------------------------------------------------------


@dataclass
class SubmitResult:
    batches: list[BatchOut]
    refused: list[tuple[str, str]]  # (claim number, why) claims the writer refused, back in draft
    delivery_errors: list[str]


def submit_ready(ctx: Context, *, payer_code: str | None = None) -> SubmitResult:
    """Batch every ready claim in the caller's scope (optionally one payer's) per clearinghouse
    connection, store each 837P and hand it to the connection; deliver earlier undelivered batches
    first."""
    if not ctx.has(BILLING_SUBMIT):
        raise Forbidden(f"Permission {BILLING_SUBMIT} required")
    errors = _deliver_pending(ctx)
    scope = ctx.scope(BILLING_SUBMIT)
    refused: list[tuple[str, str]] = []
    with unit_of_work(ctx) as session:
        write_lock(session)
        # One submission per organisation at a time: two would race for the same ready claims and
        # for the default connection (PostgreSQL; SQLite's write lock already serialises them).
        xact_lock(session.connection(), key_for(ctx.org_id, SUBMIT_LOCK))
        stmt = select(Claim).where(Claim.status == "ready").order_by(Claim.claim_number)
        payer_id = None
        if payer_code:
            payer = session.scalars(select(PayerRow).where(PayerRow.payer_code == payer_code.strip().upper())).first()
            if payer is None:
                raise NotFound(f"No payer with code {payer_code}", field="payer_code")
            payer_id = payer.id
            stmt = stmt.where(Claim.payer_id == payer.id)
        if scope is not None:
            stmt = stmt.where(Claim.location_id.in_(list(scope)))
        groups: dict[uuid.UUID, tuple[ClearinghouseConnection, list[Claim]]] = {}
        for claim in session.scalars(stmt):
            conn = reference.connection_for_location(session, ctx.org_id, claim.location_id)
            groups.setdefault(conn.id, (conn, []))[1].append(claim)
        batch_ids = []
        for conn, claims in groups.values():
            batch = _batch(session, ctx, conn, claims, payer_id, refused)
            if batch is not None:
                batch_ids.append(batch.id)
    errors += _deliver_pending(ctx, only=batch_ids)
    with unit_of_work(ctx) as session:
        batches = [BatchOut.model_validate(b) for b in
                   session.scalars(select(ClaimBatch).where(ClaimBatch.id.in_(batch_ids)))]
    return SubmitResult(batches, refused, errors)


def _batch(session: Session, ctx: Context, conn: ClearinghouseConnection, claims: list[Claim],
           payer_id: uuid.UUID | None, refused: list[tuple[str, str]]) -> ClaimBatch | None:
    mapped: list[tuple[Claim, x12.Claim]] = []
    settings = x12.InterchangeSettings(sender_id=conn.sender_id, receiver_id=conn.receiver_id,
                                       sender_qualifier=conn.sender_qualifier,
                                       receiver_qualifier=conn.receiver_qualifier,
                                       usage_indicator=conn.usage)  # type: ignore[arg-type]
    submitter = _submitter(session, conn, claims)
    receiver = x12.Receiver(name=conn.name[:60], receiver_id=conn.receiver_id)
    stamp = now()
    cache: dict[Any, Any] = {}
    for claim in claims:
        try:
            xc = to_x12_claim(session, claim, conn, cache)
            problems = check_interchange(x12.Interchange837(settings, x12.ControlNumbers(1, 1), stamp, (
                x12.Transaction837("0001", "CHECK", stamp, submitter, receiver, (xc,)),)))
        except ValidationProblem as exc:
            problems = [exc.detail]
        if problems:
            _refuse(session, ctx, claim, problems)
            refused.append((claim.claim_number, "; ".join(problems)))
            continue
        mapped.append((claim, xc))
    if not mapped:
        return None
    isa = next_number(session, ctx.org_id, f"isa:{conn.id}")
    gs = next_number(session, ctx.org_id, f"gs:{conn.id}")
    st = f"{next_number(session, ctx.org_id, f'st:{conn.id}'):04d}"
    batch = ClaimBatch(org_id=ctx.org_id, connection_id=conn.id, payer_id=payer_id, status="created",
                       interchange_control_number=f"{isa:09d}", group_control_number=str(gs),
                       claim_count=len(mapped), total_charge_cents=sum(c.total_charge_cents for c, _ in mapped))
    session.add(batch)
    session.flush()
    ic = x12.Interchange837(settings, x12.ControlNumbers(isa, gs), stamp, (
        x12.Transaction837(st, batch.id.hex[:30], stamp, submitter, receiver, tuple(xc for _, xc in mapped)),))
    try:
        text = write_837p(ic)
    except X12WriteError as exc:  # checked claim by claim above; a failure here is a bug, not data
        raise ValidationProblem(f"The 837P writer refused the batch: {exc}", field="claims") from exc
    batch.file_name = f"837P_{conn.sender_id.strip()}_{isa:09d}.x12"
    edi = EdiFile(org_id=ctx.org_id, direction="out", kind="837P", sha256=hashlib.sha256(text.encode()).hexdigest(),
                  file_name=batch.file_name, size=len(text), content=text, status="received", connection_id=conn.id,
                  summary={"batch_id": str(batch.id), "claims": len(mapped), "st": st})
    session.add(edi)
    session.flush()
    batch.edi_file_id = edi.id
    for claim, _ in mapped:
        claim.batch_id, claim.st_control_number, claim.submitted_at = batch.id, st, stamp
        move(session, ctx, claim, "submitted", "submit", note=f"Batch {batch.interchange_control_number}",
             detail={"batch_id": str(batch.id), "isa13": batch.interchange_control_number, "st02": st})
    audit.record(session, ctx, "claim_batch.create", "claim_batch", batch.id,
                 detail={"claims": len(mapped), "connection": conn.name})
    return batch


def _refuse(session: Session, ctx: Context, claim: Claim, problems: list[str]) -> None:
    claim.findings = [*claim.findings, *({"rule": "x12_writer", "field": p.split(":", 1)[0].split(".", 2)[-1],
                                          "message": p, "fix": "Correct the data named and scrub again",
                                          "target": "claim", "severity": "error"} for p in problems)]
    claim.finding_count = len(claim.findings)
    move(session, ctx, claim, "draft", "submit", note="The 837P writer refused the claim",
         detail={"problems": problems[:20]})


def _deliver_pending(ctx: Context, only: list[uuid.UUID] | None = None) -> list[str]:
    """Deliver batches still `created` (new ones, or ones whose delivery failed before)."""
    errors = []
    with unit_of_work(ctx) as session:
        stmt = select(ClaimBatch).where(ClaimBatch.status == "created")
        if only is not None:
            if not only:
                return []
            stmt = stmt.where(ClaimBatch.id.in_(only))
        pending = [(b.id, b.connection_id, b.edi_file_id, b.file_name) for b in session.scalars(stmt)]
    for batch_id, conn_id, edi_id, file_name in pending:
        with unit_of_work(ctx) as session:
            conn = get_or_404(session, ClearinghouseConnection, conn_id, "clearinghouse connection")
            edi = get_or_404(session, EdiFile, edi_id, "file")
            deliver = TRANSPORTS.get(conn.kind)
            if deliver is None:
                errors.append(f"{file_name}: no transport for connection kind {conn.kind!r}")
                continue
            try:
                deliver(conn, file_name, edi.content)
            except OSError as exc:
                errors.append(f"{file_name}: {exc}")
                continue
            batch = get_or_404(session, ClaimBatch, batch_id, "batch")
            batch.status, batch.sent_at = "sent", now()
            edi.status, edi.processed_at = "sent", now()
            audit.record(session, ctx, "claim_batch.sent", "claim_batch", batch.id, detail={"file": file_name})
    return errors


def list_batches(ctx: Context, limit: int = 100) -> list[BatchOut]:
    if not ctx.has(BILLING_READ):
        raise Forbidden(f"Permission {BILLING_READ} required")
    with unit_of_work(ctx) as session:
        return [BatchOut.model_validate(b) for b in session.scalars(
            select(ClaimBatch).order_by(ClaimBatch.created_at.desc()).limit(limit))]


def batch_file_id(ctx: Context, batch_id: uuid.UUID) -> uuid.UUID:
    """The outbound 837P file of a batch (for the claim's "raw X12" link)."""
    if not ctx.has(BILLING_READ):
        raise Forbidden(f"Permission {BILLING_READ} required")
    with unit_of_work(ctx) as session:
        batch = get_or_404(session, ClaimBatch, batch_id, "batch")
        if batch.edi_file_id is None:
            raise NotFound("The batch has no file")
        return batch.edi_file_id


def claim_pdf(ctx: Context, claim_id: uuid.UUID) -> tuple[str, bytes]:
    """The claim as a CMS-1500 (02/12) PDF: (file name, bytes). Reading it is audited (PHI)."""
    from praxis.billing import cms1500

    if not ctx.has(BILLING_READ):
        raise Forbidden(f"Permission {BILLING_READ} required")
    with unit_of_work(ctx) as session:
        claim = get_or_404(session, Claim, claim_id, "claim")
        ctx.require(BILLING_READ, claim.location_id, what="claim")
        conn = reference.connection_for_location(session, ctx.org_id, claim.location_id)
        xc = to_x12_claim(session, claim, conn)
        audit.record(session, ctx, "claim.cms1500", "claim", claim.id, patient_id=claim.patient_id,
                     location_id=claim.location_id)
        return f"CMS1500_{claim.claim_number}.pdf", cms1500.render(xc, amount_paid_cents=claim.paid_cents)

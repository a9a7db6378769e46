"""Claims: built from encounters by coverage order, scrubbed, released, corrected and voided, with
every status change written to the claim's history.

Status machine (`TRANSITIONS`): draft -> scrubbed -> ready -> submitted -> accepted -> paid | denied;
submitted/accepted -> rejected -> draft (fix and send again); accepted/paid/denied -> corrected
(a replacement claim, frequency 7, carries the payer's claim number) or void (a frequency-8 claim
tells the payer); a claim never sent is simply voided. A secondary claim is built when the
primary has been adjudicated (paid or denied), with the primary's payment on it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from praxis.billing import reference, scrubber
from praxis.billing.charges import coverages_on
from praxis.billing.models import (
    BillingCounter,
    Claim,
    ClaimEvent,
    ClaimLine,
    Encounter,
    EncounterLine,
    ScrubRuleSet,
    ScrubRun,
)
from praxis.billing.permissions import BILLING_READ, BILLING_SUBMIT
from praxis.billing.schemas import (
    AdjudicationIn,
    ClaimEventOut,
    ClaimLineOut,
    ClaimOut,
    ClaimSummary,
    CleanRateOut,
    CorrectIn,
)
from praxis.patients.models import Coverage, Patient, Payer
from praxis.platform import audit, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Conflict, Forbidden, ValidationProblem
from praxis.platform.ids import new_id
from praxis.platform.paging import keyset_after
from praxis.platform.uow import unit_of_work, write_lock
from praxis.scheduling.models import Provider

STATUSES = ("draft", "scrubbed", "ready", "submitted", "accepted", "rejected", "paid", "denied", "corrected",
            "void")
TRANSITIONS: dict[str, set[str]] = {
    "draft": {"scrubbed", "void"},
    "scrubbed": {"ready", "draft", "void"},
    "ready": {"submitted", "draft", "void"},
    "submitted": {"accepted", "rejected", "paid", "denied"},
    "accepted": {"paid", "denied", "rejected", "corrected", "void"},
    "rejected": {"draft", "void"},
    "paid": {"corrected", "void"},
    "denied": {"corrected", "void"},
    "corrected": set(),
    "void": set(),
}
# An encounter's charges can change only while none of its claims is with a payer.
LOCKING = {"submitted", "accepted", "paid", "denied"}
RESPONSIBILITY = {1: "P", 2: "S", 3: "T"}


class TransitionRefused(Conflict):
    type = "claim-transition"


def next_number(session: Session, org_id: uuid.UUID, name: str, count: int = 1) -> int:
    """Allocate `count` numbers of a persistent per-organisation sequence; returns the last. The
    row lock of UPDATE ... RETURNING serialises allocators for the transaction's length."""
    t = BillingCounter.__table__
    stmt = update(t).where(t.c.org_id == org_id, t.c.name == name).values(value=t.c.value + count) \
        .returning(t.c.value)
    value = session.execute(stmt).scalar()
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(t).values(org_id=org_id, name=name, value=count))
            return count
        except IntegrityError:
            value = session.execute(stmt).scalar_one()
    return int(value)


def move(session: Session, ctx: Context, claim: Claim, to: str, event: str, *, note: str = "",
         detail: dict[str, Any] | None = None, edi_file_id: uuid.UUID | None = None) -> None:
    """Change a claim's status along the machine and write the history row (and the audit)."""
    if to not in TRANSITIONS[claim.status]:
        raise TransitionRefused(f"A {claim.status} claim cannot become {to}", field="status")
    history = ClaimEvent(id=new_id(), org_id=claim.org_id, claim_id=claim.id, event=event,
                         from_status=claim.status, to_status=to, note=note[:1000], detail=detail,
                         edi_file_id=edi_file_id, actor_id=ctx.actor_id, actor_name=ctx.actor_name[:200])
    session.add(history)
    audit.record(session, ctx, f"claim.{event}", "claim", claim.id, patient_id=claim.patient_id,
                 location_id=claim.location_id, detail={"from": claim.status, "to": to})
    # Identifiers and the two statuses only (webhooks pass them on: the minimum necessary, no PHI);
    # the history row's id tells one change from another with the same statuses.
    outbox.emit(session, "billing.claim_status", {
        "claim_id": str(claim.id), "claim_event_id": str(history.id), "patient_id": str(claim.patient_id),
        "payer_id": str(claim.payer_id), "from": claim.status, "to": to})
    claim.status = to
    claim.version += 1


def note_event(session: Session, ctx: Context, claim: Claim, event: str, note: str, *,
               detail: dict[str, Any] | None = None, edi_file_id: uuid.UUID | None = None) -> None:
    """A history row that changes no status (an acknowledgement that only informs)."""
    session.add(ClaimEvent(org_id=claim.org_id, claim_id=claim.id, event=event, from_status=claim.status,
                           to_status=claim.status, note=note[:1000], detail=detail, edi_file_id=edi_file_id,
                           actor_id=ctx.actor_id, actor_name=ctx.actor_name[:200]))


# --- building --------------------------------------------------------------------------------------


def _new_claim(session: Session, ctx: Context, enc: Encounter, cov: Coverage, *, frequency: str = "1",
               original: Claim | None = None, payer_claim_number: str = "") -> Claim:
    number = next_number(session, ctx.org_id, "claim")
    referring = ({"npi": enc.referring_npi, "first_name": enc.referring_first_name,
                  "last_name": enc.referring_last_name} if enc.referring_npi or enc.referring_last_name else None)
    lines = list(session.scalars(select(EncounterLine).where(EncounterLine.encounter_id == enc.id)
                                 .order_by(EncounterLine.line_no)))
    claim = Claim(org_id=ctx.org_id, claim_number=f"{number:06d}", encounter_id=enc.id, patient_id=enc.patient_id,
                  location_id=enc.location_id, coverage_id=cov.id, payer_id=cov.payer_id,
                  responsibility=RESPONSIBILITY.get(cov.priority, "T"), status="draft", frequency=frequency,
                  original_claim_id=original.id if original else None, payer_claim_number=payer_claim_number,
                  date_of_service=enc.date_of_service, rendering_provider_id=enc.rendering_provider_id,
                  referring=referring, place_of_service=enc.place_of_service, diagnoses=list(enc.diagnoses),
                  prior_auth=enc.prior_auth, total_charge_cents=sum(ln.charge_cents for ln in lines))
    session.add(claim)
    session.flush()
    _copy_lines(session, claim, lines)
    session.add(ClaimEvent(org_id=claim.org_id, claim_id=claim.id, event="build", from_status="", to_status="draft",
                           note=f"Built from the encounter of {enc.date_of_service}"
                           + (f" replacing claim {original.claim_number}" if original else ""),
                           actor_id=ctx.actor_id, actor_name=ctx.actor_name[:200]))
    audit.record(session, ctx, "claim.build", "claim", claim.id, patient_id=claim.patient_id,
                 location_id=claim.location_id, detail={"frequency": frequency})
    return claim


def _copy_lines(session: Session, claim: Claim, lines: list[EncounterLine]) -> None:
    for ln in lines:
        session.add(ClaimLine(org_id=claim.org_id, claim_id=claim.id, line_no=ln.line_no,
                              line_control_number=f"{claim.claim_number}-{ln.line_no}", encounter_line_id=ln.id,
                              code=ln.code, modifiers=list(ln.modifiers), units=ln.units,
                              charge_cents=ln.charge_cents, dx_pointers=list(ln.dx_pointers),
                              service_date=ln.service_date or claim.date_of_service))


def build_claims(ctx: Context, encounter_id: uuid.UUID) -> list[ClaimOut]:
    """Build the primary claim of an encounter (to its primary coverage on the date of service)
    and scrub it. Secondary claims follow the primary's adjudication (`record_adjudication`)."""
    with unit_of_work(ctx) as session:
        write_lock(session)
        enc = get_or_404(session, Encounter, encounter_id, "encounter")
        ctx.require(BILLING_SUBMIT, enc.location_id, what="encounter")
        if enc.status == "void":
            raise Conflict("The encounter is void", field="encounter_id")
        live = session.scalars(select(Claim).where(Claim.encounter_id == enc.id,
                                                   Claim.status.not_in(("void", "corrected")))).first()
        if live is not None:
            raise Conflict(f"Claim {live.claim_number} already bills this encounter", field="encounter_id")
        covs = coverages_on(session, enc.patient_id, enc.date_of_service)
        if not covs:
            raise ValidationProblem("The patient has no active coverage on the date of service (self-pay)",
                                    field="encounter_id")
        claim = _new_claim(session, ctx, enc, covs[0])
        enc.status = "billed"
        _scrub(session, ctx, claim)
        return [_out(session, claim)]


def refresh_from_encounter(session: Session, ctx: Context, enc: Encounter) -> None:
    """After the encounter's charges changed: re-copy them into its unsent claims and scrub again."""
    for claim in session.scalars(select(Claim).where(Claim.encounter_id == enc.id,
                                                     Claim.status.in_(("draft", "scrubbed", "ready", "rejected")))):
        for old in session.scalars(select(ClaimLine).where(ClaimLine.claim_id == claim.id)):
            session.delete(old)
        session.flush()
        lines = list(session.scalars(select(EncounterLine).where(EncounterLine.encounter_id == enc.id)
                                     .order_by(EncounterLine.line_no)))
        _copy_lines(session, claim, lines)
        claim.diagnoses, claim.prior_auth = list(enc.diagnoses), enc.prior_auth
        claim.place_of_service, claim.rendering_provider_id = enc.place_of_service, enc.rendering_provider_id
        claim.referring = ({"npi": enc.referring_npi, "first_name": enc.referring_first_name,
                            "last_name": enc.referring_last_name}
                           if enc.referring_npi or enc.referring_last_name else None)
        claim.total_charge_cents = sum(ln.charge_cents for ln in lines)
        if claim.status == "rejected":
            move(session, ctx, claim, "draft", "edit", note="Charges corrected after the rejection")
        session.flush()
        _scrub(session, ctx, claim)


# --- scrubbing -------------------------------------------------------------------------------------


def _party_patient(p: Patient) -> scrubber.Party:
    return scrubber.Party(last_name=p.last_name, first_name=p.first_name, dob=p.dob, sex=p.sex,
                          address_line1=p.address_line1, city=p.city, state=p.state, postal_code=p.postal_code)


def claim_facts(session: Session, claim: Claim, *, today: date | None = None) -> scrubber.ClaimFacts:
    """Everything the scrubber judges about one claim, read in the caller's unit of work."""
    patient = session.scalars(select(Patient).where(Patient.id == claim.patient_id)).one()
    cov = session.scalars(select(Coverage).where(Coverage.id == claim.coverage_id)).one()
    payer = session.scalars(select(Payer).where(Payer.id == claim.payer_id)).one()
    prof = reference.profile_for(session, claim.location_id)
    billing = None if prof is None else scrubber.Party(
        last_name=prof.name, npi=prof.npi, tax_id=prof.tax_id, tax_id_type=prof.tax_id_type,
        taxonomy=prof.taxonomy_code, address_line1=prof.address_line1, city=prof.city, state=prof.state,
        postal_code=prof.postal_code)
    rendering = None
    if claim.rendering_provider_id:
        prov = session.scalars(select(Provider).where(Provider.id == claim.rendering_provider_id)).first()
        if prov is not None:
            rendering = scrubber.Party(last_name=prov.last_name, first_name=prov.first_name, npi=prov.npi or "",
                                       taxonomy=reference.taxonomy_of(session, prov.id))
    referring = None
    if claim.referring:
        referring = scrubber.Party(last_name=claim.referring.get("last_name", ""),
                                   first_name=claim.referring.get("first_name", ""), npi=claim.referring.get("npi", ""))
    lines = list(session.scalars(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)))
    if cov.relationship == "18":
        subscriber = _party_patient(patient)
    else:
        subscriber = scrubber.Party(last_name=cov.subscriber_last_name, first_name=cov.subscriber_first_name,
                                    dob=cov.subscriber_dob, sex=cov.subscriber_sex,
                                    address_line1=cov.subscriber_address_line1, city=cov.subscriber_city,
                                    state=cov.subscriber_state, postal_code=cov.subscriber_postal_code)
    dx_known = reference.loaded_codes(session, "ICD10CM", list(claim.diagnoses))
    proc_codes = [ln.code for ln in lines]
    cpt = reference.loaded_codes(session, "CPT", proc_codes)
    hcpcs = reference.loaded_codes(session, "HCPCS", proc_codes)
    procedures = None if cpt is None and hcpcs is None else frozenset((cpt or set()) | (hcpcs or set()))
    return scrubber.ClaimFacts(
        claim_number=claim.claim_number, frequency=claim.frequency, payer_claim_number=claim.payer_claim_number,
        date_of_service=claim.date_of_service, place_of_service=claim.place_of_service,
        diagnoses=tuple(claim.diagnoses), prior_auth=claim.prior_auth, total_charge_cents=claim.total_charge_cents,
        lines=tuple(scrubber.LineFacts(ln.code, tuple(ln.modifiers), ln.units, ln.charge_cents,
                                       tuple(ln.dx_pointers), ln.service_date) for ln in lines),
        billing=billing, rendering=rendering, referring=referring, patient=_party_patient(patient),
        subscriber=subscriber, relationship=cov.relationship, member_id=cov.member_id, coverage_active=cov.active,
        coverage_from=cov.effective_from, coverage_to=cov.effective_to, payer_name=payer.name,
        payer_edi_id=reference.payer_edi_id(session, payer, "claims", None),
        today=today or now().date(), known_diagnoses=frozenset(dx_known) if dx_known is not None else None,
        known_procedures=procedures, duplicates=tuple(_duplicates(session, claim, proc_codes)))


def _duplicates(session: Session, claim: Claim, proc_codes: list[str]) -> list[str]:
    others = session.scalars(select(Claim).where(
        Claim.patient_id == claim.patient_id, Claim.payer_id == claim.payer_id,
        Claim.date_of_service == claim.date_of_service, Claim.id != claim.id, Claim.frequency == "1",
        Claim.status.not_in(("void", "corrected", "rejected")), Claim.original_claim_id.is_(None)))
    out = []
    for other in others:
        codes = set(session.scalars(select(ClaimLine.code).where(ClaimLine.claim_id == other.id)))
        if codes & set(proc_codes) and other.id != claim.original_claim_id:
            out.append(other.claim_number)
    return out


def rule_set_for(session: Session, payer_id: uuid.UUID) -> tuple[uuid.UUID | None, list[dict[str, Any]]]:
    """The rules a payer's claims are held to: the payer's set over the organisation's default set
    over the built-in rules. Returns the most specific set's id (for the clean-claim rate)."""
    sets = list(session.scalars(select(ScrubRuleSet).where(ScrubRuleSet.active)))
    org_set = next((s for s in sets if s.payer_id is None), None)
    payer_set = next((s for s in sets if s.payer_id == payer_id), None)
    rules = scrubber.default_rules()
    if org_set is not None:
        rules = scrubber.merge_rules(rules, list(org_set.rules))
    if payer_set is not None:
        rules = scrubber.merge_rules(rules, list(payer_set.rules))
    chosen = payer_set or org_set
    return (chosen.id if chosen else None), rules


def _scrub(session: Session, ctx: Context, claim: Claim) -> list[scrubber.Finding]:
    rule_set_id, rules = rule_set_for(session, claim.payer_id)
    session.flush()
    findings = scrubber.scrub(claim_facts(session, claim), rules)
    first = session.scalars(select(ScrubRun.id).where(ScrubRun.claim_id == claim.id).limit(1)).first() is None
    session.add(ScrubRun(org_id=claim.org_id, claim_id=claim.id, rule_set_id=rule_set_id, clean=not findings,
                         first_pass=first, findings=len(findings)))
    claim.findings = [f.as_dict() for f in findings]
    claim.finding_count = len(findings)
    claim.scrubbed_at = now()
    if findings:
        if claim.status in ("scrubbed", "ready"):
            move(session, ctx, claim, "draft", "scrub", note=f"{len(findings)} finding(s)")
        else:
            note_event(session, ctx, claim, "scrub", f"{len(findings)} finding(s)",
                       detail={"rules": sorted({f.rule for f in findings})})
    elif claim.status == "draft":
        move(session, ctx, claim, "scrubbed", "scrub", note="Clean")
        move(session, ctx, claim, "ready", "release", note="Released for submission")
    return findings


def scrub_claim(ctx: Context, claim_id: uuid.UUID) -> ClaimOut:
    """Run the scrubber on a claim that has not gone out: clean -> ready; findings -> draft."""
    with unit_of_work(ctx) as session:
        claim = _load(session, ctx, claim_id, BILLING_SUBMIT)
        if claim.status not in ("draft", "scrubbed", "ready"):
            raise TransitionRefused(f"A {claim.status} claim is not scrubbed again", field="status")
        _scrub(session, ctx, claim)
        return _out(session, claim)


def clean_claim_rates(ctx: Context) -> list[CleanRateOut]:
    """Clean-claim rate per rule set: clean scrub runs / runs, and the first-pass rate."""
    _require_read(ctx)
    with unit_of_work(ctx) as session:
        names = {s.id: s.name for s in session.scalars(select(ScrubRuleSet))}
        stmt = select(ScrubRun.rule_set_id, ScrubRun.first_pass, ScrubRun.clean, func.count()).group_by(
            ScrubRun.rule_set_id, ScrubRun.first_pass, ScrubRun.clean)
        acc: dict[uuid.UUID | None, list[int]] = {}
        for rs, first, clean, n in session.execute(stmt):
            a = acc.setdefault(rs, [0, 0, 0, 0])
            a[0] += n
            a[1] += n if clean else 0
            a[2] += n if first else 0
            a[3] += n if first and clean else 0
        return [CleanRateOut(rule_set_id=rs, name=names.get(rs, "Built-in rules") if rs else "Built-in rules",
                             runs=a[0], clean=a[1], rate=(a[1] / a[0]) if a[0] else None,
                             first_pass_runs=a[2], first_pass_clean=a[3]) for rs, a in acc.items()]


# --- reading ---------------------------------------------------------------------------------------


def _require_read(ctx: Context) -> None:
    if not ctx.has(BILLING_READ):
        raise Forbidden(f"Permission {BILLING_READ} required")


def _load(session: Session, ctx: Context, claim_id: uuid.UUID, permission: str) -> Claim:
    if not ctx.has(permission):
        raise Forbidden(f"Permission {permission} required")
    claim = get_or_404(session, Claim, claim_id, "claim")
    ctx.require(permission, claim.location_id, what="claim")
    return claim


def _out(session: Session, claim: Claim) -> ClaimOut:
    out = ClaimOut.model_validate(claim)
    out.lines = [ClaimLineOut.model_validate(ln) for ln in session.scalars(
        select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no))]
    out.events = [ClaimEventOut.model_validate(e) for e in session.scalars(
        select(ClaimEvent).where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.at, ClaimEvent.id))]
    return out


def get_claim(ctx: Context, claim_id: uuid.UUID) -> ClaimOut:
    """One claim with its lines and history."""
    with unit_of_work(ctx) as session:
        claim = _load(session, ctx, claim_id, BILLING_READ)
        audit.record(session, ctx, "claim.read", "claim", claim.id, patient_id=claim.patient_id,
                     location_id=claim.location_id)
        return _out(session, claim)


def list_claims(ctx: Context, *, status: str | None = None, location_id: uuid.UUID | None = None,
                payer_id: uuid.UUID | None = None, encounter_id: uuid.UUID | None = None,
                with_findings: bool = False, limit: int = 200, after: tuple[Any, ...] | None = None,
                updated_since: datetime | None = None) -> list[ClaimSummary]:
    """Claims in the caller's scope (a work queue when filtered by status / findings), by date of
    service and claim number; `after` is a keyset position (date_of_service, claim_number, id)."""
    _require_read(ctx)
    scope = ctx.scope(BILLING_READ)
    with unit_of_work(ctx) as session:
        stmt = select(Claim).order_by(Claim.date_of_service, Claim.claim_number, Claim.id).limit(limit)
        if after is not None:
            stmt = stmt.where(keyset_after([(Claim.date_of_service, False), (Claim.claim_number, False),
                                            (Claim.id, False)], after))
        if updated_since is not None:
            stmt = stmt.where(Claim.updated_at >= updated_since)
        if status:
            if status not in STATUSES:
                raise ValidationProblem(f"Unknown status {status!r}", field="status")
            stmt = stmt.where(Claim.status == status)
        if location_id:
            ctx.require(BILLING_READ, location_id, what="location")
            stmt = stmt.where(Claim.location_id == location_id)
        elif scope is not None:
            stmt = stmt.where(Claim.location_id.in_(list(scope)))
        if payer_id:
            stmt = stmt.where(Claim.payer_id == payer_id)
        if encounter_id:
            stmt = stmt.where(Claim.encounter_id == encounter_id)
        if with_findings:
            stmt = stmt.where(Claim.finding_count > 0)
        rows = list(session.scalars(stmt))
        audit.record_many(session, ctx, "claim.list", "claim", [(c.id, c.patient_id) for c in rows])
        return [ClaimSummary.model_validate(c) for c in rows]


def status_counts(ctx: Context) -> dict[str, int]:
    _require_read(ctx)
    scope = ctx.scope(BILLING_READ)
    with unit_of_work(ctx) as session:
        stmt = select(Claim.status, func.count()).group_by(Claim.status)
        if scope is not None:
            stmt = stmt.where(Claim.location_id.in_(list(scope)))
        return {s: n for s, n in session.execute(stmt)}


# --- after submission ------------------------------------------------------------------------------


def record_adjudication(ctx: Context, claim_id: uuid.UUID, data: AdjudicationIn) -> list[ClaimOut]:
    """Record a payer's decision by hand (the 835 posting will do this): paid or denied. When the
    patient has a next coverage, its claim is built with this payer's result on it."""
    with unit_of_work(ctx) as session:
        write_lock(session)
        claim = _load(session, ctx, claim_id, BILLING_SUBMIT)
        if data.paid_cents > claim.total_charge_cents:
            raise ValidationProblem("Paid more than the claim's charge", field="paid_cents")
        claim.paid_cents = data.paid_cents if data.outcome == "paid" else 0
        claim.patient_responsibility_cents = data.patient_responsibility_cents
        claim.adjudicated_at = data.adjudicated_on
        if data.payer_claim_number:
            claim.payer_claim_number = data.payer_claim_number
        _spread_payment(session, claim)
        move(session, ctx, claim, data.outcome, "adjudicate",
             note=f"{data.outcome}: {claim.paid_cents / 100:.2f} paid")
        out = [_out(session, claim)]
        nxt = _next_coverage(session, claim)
        if nxt is not None:
            enc = session.scalars(select(Encounter).where(Encounter.id == claim.encounter_id)).one()
            secondary = _new_claim(session, ctx, enc, nxt)
            _scrub(session, ctx, secondary)
            out.append(_out(session, secondary))
        return out


def _spread_payment(session: Session, claim: Claim) -> None:
    """Line-level paid amounts in proportion to charges (the last line takes the rounding), with the
    rest as a CO-45 contractual adjustment: what a secondary claim's 2430 loops report."""
    lines = list(session.scalars(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)))
    paid_total = claim.paid_cents or 0
    left = paid_total
    for i, ln in enumerate(lines):
        share = left if i == len(lines) - 1 else (paid_total * ln.charge_cents // max(claim.total_charge_cents, 1))
        left -= share
        ln.paid_cents = share
        rest = ln.charge_cents - share
        ln.adjustments = [{"group": "CO", "reason": "45", "cents": rest}] if rest > 0 else []


def _next_coverage(session: Session, claim: Claim) -> Coverage | None:
    order = {"P": 1, "S": 2, "T": 3}[claim.responsibility]
    for cov in coverages_on(session, claim.patient_id, claim.date_of_service):
        if cov.priority > order:
            exists = session.scalars(select(Claim.id).where(Claim.encounter_id == claim.encounter_id,
                                                            Claim.coverage_id == cov.id,
                                                            Claim.status.not_in(("void", "corrected")))).first()
            return None if exists else cov
    return None


def correct_claim(ctx: Context, claim_id: uuid.UUID, data: CorrectIn) -> ClaimOut:
    """Replace a claim the payer has (frequency 7 with the payer's claim number): the original
    becomes `corrected`; the replacement starts as a draft from the encounter's current charges."""
    with unit_of_work(ctx) as session:
        write_lock(session)
        claim = _load(session, ctx, claim_id, BILLING_SUBMIT)
        number = data.payer_claim_number or claim.payer_claim_number
        if not number:
            raise ValidationProblem("The payer's claim number is needed for a corrected claim",
                                    field="payer_claim_number")
        move(session, ctx, claim, "corrected", "correct", note=data.note)
        enc = session.scalars(select(Encounter).where(Encounter.id == claim.encounter_id)).one()
        cov = session.scalars(select(Coverage).where(Coverage.id == claim.coverage_id)).one()
        new = _new_claim(session, ctx, enc, cov, frequency="7", original=claim, payer_claim_number=number)
        new.responsibility = claim.responsibility
        _scrub(session, ctx, new)
        return _out(session, new)


def void_claim(ctx: Context, claim_id: uuid.UUID, note: str, payer_claim_number: str = "") -> ClaimOut:
    """Void a claim. Never sent (or rejected): it simply becomes void. Already with the payer: it
    becomes void and a frequency-8 claim with the payer's claim number tells the payer."""
    if not note.strip():
        raise ValidationProblem("Give a reason", field="note")
    with unit_of_work(ctx) as session:
        write_lock(session)
        claim = _load(session, ctx, claim_id, BILLING_SUBMIT)
        with_payer = claim.status in ("accepted", "paid", "denied")
        number = payer_claim_number or claim.payer_claim_number
        if with_payer and not number:
            raise ValidationProblem("The payer's claim number is needed to void a claim the payer has",
                                    field="payer_claim_number")
        move(session, ctx, claim, "void", "void", note=note)
        if not with_payer:
            return _out(session, claim)
        enc = session.scalars(select(Encounter).where(Encounter.id == claim.encounter_id)).one()
        cov = session.scalars(select(Coverage).where(Coverage.id == claim.coverage_id)).one()
        voider = _new_claim(session, ctx, enc, cov, frequency="8", original=claim, payer_claim_number=number)
        voider.responsibility = claim.responsibility
        _scrub(session, ctx, voider)
        return _out(session, voider)


def encounter_locked(session: Session, encounter_id: uuid.UUID) -> bool:
    """True when a claim of the encounter is with a payer (its charges are then changed by a
    corrected claim, not by editing)."""
    return session.scalars(select(Claim.id).where(Claim.encounter_id == encounter_id,
                                                  Claim.status.in_(LOCKING))).first() is not None

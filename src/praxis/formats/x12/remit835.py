"""835 (005010X221A1) reader: a remittance as typed payments a ledger can post.

Payments find what they pay by the identifiers our 837P sent: `ClaimPayment.claim_id` is CLP01
(our CLM01) and `ServicePayment.line_item_control_number` is REF*6R (our 2400 REF*6R). Money
is integer cents. The reader checks the guide's balancing rules and reports a file that does
not balance as defects, next to what it read; it never raises.

Balancing (005010X221A1 section 1.10.2): per service, SVC02 - SVC03 = its CAS amounts; per
claim, CLP03 - CLP04 = claim and service CAS amounts; per transaction, BPR02 = sum of CLP04 -
sum of PLB amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from praxis.formats.x12.reader import Defect, Loop, ReadResult, Segment, TransactionSet, read_interchange
from praxis.formats.x12.values import cents, d8, quantity

CLAIM_STATUS = {
    "1": "Processed as primary",
    "2": "Processed as secondary",
    "3": "Processed as tertiary",
    "4": "Denied",
    "19": "Processed as primary, forwarded to additional payer(s)",
    "20": "Processed as secondary, forwarded to additional payer(s)",
    "21": "Processed as tertiary, forwarded to additional payer(s)",
    "22": "Reversal of previous payment",
    "23": "Not our claim, forwarded to additional payer(s)",
    "25": "Predetermination pricing only, no payment",
}


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One CAS adjustment: group (CO, PR, OA, PI, CR), CARC reason code, cents, quantity."""

    group_code: str
    reason_code: str
    amount_cents: int
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ServicePayment:
    """Loop 2110: one service line's payment, found by our `line_item_control_number` (REF*6R)."""

    procedure_code: str
    modifiers: tuple[str, ...]
    charge_cents: int
    paid_cents: int
    units: Decimal | None
    line_item_control_number: str
    service_date: date | None
    adjustments: tuple[Adjustment, ...]
    allowed_cents: int | None
    remark_codes: tuple[str, ...]
    position: int


@dataclass(frozen=True, slots=True)
class ClaimPayment:
    """Loop 2100: one claim's payment, found by our `claim_id` (CLP01 = our CLM01)."""

    claim_id: str
    status_code: str
    status_text: str
    charge_cents: int
    paid_cents: int
    patient_responsibility_cents: int | None
    claim_filing_indicator: str
    payer_claim_control_number: str
    frequency_code: str
    patient_last_name: str
    patient_first_name: str
    patient_member_id: str
    adjustments: tuple[Adjustment, ...]
    services: tuple[ServicePayment, ...]
    position: int

    @property
    def denied(self) -> bool:
        return self.status_code == "4"

    @property
    def reversal(self) -> bool:
        return self.status_code == "22"


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """PLB: a provider-level adjustment (e.g. WO overpayment recovery, L6 interest), in cents.

    A positive amount reduces the payment; a negative one increases it.
    """

    provider_id: str
    fiscal_period_end: date | None
    reason_code: str
    reference: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Remittance:
    """One 835 transaction set: the payment (BPR/TRN), payer, payee, claims, PLB adjustments."""

    control_number: str
    handling_code: str
    total_paid_cents: int
    credit_debit: str
    payment_method: str
    payment_date: date | None
    trace_number: str
    payer_identifier: str
    payer_name: str
    payer_id: str
    payee_name: str
    payee_id_qualifier: str
    payee_id: str
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]


@dataclass(slots=True)
class Read835:
    """Every 835 in the file, the reader's defects and the balancing defects."""

    result: ReadResult
    remittances: list[Remittance] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)


def _money(seg: Segment, index: int, defects: list[Defect], control: str, required: bool = True) -> int | None:
    text = seg.get(index)
    value = cents(text)
    if value is None and (required or text):
        defects.append(Defect(seg.position, seg.id, "element.invalid",
                              f"{seg.id}{index:02d} {text!r} is not an amount", control))
    return value


def _adjustments(loop: Loop, defects: list[Defect], control: str) -> tuple[Adjustment, ...]:
    out = []
    for cas in loop.all("CAS"):
        for i in range(2, 19, 3):
            if not cas.get(i):
                break
            amount = _money(cas, i + 1, defects, control)
            out.append(Adjustment(cas.get(1), cas.get(i), amount or 0, quantity(cas.get(i + 2))))
    return tuple(out)


def _service(loop: Loop, component: str, defects: list[Defect], control: str) -> ServicePayment:
    svc = loop.segments[0]
    parts = svc.get(1).split(component)
    ref = loop.first("REF", "6R")
    dtm = loop.first("DTM", "472") or loop.first("DTM", "150")
    allowed = loop.first("AMT", "B6")
    charge = _money(svc, 2, defects, control) or 0
    paid = _money(svc, 3, defects, control) or 0
    adjustments = _adjustments(loop, defects, control)
    if charge - paid != sum(a.amount_cents for a in adjustments):
        defects.append(Defect(svc.position, "SVC", "835.balance",
                              f"service charge {svc.get(2)} - paid {svc.get(3)} is not the sum of its adjustments "
                              f"({Decimal(sum(a.amount_cents for a in adjustments)) / 100})", control))
    return ServicePayment(
        procedure_code=parts[1] if len(parts) > 1 else "", modifiers=tuple(m for m in parts[2:6] if m),
        charge_cents=charge, paid_cents=paid, units=quantity(svc.get(5)) if svc.get(5) else None,
        line_item_control_number=ref.get(2) if ref else "", service_date=d8(dtm.get(2)) if dtm else None,
        adjustments=adjustments, allowed_cents=cents(allowed.get(2)) if allowed else None,
        remark_codes=tuple(lq.get(2) for lq in loop.all("LQ", "HE")), position=svc.position)


def _claim(loop: Loop, component: str, defects: list[Defect], control: str) -> ClaimPayment:
    clp = loop.segments[0]
    patient = loop.first("NM1", "QC")
    services = tuple(_service(c, component, defects, control) for c in loop.children if c.id == "2110")
    adjustments = _adjustments(loop, defects, control)
    charge = _money(clp, 3, defects, control) or 0
    paid = _money(clp, 4, defects, control) or 0
    adjusted = sum(a.amount_cents for a in adjustments) + sum(a.amount_cents for s in services for a in s.adjustments)
    if services and charge - paid != adjusted:
        defects.append(Defect(clp.position, "CLP", "835.balance",
                              f"claim charge {clp.get(3)} - paid {clp.get(4)} is not the sum of its adjustments "
                              f"({Decimal(adjusted) / 100})", control))
    return ClaimPayment(
        claim_id=clp.get(1), status_code=clp.get(2), status_text=CLAIM_STATUS.get(clp.get(2), f"code {clp.get(2)}"),
        charge_cents=charge, paid_cents=paid,
        patient_responsibility_cents=_money(clp, 5, defects, control, required=False),
        claim_filing_indicator=clp.get(6), payer_claim_control_number=clp.get(7), frequency_code=clp.get(9),
        patient_last_name=patient.get(3) if patient else "", patient_first_name=patient.get(4) if patient else "",
        patient_member_id=patient.get(9) if patient else "", adjustments=adjustments, services=services,
        position=clp.position)


def _remittance(tx: TransactionSet, component: str, defects: list[Defect]) -> Remittance:
    root = tx.root
    control = tx.control_number
    bpr = root.first("BPR")
    trn = root.first("TRN")
    payer = root.child("1000A")
    payee = root.child("1000B")
    n1_pr = payer.segments[0] if payer else None
    n1_pe = payee.segments[0] if payee else None
    claims = tuple(_claim(loop, component, defects, control) for loop in root.walk("2100"))
    plbs = []
    for plb in root.all("PLB"):
        for i in range(3, 15, 2):
            if not plb.get(i):
                break
            reason, _, reference = plb.get(i).partition(component)
            plbs.append(ProviderAdjustment(provider_id=plb.get(1), fiscal_period_end=d8(plb.get(2)),
                                           reason_code=reason, reference=reference,
                                           amount_cents=_money(plb, i + 1, defects, control) or 0))
    total = _money(bpr, 2, defects, control) if bpr else None
    if total is not None and claims is not None:
        expected = sum(c.paid_cents for c in claims) - sum(p.amount_cents for p in plbs)
        if expected != total:
            defects.append(Defect(bpr.position, "BPR", "835.balance",
                                  f"BPR02 {bpr.get(2)} is not the claims' payments less provider adjustments "
                                  f"({Decimal(expected) / 100})", control))
    return Remittance(
        control_number=control, handling_code=bpr.get(1) if bpr else "", total_paid_cents=total or 0,
        credit_debit=bpr.get(3) if bpr else "", payment_method=bpr.get(4) if bpr else "",
        payment_date=d8(bpr.get(16)) if bpr else None, trace_number=trn.get(2) if trn else "",
        payer_identifier=trn.get(3) if trn else "", payer_name=n1_pr.get(2) if n1_pr else "",
        payer_id=(payer.first("REF", "2U").get(2) if payer and payer.first("REF", "2U") else
                  (n1_pr.get(4) if n1_pr else "")),
        payee_name=n1_pe.get(2) if n1_pe else "", payee_id_qualifier=n1_pe.get(3) if n1_pe else "",
        payee_id=n1_pe.get(4) if n1_pe else "", claims=claims, provider_adjustments=tuple(plbs))


def read_835(data: bytes | str | ReadResult) -> Read835:
    """Every 835 transaction set in `data` as a `Remittance`; never raises."""
    result = data if isinstance(data, ReadResult) else read_interchange(data)
    out = Read835(result=result, defects=list(result.defects))
    try:
        component = result.delimiters.component if result.delimiters else ":"
        for tx in result.transactions("835"):
            out.remittances.append(_remittance(tx, component, out.defects))
    except Exception as exc:  # the reader's guard: a bug becomes a defect, not a crash
        out.defects.append(Defect(0, "", "reader.internal", f"835 reader failed: {exc!r}"))
    return out

"""837P back into the writer's dataclasses (`claim837`): for round trips, for reading the
claims inside a file a clearinghouse returns, and for tests that hold files against the data.

`read_837p(data)` reads the interchange (`read_interchange`) and maps every 837 transaction
set it can onto `Transaction837`/`Claim`; a claim it cannot map is reported as a defect,
never an exception. What the guide does not carry comes back as a neutral value:
a dependant's subscriber has no birth date or sex in the file (2010BA DMG is sent only when
the subscriber is the patient), so those read as `date.min` and "U".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from praxis.formats.x12.claim837 import (
    Address,
    BillingProvider,
    Claim,
    ClaimAdjustment,
    LineAdjudication,
    OtherCoverage,
    OtherPayer,
    OtherSubscriber,
    Patient,
    Payer,
    PayToAddress,
    Provider,
    Receiver,
    ServiceFacility,
    ServiceLine,
    Submitter,
    Subscriber,
    Transaction837,
)
from praxis.formats.x12.reader import Defect, Loop, ReadResult, Segment, TransactionSet, read_interchange
from praxis.formats.x12.values import cents, d8, date_time, quantity


class _Unreadable(ValueError):
    def __init__(self, seg: Segment | None, message: str) -> None:
        super().__init__(message)
        self.seg = seg


@dataclass(slots=True)
class Read837:
    """The 837 transaction sets as dataclasses, with the reader's defects and any mapping defects."""

    result: ReadResult
    transactions: list[Transaction837] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)

    @property
    def claims(self) -> list[Claim]:
        return [c for tx in self.transactions for c in tx.claims]


def read_837p(data: bytes | str | ReadResult) -> Read837:
    """Every 837 transaction set in `data` as `Transaction837` (claims in file order)."""
    result = data if isinstance(data, ReadResult) else read_interchange(data)
    out = Read837(result=result, defects=list(result.defects))
    if result.delimiters is None:
        return out
    component = result.delimiters.component
    for tx in result.transactions("837"):
        try:
            out.transactions.append(_transaction(tx, component))
        except _Unreadable as exc:
            seg = exc.seg
            out.defects.append(Defect(seg.position if seg else 0, seg.elements[0] if seg else "",
                                      "837.unreadable", str(exc), tx.control_number))
        except (IndexError, ValueError, TypeError) as exc:
            out.defects.append(Defect(tx.segments[0].position, "ST", "837.unreadable",
                                      f"transaction set {tx.control_number} cannot be mapped: {exc}",
                                      tx.control_number))
    return out


def _need(loop: Loop | None, seg_id: str, qualifier: str | None = None, *, where: Loop | None = None) -> Segment:
    seg = loop.first(seg_id, qualifier) if loop is not None else None
    if seg is None:
        at = (where or loop)
        first = at.segments[0] if at is not None and at.segments else None
        label = seg_id + (f"*{qualifier}" if qualifier else "")
        raise _Unreadable(first, f"loop {at.id if at else '?'} has no {label} segment")
    return seg


def _amount(seg: Segment, index: int) -> int:
    value = cents(seg.get(index))
    if value is None:
        raise _Unreadable(seg, f"{seg.id}{index:02d} {seg.get(index)!r} is not an amount")
    return value


def _qty(seg: Segment, index: int) -> Decimal:
    value = quantity(seg.get(index))
    if value is None:
        raise _Unreadable(seg, f"{seg.id}{index:02d} {seg.get(index)!r} is not a quantity")
    return value


def _date(seg: Segment, index: int) -> date:
    value = d8(seg.get(index))
    if value is None:
        raise _Unreadable(seg, f"{seg.id}{index:02d} {seg.get(index)!r} is not a CCYYMMDD date")
    return value


def _address(loop: Loop) -> Address | None:
    n3 = loop.first("N3")
    n4 = loop.first("N4")
    if n3 is None or n4 is None:
        return None
    return Address(line1=n3.get(1), line2=n3.get(2), city=n4.get(1), state=n4.get(2), postal_code=n4.get(3),
                   country=n4.get(4))


def _need_address(loop: Loop) -> Address:
    address = _address(loop)
    if address is None:
        raise _Unreadable(loop.segments[0], f"loop {loop.id} has no N3/N4 address")
    return address


def _transaction(tx: TransactionSet, component: str) -> Transaction837:
    root = tx.root
    bht = _need(root, "BHT")
    created = date_time(bht.get(4), bht.get(5))
    if created is None:
        raise _Unreadable(bht, "BHT04/BHT05 is not a date and time")
    l1000a, l1000b = root.child("1000A"), root.child("1000B")
    nm41 = _need(l1000a, "NM1", "41", where=root)
    per = l1000a.first("PER") if l1000a else None
    phone = email = ""
    if per is not None:
        for i in (3, 5, 7):
            if per.get(i) == "TE" and not phone:
                phone = per.get(i + 1)
            elif per.get(i) == "EM" and not email:
                email = per.get(i + 1)
    submitter = Submitter(name=nm41.get(3), submitter_id=nm41.get(9), contact_name=per.get(2) if per else "",
                          phone=phone, email=email, entity_type="1" if nm41.get(2) == "1" else "2",
                          first_name=nm41.get(4))
    nm40 = _need(l1000b, "NM1", "40", where=root)
    receiver = Receiver(name=nm40.get(3), receiver_id=nm40.get(9))
    claims: list[Claim] = []
    for l2000a in root.walk("2000A"):
        billing, pay_to = _billing_provider(l2000a)
        for l2000b in l2000a.walk("2000B"):
            subscriber, payer = _subscriber(l2000b)
            for l2300 in (c for c in l2000b.children if c.id == "2300"):
                claims.append(_claim(l2300, component, billing, pay_to, subscriber, payer, None))
            for l2000c in (c for c in l2000b.children if c.id == "2000C"):
                patient = _patient(l2000c)
                for l2300 in (c for c in l2000c.children if c.id == "2300"):
                    claims.append(_claim(l2300, component, billing, pay_to, subscriber, payer, patient))
    return Transaction837(control_number=tx.control_number, reference=bht.get(3), created=created,
                          submitter=submitter, receiver=receiver, claims=tuple(claims))


def _billing_provider(l2000a: Loop) -> tuple[BillingProvider, PayToAddress | None]:
    prv = l2000a.first("PRV", "BI")
    l2010aa = l2000a.child("2010AA")
    if l2010aa is None:
        raise _Unreadable(l2000a.segments[0], "loop 2000A has no 2010AA (NM1*85)")
    nm1 = l2010aa.segments[0]
    ref = l2010aa.first("REF", "EI") or l2010aa.first("REF", "SY")
    per = l2010aa.first("PER", "IC")
    bp = BillingProvider(
        name=nm1.get(3), npi=nm1.get(9), tax_id=ref.get(2) if ref else "", taxonomy_code=prv.get(3) if prv else "",
        address=_need_address(l2010aa), entity_type="1" if nm1.get(2) == "1" else "2", first_name=nm1.get(4),
        tax_id_qualifier="SY" if ref is not None and ref.get(1) == "SY" else "EI",
        contact_name=per.get(2) if per else "", contact_phone=per.get(4) if per and per.get(3) == "TE" else "")
    l2010ab = l2000a.child("2010AB")
    pay_to = PayToAddress(_need_address(l2010ab)) if l2010ab is not None else None
    return bp, pay_to


def _subscriber(l2000b: Loop) -> tuple[Subscriber, Payer]:
    sbr = _need(l2000b, "SBR")
    l2010ba, l2010bb = l2000b.child("2010BA"), l2000b.child("2010BB")
    if l2010ba is None or l2010bb is None:
        raise _Unreadable(l2000b.segments[0], "loop 2000B needs 2010BA (NM1*IL) and 2010BB (NM1*PR)")
    nm1 = l2010ba.segments[0]
    dmg = l2010ba.first("DMG")
    address = _address(l2010ba) or Address("", "", "", "")
    subscriber = Subscriber(
        member_id=nm1.get(9), last_name=nm1.get(3), first_name=nm1.get(4), middle_name=nm1.get(5),
        suffix=nm1.get(7), sex=_sex(dmg.get(3)) if dmg else "U",
        birth_date=_date(dmg, 2) if dmg else date.min, address=address,
        payer_responsibility=sbr.get(1),  # type: ignore[arg-type]
        claim_filing_indicator=sbr.get(9), group_number=sbr.get(3), group_name=sbr.get(4),
        insurance_type_code=sbr.get(5))
    pr = l2010bb.segments[0]
    payer = Payer(name=pr.get(3), payer_id=pr.get(9), address=_address(l2010bb))
    return subscriber, payer


def _sex(value: str) -> Any:
    return value if value in ("M", "F") else "U"


def _patient(l2000c: Loop) -> Patient:
    pat = _need(l2000c, "PAT")
    l2010ca = l2000c.child("2010CA")
    if l2010ca is None:
        raise _Unreadable(l2000c.segments[0], "loop 2000C has no 2010CA (NM1*QC)")
    nm1 = l2010ca.segments[0]
    dmg = _need(l2010ca, "DMG")
    return Patient(relationship_code=pat.get(1), last_name=nm1.get(3), first_name=nm1.get(4), middle_name=nm1.get(5),
                   suffix=nm1.get(7), sex=_sex(dmg.get(3)), birth_date=_date(dmg, 2),
                   address=_need_address(l2010ca))


def _provider(loop: Loop) -> Provider:
    nm1 = loop.segments[0]
    prv = loop.first("PRV", "PE")
    return Provider(last_name=nm1.get(3), first_name=nm1.get(4), middle_name=nm1.get(5), suffix=nm1.get(7),
                    npi=nm1.get(9), entity_type="2" if nm1.get(2) == "2" else "1",
                    taxonomy_code=prv.get(3) if prv else "")


def _procedure(seg: Segment, index: int, component: str) -> tuple[str, tuple[str, ...]]:
    parts = seg.get(index).split(component)
    if len(parts) < 2 or not parts[1]:
        raise _Unreadable(seg, f"{seg.id}{index:02d} {seg.get(index)!r} has no procedure code")
    return parts[1], tuple(m for m in parts[2:6] if m)


def _adjustments(loop: Loop) -> tuple[ClaimAdjustment, ...]:
    out: list[ClaimAdjustment] = []
    for cas in loop.all("CAS"):
        for i in range(2, 19, 3):
            if not cas.get(i):
                break
            out.append(ClaimAdjustment(group_code=cas.get(1), reason_code=cas.get(i), amount_cents=_amount(cas, i + 1),
                                       quantity=quantity(cas.get(i + 2))))
    return tuple(out)


def _other_coverage(l2320: Loop) -> OtherCoverage:
    sbr = l2320.segments[0]
    amt_d, amt_eaf, oi = l2320.first("AMT", "D"), l2320.first("AMT", "EAF"), l2320.first("OI")
    l2330a, l2330b = l2320.child("2330A"), l2320.child("2330B")
    if l2330a is None or l2330b is None:
        raise _Unreadable(sbr, "loop 2320 needs 2330A (NM1*IL) and 2330B (NM1*PR)")
    nm1 = l2330a.segments[0]
    pr = l2330b.segments[0]
    dtp = l2330b.first("DTP", "573")
    return OtherCoverage(
        payer_responsibility=sbr.get(1),  # type: ignore[arg-type]
        relationship_code=sbr.get(2),
        subscriber=OtherSubscriber(member_id=nm1.get(9), last_name=nm1.get(3), first_name=nm1.get(4),
                                   middle_name=nm1.get(5), suffix=nm1.get(7), address=_address(l2330a),
                                   entity_type="2" if nm1.get(2) == "2" else "1"),
        payer=OtherPayer(name=pr.get(3), payer_id=pr.get(9), address=_address(l2330b)),
        claim_filing_indicator=sbr.get(9), group_number=sbr.get(3), group_name=sbr.get(4),
        paid_cents=_amount(amt_d, 2) if amt_d else None,
        remaining_patient_liability_cents=_amount(amt_eaf, 2) if amt_eaf else None,
        adjustments=_adjustments(l2320), adjudication_date=_date(dtp, 3) if dtp else None,
        benefits_assigned=oi is None or oi.get(3) != "N",
        release_of_information="I" if oi is not None and oi.get(6) == "I" else "Y")


def _line(l2400: Loop, component: str) -> ServiceLine:
    sv1 = _need(l2400, "SV1")
    code, modifiers = _procedure(sv1, 1, component)
    dtp = _need(l2400, "DTP", "472")
    if dtp.get(2) == "RD8":
        start, _, end = dtp.get(3).partition("-")
        service_date, service_end = d8(start), d8(end)
        if service_date is None or service_end is None:
            raise _Unreadable(dtp, f"DTP03 {dtp.get(3)!r} is not a CCYYMMDD-CCYYMMDD range")
    else:
        service_date, service_end = _date(dtp, 3), None
    ref = l2400.first("REF", "6R")
    pointers_text = sv1.get(7)
    try:
        pointers = tuple(int(p) for p in pointers_text.split(component) if p)
    except ValueError:
        raise _Unreadable(sv1, f"SV107 {pointers_text!r} is not a list of diagnosis pointers") from None
    rendering = next((_provider(c) for c in l2400.children if c.id == "2420A"), None)
    adjudications = []
    for l2430 in (c for c in l2400.children if c.id == "2430"):
        svd = l2430.segments[0]
        adj_code, adj_modifiers = _procedure(svd, 3, component)
        adjudications.append(LineAdjudication(
            payer_id=svd.get(1), paid_cents=_amount(svd, 2), procedure_code=adj_code, modifiers=adj_modifiers,
            units=_qty(svd, 5), adjudication_date=_date(_need(l2430, "DTP", "573"), 3),
            adjustments=_adjustments(l2430)))
    return ServiceLine(procedure_code=code, modifiers=modifiers, charge_cents=_amount(sv1, 2),
                       unit_basis="MJ" if sv1.get(3) == "MJ" else "UN", units=_qty(sv1, 4),
                       place_of_service=sv1.get(5), diagnosis_pointers=pointers, service_date=service_date,
                       service_date_end=service_end, line_item_control_number=ref.get(2) if ref else "",
                       rendering_provider=rendering, adjudications=tuple(adjudications))


def _claim(l2300: Loop, component: str, billing: BillingProvider, pay_to: PayToAddress | None,
           subscriber: Subscriber, payer: Payer, patient: Patient | None) -> Claim:
    clm = l2300.segments[0]
    facility = clm.get(5).split(component)
    hi = _need(l2300, "HI")
    diagnoses = tuple(part.split(component, 1)[1] for part in hi.elements[1:] if component in part)
    amt_f5 = l2300.first("AMT", "F5")
    g1, f8 = l2300.first("REF", "G1"), l2300.first("REF", "F8")
    referring = next((_provider(c) for c in l2300.children if c.id == "2310A"), None)
    rendering = next((_provider(c) for c in l2300.children if c.id == "2310B"), None)
    l2310c = l2300.child("2310C")
    service_facility = None
    if l2310c is not None:
        nm1 = l2310c.segments[0]
        service_facility = ServiceFacility(name=nm1.get(3), npi=nm1.get(9), address=_need_address(l2310c))
    return Claim(
        claim_id=clm.get(1), total_charge_cents=_amount(clm, 2), place_of_service=facility[0],
        frequency_code=facility[2] if len(facility) > 2 else "1",  # type: ignore[arg-type]
        billing_provider=billing, pay_to=pay_to, subscriber=subscriber, payer=payer, patient=patient,
        diagnoses=diagnoses, payer_claim_control_number=f8.get(2) if f8 else "",
        prior_authorization=g1.get(2) if g1 else "", referring_provider=referring, rendering_provider=rendering,
        service_facility=service_facility,
        other_coverages=tuple(_other_coverage(c) for c in l2300.children if c.id == "2320"),
        lines=tuple(_line(c, component) for c in l2300.children if c.id == "2400"),
        provider_signature_on_file=clm.get(6) != "N",
        assignment_code=clm.get(7) if clm.get(7) in ("A", "B", "C") else "A",  # type: ignore[arg-type]
        benefits_assigned=clm.get(8) != "N", release_of_information="I" if clm.get(9) == "I" else "Y",
        patient_paid_cents=_amount(amt_f5, 2) if amt_f5 else None)


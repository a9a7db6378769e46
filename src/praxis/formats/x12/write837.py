"""837P (005010X222A1) writer: `Interchange837` in, the interchange's text out.

The writer groups claims into the HL hierarchy (2000A billing provider, 2000B subscriber,
2000C patient), writes segments in the implementation guide's order, counts them into SE01
and checks the data it cannot write correctly (`X12WriteError` lists every problem with the
field path). It is a hot path: one pass, string joins, no intermediate objects per segment.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from praxis.formats.x12.check837 import X12WriteError, check_interchange
from praxis.formats.x12.claim837 import (
    Address,
    BillingProvider,
    Claim,
    ClaimAdjustment,
    Interchange837,
    LineAdjudication,
    OtherCoverage,
    Patient,
    Payer,
    PayToAddress,
    Provider,
    Separators,
    Subscriber,
    Transaction837,
)

IMPLEMENTATION_GUIDE = "005010X222A1"


def money(cents: int) -> str:
    """Integer cents as an X12 decimal ("40", "40.5", "40.05"), never a float."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    if part == 0:
        return f"{sign}{whole}"
    if part % 10 == 0:
        return f"{sign}{whole}.{part // 10}"
    return f"{sign}{whole}.{part:02d}"


def decimal_text(value: Decimal | int) -> str:
    """A quantity without exponent or trailing zeros ("1", "1.5")."""
    if isinstance(value, int):
        return str(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


_D8: dict[date, str] = {}


def _d8(day: date) -> str:
    text = _D8.get(day)
    if text is None:
        if len(_D8) > 50_000:  # a bounded cache: claims repeat a few dates of service and birth
            _D8.clear()
        text = _D8[day] = f"{day.year:04d}{day.month:02d}{day.day:02d}"
    return text


class _Writer:
    """Per-interchange state: separators and the segment buffer."""

    __slots__ = ("c", "e", "out", "t")

    def __init__(self, seps: Separators) -> None:
        self.e = seps.element
        self.c = seps.component
        self.t = seps.segment + seps.line_ending
        self.out: list[str] = []

    def seg(self, *elements: str) -> None:
        """One segment; trailing empty elements are dropped (X12 forbids them)."""
        if elements[-1]:
            self.out.append(self.e.join(elements) + self.t)
            return
        n = len(elements) - 1
        while n > 1 and not elements[n - 1]:
            n -= 1
        self.out.append(self.e.join(elements[:n]) + self.t)

    # -- loops ---------------------------------------------------------------------------

    def address(self, a: Address) -> None:
        if a.line2:
            self.seg("N3", a.line1, a.line2)
        else:
            self.seg("N3", a.line1)
        if a.country:
            self.seg("N4", a.city, a.state, a.postal_code, a.country)
        else:
            self.seg("N4", a.city, a.state, a.postal_code)

    def person(self, code: str, p: Any, id_qualifier: str, ident: str) -> None:
        if p.entity_type == "2":
            self.seg("NM1", code, "2", p.last_name if hasattr(p, "last_name") else p.name, "", "", "", "",
                     id_qualifier if ident else "", ident)
        else:
            self.seg("NM1", code, "1", p.last_name, p.first_name, p.middle_name, "", p.suffix,
                     id_qualifier if ident else "", ident)

    def billing_provider(self, hl: int, bp: BillingProvider, pay_to: PayToAddress | None) -> None:
        self.seg("HL", str(hl), "", "20", "1")
        self.seg("PRV", "BI", "PXC", bp.taxonomy_code)
        if bp.entity_type == "1":
            self.seg("NM1", "85", "1", bp.name, bp.first_name, "", "", "", "XX", bp.npi)
        else:
            self.seg("NM1", "85", "2", bp.name, "", "", "", "", "XX", bp.npi)
        self.address(bp.address)
        self.seg("REF", bp.tax_id_qualifier, bp.tax_id)
        if bp.contact_phone:
            self.seg("PER", "IC", bp.contact_name, "TE", bp.contact_phone)
        if pay_to is not None:
            self.seg("NM1", "87", "2")
            self.address(pay_to.address)

    def subscriber(self, hl: int, parent: int, s: Subscriber, payer: Payer, is_patient: bool) -> None:
        self.seg("HL", str(hl), str(parent), "22", "0" if is_patient else "1")
        self.seg("SBR", s.payer_responsibility, "18" if is_patient else "", s.group_number, s.group_name,
                 s.insurance_type_code, "", "", "", s.claim_filing_indicator)
        self.seg("NM1", "IL", "1", s.last_name, s.first_name, s.middle_name, "", s.suffix, "MI", s.member_id)
        self.address(s.address)
        if is_patient:
            # 2010BA DMG: "required when the patient is the subscriber; otherwise do not send".
            self.seg("DMG", "D8", _d8(s.birth_date), s.sex)
        self.seg("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.payer_id)
        if payer.address is not None:
            self.address(payer.address)

    def patient(self, hl: int, parent: int, p: Patient) -> None:
        self.seg("HL", str(hl), str(parent), "23", "0")
        self.seg("PAT", p.relationship_code)
        self.seg("NM1", "QC", "1", p.last_name, p.first_name, p.middle_name, "", p.suffix)
        self.address(p.address)
        self.seg("DMG", "D8", _d8(p.birth_date), p.sex)

    def procedure(self, code: str, modifiers: tuple[str, ...]) -> str:
        if modifiers:
            return self.c.join(("HC", code, *modifiers))
        return "HC" + self.c + code

    def adjustments(self, adjustments: tuple[ClaimAdjustment, ...]) -> None:
        # One CAS per group code, up to six reason/amount/quantity triplets each.
        groups: dict[str, list[ClaimAdjustment]] = {}
        for adj in adjustments:
            groups.setdefault(adj.group_code, []).append(adj)
        for group_code, items in groups.items():
            for start in range(0, len(items), 6):
                elements = ["CAS", group_code]
                for adj in items[start:start + 6]:
                    elements += [adj.reason_code, money(adj.amount_cents),
                                 "" if adj.quantity is None else decimal_text(adj.quantity)]
                self.seg(*elements)

    def other_coverage(self, oc: OtherCoverage) -> None:
        self.seg("SBR", oc.payer_responsibility, oc.relationship_code, oc.group_number, oc.group_name,
                 "", "", "", "", oc.claim_filing_indicator)
        if oc.adjustments:
            self.adjustments(oc.adjustments)
        if oc.paid_cents is not None:
            self.seg("AMT", "D", money(oc.paid_cents))
        if oc.remaining_patient_liability_cents is not None:
            self.seg("AMT", "EAF", money(oc.remaining_patient_liability_cents))
        self.seg("OI", "", "", "Y" if oc.benefits_assigned else "N", "", "", oc.release_of_information)
        sub = oc.subscriber
        self.person("IL", sub, "MI", sub.member_id)
        if sub.address is not None:
            self.address(sub.address)
        self.seg("NM1", "PR", "2", oc.payer.name, "", "", "", "", "PI", oc.payer.payer_id)
        if oc.payer.address is not None:
            self.address(oc.payer.address)
        if oc.adjudication_date is not None:
            self.seg("DTP", "573", "D8", _d8(oc.adjudication_date))

    def provider(self, code: str, p: Provider) -> None:
        self.person(code, p, "XX", p.npi)
        if code == "82" and p.taxonomy_code:
            self.seg("PRV", "PE", "PXC", p.taxonomy_code)

    def line_adjudication(self, adj: LineAdjudication) -> None:
        self.seg("SVD", adj.payer_id, money(adj.paid_cents), self.procedure(adj.procedure_code, adj.modifiers), "",
                 decimal_text(adj.units))
        if adj.adjustments:
            self.adjustments(adj.adjustments)
        self.seg("DTP", "573", "D8", _d8(adj.adjudication_date))

    def claim(self, c: Claim) -> None:
        e = self.c
        self.seg("CLM", c.claim_id, money(c.total_charge_cents), "", "",
                 f"{c.place_of_service}{e}B{e}{c.frequency_code}",
                 "Y" if c.provider_signature_on_file else "N", c.assignment_code,
                 "Y" if c.benefits_assigned else "N", c.release_of_information)
        if c.patient_paid_cents is not None:
            self.seg("AMT", "F5", money(c.patient_paid_cents))
        if c.prior_authorization:
            self.seg("REF", "G1", c.prior_authorization)
        if c.payer_claim_control_number:
            self.seg("REF", "F8", c.payer_claim_control_number)
        hi = ["HI", f"ABK{e}{c.diagnoses[0]}"]
        hi += [f"ABF{e}{code}" for code in c.diagnoses[1:]]
        self.seg(*hi)
        if c.referring_provider is not None:
            self.provider("DN", c.referring_provider)
        if c.rendering_provider is not None:
            self.provider("82", c.rendering_provider)
        if c.service_facility is not None:
            facility = c.service_facility
            self.seg("NM1", "77", "2", facility.name, "", "", "", "", "XX" if facility.npi else "", facility.npi)
            self.address(facility.address)
        for oc in c.other_coverages:
            self.other_coverage(oc)
        el, t, out = self.e, self.t, self.out
        for n, line in enumerate(c.lines, 1):
            # The hot loop: segments formatted directly (every element here is non-empty but SV105).
            procedure = e.join(("HC", line.procedure_code, *line.modifiers)) if line.modifiers else (
                f"HC{e}{line.procedure_code}")
            pointers = e.join(map(str, line.diagnosis_pointers))
            out.append(f"LX{el}{n}{t}SV1{el}{procedure}{el}{money(line.charge_cents)}{el}{line.unit_basis}{el}"
                       f"{decimal_text(line.units)}{el}{line.place_of_service}{el}{el}{pointers}{t}")
            if line.service_date_end is not None and line.service_date_end != line.service_date:
                out.append(f"DTP{el}472{el}RD8{el}{_d8(line.service_date)}-{_d8(line.service_date_end)}{t}")
            else:
                out.append(f"DTP{el}472{el}D8{el}{_d8(line.service_date)}{t}")
            out.append(f"REF{el}6R{el}{line.line_item_control_number}{t}")
            if line.rendering_provider is not None:
                self.provider("82", line.rendering_provider)
            for adj in line.adjudications:
                self.line_adjudication(adj)

    def transaction(self, tx: Transaction837) -> None:
        start = len(self.out)
        self.seg("ST", "837", tx.control_number, IMPLEMENTATION_GUIDE)
        self.seg("BHT", "0019", "00", tx.reference, tx.created.strftime("%Y%m%d"), tx.created.strftime("%H%M"), "CH")
        sub = tx.submitter
        if sub.entity_type == "1":
            self.seg("NM1", "41", "1", sub.name, sub.first_name, "", "", "", "46", sub.submitter_id)
        else:
            self.seg("NM1", "41", "2", sub.name, "", "", "", "", "46", sub.submitter_id)
        per = ["PER", "IC", sub.contact_name]
        if sub.phone:
            per += ["TE", sub.phone]
        if sub.email:
            per += ["EM", sub.email]
        self.seg(*per)
        self.seg("NM1", "40", "2", tx.receiver.name, "", "", "", "", "46", tx.receiver.receiver_id)

        # HL hierarchy: billing provider -> subscriber (+payer) -> patient, in first-seen order.
        tree: dict[tuple[Any, ...], dict[tuple[Any, ...], dict[Patient | None, list[Claim]]]] = {}
        for c in tx.claims:
            providers = tree.setdefault((c.billing_provider, c.pay_to), {})
            subscribers = providers.setdefault((c.subscriber, c.payer, c.patient is None), {})
            subscribers.setdefault(c.patient, []).append(c)
        hl = 0
        for (bp, pay_to), subscribers in tree.items():
            hl += 1
            bp_hl = hl
            self.billing_provider(hl, bp, pay_to)
            for (subscriber, payer, is_patient), patients in subscribers.items():
                hl += 1
                sub_hl = hl
                self.subscriber(hl, bp_hl, subscriber, payer, is_patient)
                for patient, claims in patients.items():
                    if patient is not None:
                        hl += 1
                        self.patient(hl, sub_hl, patient)
                    for c in claims:
                        self.claim(c)
        # SE01 counts ST..SE; the hot loop appends several segments per string, so count terminators.
        body = "".join(self.out[start:])
        del self.out[start:]
        self.out.append(body)
        self.seg("SE", str(body.count(self.t) + 1), tx.control_number)


def write_837p(ic: Interchange837, *, check: bool = True) -> str:
    """The 837P interchange as text (ISA..IEA), or `X12WriteError` naming every problem.

    `check=False` skips `check_interchange` for data already checked (benchmarks, retries).
    """
    if check:
        problems = check_interchange(ic)
        if problems:
            raise X12WriteError(problems)
    s = ic.settings
    seps = s.separators
    w = _Writer(seps)
    created: datetime = ic.created
    isa13 = f"{ic.control.interchange:09d}"
    w.seg("ISA", s.authorization_qualifier, s.authorization_information.ljust(10), s.security_qualifier,
          s.security_information.ljust(10), s.sender_qualifier, s.sender_id.ljust(15), s.receiver_qualifier,
          s.receiver_id.ljust(15), created.strftime("%y%m%d"), created.strftime("%H%M"), seps.repetition,
          "00501", isa13, "1" if s.acknowledgment_requested else "0", s.usage_indicator, seps.component)
    w.seg("GS", "HC", s.application_sender_code or s.sender_id, s.application_receiver_code or s.receiver_id,
          created.strftime("%Y%m%d"), created.strftime("%H%M"), str(ic.control.group), "X", IMPLEMENTATION_GUIDE)
    for tx in ic.transactions:
        w.transaction(tx)
    w.seg("GE", str(len(ic.transactions)), str(ic.control.group))
    w.seg("IEA", "1", isa13)
    return "".join(w.out)

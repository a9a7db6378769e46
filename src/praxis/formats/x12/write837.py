"""837P (005010X222A1) writer: `Interchange837` in, the interchange's text out.

The writer groups claims into the HL hierarchy (2000A billing provider, 2000B subscriber,
2000C patient), writes segments in the implementation guide's order, counts them into SE01
and checks the data it cannot write correctly (`X12WriteError` lists every problem with the
field path). It is a hot path: one pass, string joins, no intermediate objects per segment.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from praxis.formats.x12 import claim837
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
MAX_DIAGNOSES = 12
MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_LINES = 50
MAX_CLAIM_ID = 20


class X12WriteError(ValueError):
    """The data cannot be written as a valid 837P; `problems` names each field and why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


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
                 "", "", "", "", s.claim_filing_indicator)
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


_TEXT_CACHE: dict[str, re.Pattern[str]] = {}


def _forbidden(seps: Separators) -> re.Pattern[str]:
    key = seps.element + seps.component + seps.repetition + seps.segment
    pattern = _TEXT_CACHE.get(key)
    if pattern is None:
        pattern = re.compile("[" + re.escape(key) + r"\r\n\x00-\x1f]")
        _TEXT_CACHE[key] = pattern
    return pattern


_INPUT_TYPES = {value.__name__: value for value in vars(claim837).values()
                if isinstance(value, type) and is_dataclass(value)}


class _Plan:
    """Which fields of an input dataclass hold text, nested inputs or tuples of either, read
    with one `attrgetter` each (the input check walks every claim: it must be cheap)."""

    __slots__ = ("nested", "nested_tuples", "text_names", "text_tuples", "texts")

    def __init__(self, cls: type) -> None:
        texts, text_tuples, nested, nested_tuples = [], [], [], []
        for f in fields(cls):
            kind = str(f.type).replace(" | None", "")
            if kind.startswith("tuple[str"):
                text_tuples.append(f.name)
            elif kind.startswith("tuple["):
                if kind[6:].split(",")[0] in _INPUT_TYPES:
                    nested_tuples.append(f.name)
            elif kind in _INPUT_TYPES:
                if kind != "Separators":
                    nested.append(f.name)
            elif kind in ("str", "EntityType", "PayerResponsibility", "FrequencyCode") or kind.startswith("Literal"):
                texts.append(f.name)
        self.text_names = frozenset(texts)
        self.texts = attrgetter(*texts, *texts[:1]) if texts else None  # twice the first: always a tuple
        self.text_tuples = tuple(attrgetter(n) for n in text_tuples)
        self.nested = tuple(attrgetter(n) for n in nested)
        self.nested_tuples = tuple(attrgetter(n) for n in nested_tuples)


_PLANS = {cls: _Plan(cls) for cls in _INPUT_TYPES.values()}


def _strings(obj: Any, out: list[str], seen: set[int]) -> None:
    """Every string inside `obj` (the input dataclasses and tuples of them), each object once."""
    seen.add(id(obj))
    plan = _PLANS[type(obj)]
    if plan.texts is not None:
        out += plan.texts(obj)
    for getter in plan.text_tuples:
        out += getter(obj)
    for getter in plan.nested:
        value = getter(obj)
        if value is not None and id(value) not in seen:
            _strings(value, out, seen)
    for getter in plan.nested_tuples:
        for value in getter(obj):
            if id(value) not in seen:
                _strings(value, out, seen)


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))




def _scan_text(obj: Any, path: str, bad: re.Pattern[str], seen: set[int], problems: list[str]) -> None:
    """Fast path: one regular-expression search over all the object's strings; only when it
    finds a separator, walk again to name the field."""
    if id(obj) in seen:
        return
    strings: list[str] = []
    try:
        _strings(obj, strings, seen)
        clean = not bad.search("".join(strings))
    except (TypeError, KeyError, AttributeError):  # not text where text belongs, or not an input type
        clean = False
    if not clean:
        _name_bad_fields(obj, path, bad, problems)


def _name_bad_fields(obj: Any, path: str, bad: re.Pattern[str], problems: list[str]) -> None:
    if not is_dataclass(obj):
        problems.append(f"{path}: {type(obj).__name__} is not one of the 837P input types")
        return
    plan = _PLANS.get(type(obj))
    for name in _field_names(type(obj)):
        value = getattr(obj, name)
        if plan is not None and name in plan.text_names and not isinstance(value, str):
            problems.append(f"{path}.{name}: {type(value).__name__} given, text expected")
        elif isinstance(value, str):
            if bad.search(value):
                problems.append(f"{path}.{name}: contains a separator or control character ({value!r})")
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    if bad.search(item):
                        problems.append(f"{path}.{name}[{i}]: contains a separator or control character ({item!r})")
                elif is_dataclass(item):
                    _name_bad_fields(item, f"{path}.{name}[{i}]", bad, problems)
        elif is_dataclass(value) and not isinstance(value, Separators):
            _name_bad_fields(value, f"{path}.{name}", bad, problems)


def _check_claim(c: Claim, path: str, problems: list[str]) -> None:
    if not c.claim_id or len(c.claim_id) > MAX_CLAIM_ID:
        problems.append(f"{path}.claim_id: must be 1..{MAX_CLAIM_ID} characters")
    if not 1 <= len(c.diagnoses) <= MAX_DIAGNOSES:
        problems.append(f"{path}.diagnoses: {len(c.diagnoses)} given, 1..{MAX_DIAGNOSES} allowed")
    if not 1 <= len(c.lines) <= MAX_LINES:
        problems.append(f"{path}.lines: {len(c.lines)} given, 1..{MAX_LINES} allowed")
    if c.frequency_code in ("7", "8") and not c.payer_claim_control_number:
        problems.append(f"{path}.payer_claim_control_number: required for frequency code {c.frequency_code}")
    total = 0
    line_ids: set[str] = set()
    for i, line in enumerate(c.lines):
        total += line.charge_cents
        if len(line.modifiers) > MAX_MODIFIERS:
            problems.append(f"{path}.lines[{i}].modifiers: {len(line.modifiers)} given, at most {MAX_MODIFIERS}")
        if not 1 <= len(line.diagnosis_pointers) <= MAX_POINTERS:
            problems.append(f"{path}.lines[{i}].diagnosis_pointers: 1..{MAX_POINTERS} pointers required")
        for p in line.diagnosis_pointers:
            if not 1 <= p <= len(c.diagnoses):
                problems.append(f"{path}.lines[{i}].diagnosis_pointers: {p} points at no diagnosis")
        if not line.line_item_control_number:
            problems.append(f"{path}.lines[{i}].line_item_control_number: required")
        elif line.line_item_control_number in line_ids:
            problems.append(f"{path}.lines[{i}].line_item_control_number: repeated within the claim")
        line_ids.add(line.line_item_control_number)
        if line.units <= 0:
            problems.append(f"{path}.lines[{i}].units: must be positive")
    if total != c.total_charge_cents:
        problems.append(f"{path}.total_charge_cents: {c.total_charge_cents} is not the sum of the lines ({total})")


def check_interchange(ic: Interchange837) -> list[str]:
    """Every problem that would make the file invalid, with the field path; [] when writable."""
    problems: list[str] = []
    seps = ic.settings.separators
    chars = [seps.element, seps.component, seps.repetition, seps.segment]
    if any(len(ch) != 1 for ch in chars) or len(set(chars)) != 4:
        problems.append("settings.separators: four distinct single characters required")
        return problems
    if any(ch.isalnum() or ch == " " for ch in chars):
        problems.append("settings.separators: a separator cannot be a letter, digit or space")
    if not 1 <= ic.control.interchange <= 999_999_999:
        problems.append("control.interchange: must be 1..999999999")
    if not 1 <= ic.control.group <= 999_999_999:
        problems.append("control.group: must be 1..999999999")
    s = ic.settings
    for name, value, width in (("sender_id", s.sender_id, 15), ("receiver_id", s.receiver_id, 15),
                               ("authorization_information", s.authorization_information, 10),
                               ("security_information", s.security_information, 10)):
        if len(value) > width:
            problems.append(f"settings.{name}: at most {width} characters")
    if not s.sender_id or not s.receiver_id:
        problems.append("settings: sender_id and receiver_id are required")
    if not ic.transactions:
        problems.append("transactions: at least one transaction set is required")
    bad = _forbidden(seps)
    seen: set[int] = set()
    _scan_text(ic.settings, "settings", bad, {id(seps)}, problems)
    control_numbers: set[str] = set()
    for t, tx in enumerate(ic.transactions):
        tpath = f"transactions[{t}]"
        if not 4 <= len(tx.control_number) <= 9:
            problems.append(f"{tpath}.control_number: must be 4..9 characters")
        if tx.control_number in control_numbers:
            problems.append(f"{tpath}.control_number: repeated within the group")
        control_numbers.add(tx.control_number)
        if not tx.claims:
            problems.append(f"{tpath}.claims: at least one claim is required")
        for name in ("control_number", "reference"):
            if bad.search(getattr(tx, name)):
                problems.append(f"{tpath}.{name}: contains a separator or control character")
        _scan_text(tx.submitter, f"{tpath}.submitter", bad, seen, problems)
        _scan_text(tx.receiver, f"{tpath}.receiver", bad, seen, problems)
        if not (tx.submitter.phone or tx.submitter.email):
            problems.append(f"{tpath}.submitter: a phone or an email is required")
        for i, c in enumerate(tx.claims):
            cpath = f"{tpath}.claims[{i}]"
            _check_claim(c, cpath, problems)
            _scan_text(c, cpath, bad, seen, problems)
    return problems


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

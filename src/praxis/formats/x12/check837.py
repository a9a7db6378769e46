"""The 837P writer's input check: what would make the file invalid, named by field path.

Format rules only (what the implementation guide and X12 syntax demand): counts (12
diagnoses, 4 modifiers, 4 pointers, 50 lines), element lengths, US state codes, separators or
control characters inside text, totals that do not add up, a corrected/void claim without
the payer's claim number, a value of the wrong type. Whether a claim should be billed is the
scrubber's business (billing), not this module's.

It runs on every claim the writer writes, so the fast path is cheap: one `attrgetter` per
dataclass gathers its text fields, one regular expression runs over all of a claim's text,
lengths are compared in a tight loop; only when something is wrong does a second walk name
the fields.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from operator import attrgetter
from typing import Any

from praxis.formats.x12 import claim837
from praxis.formats.x12.claim837 import Address, Claim, Interchange837, Separators

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


# (class, field) -> (minimum length when present, maximum length, required): the element's
# X12 length in 005010X222A1 (NM103 1-60, N401 2-30, NM109 2-80, ...).
_NAME = (1, 60, True)
_FIRST, _MIDDLE, _SUFFIX = (1, 35, False), (1, 25, False), (1, 10, False)
_ID = (2, 80, True)
LIMITS: dict[tuple[str, str], tuple[int, int, bool]] = {
    ("Address", "line1"): (1, 55, True), ("Address", "line2"): (1, 55, False), ("Address", "city"): (2, 30, True),
    ("Address", "state"): (2, 2, False), ("Address", "postal_code"): (3, 15, False),
    ("Address", "country"): (2, 3, False),
    ("Submitter", "name"): _NAME, ("Submitter", "submitter_id"): _ID, ("Submitter", "contact_name"): (1, 60, False),
    ("Submitter", "phone"): (1, 256, False), ("Submitter", "email"): (1, 256, False),
    ("Submitter", "first_name"): _FIRST,
    ("Receiver", "name"): _NAME, ("Receiver", "receiver_id"): _ID,
    ("BillingProvider", "name"): _NAME, ("BillingProvider", "npi"): (10, 10, True),
    ("BillingProvider", "tax_id"): (1, 50, True), ("BillingProvider", "taxonomy_code"): (1, 50, True),
    ("BillingProvider", "first_name"): _FIRST, ("BillingProvider", "contact_name"): (1, 60, False),
    ("BillingProvider", "contact_phone"): (1, 256, False),
    ("Provider", "last_name"): _NAME, ("Provider", "first_name"): _FIRST, ("Provider", "middle_name"): _MIDDLE,
    ("Provider", "suffix"): _SUFFIX, ("Provider", "npi"): (10, 10, True), ("Provider", "taxonomy_code"): (1, 50, False),
    ("Payer", "name"): _NAME, ("Payer", "payer_id"): _ID,
    ("Subscriber", "member_id"): _ID, ("Subscriber", "last_name"): _NAME, ("Subscriber", "first_name"): _FIRST,
    ("Subscriber", "middle_name"): _MIDDLE, ("Subscriber", "suffix"): _SUFFIX,
    ("Subscriber", "group_number"): (1, 50, False), ("Subscriber", "group_name"): (1, 60, False),
    ("Subscriber", "claim_filing_indicator"): (1, 2, True), ("Subscriber", "insurance_type_code"): (1, 3, False),
    ("ServiceFacility", "name"): _NAME, ("ServiceFacility", "npi"): (10, 10, False),
    ("Patient", "relationship_code"): (2, 2, True), ("Patient", "last_name"): _NAME,
    ("Patient", "first_name"): _FIRST, ("Patient", "middle_name"): _MIDDLE, ("Patient", "suffix"): _SUFFIX,
    ("ClaimAdjustment", "group_code"): (1, 2, True), ("ClaimAdjustment", "reason_code"): (1, 5, True),
    ("OtherSubscriber", "member_id"): _ID, ("OtherSubscriber", "last_name"): _NAME,
    ("OtherSubscriber", "first_name"): _FIRST, ("OtherSubscriber", "middle_name"): _MIDDLE,
    ("OtherSubscriber", "suffix"): _SUFFIX,
    ("OtherPayer", "name"): _NAME, ("OtherPayer", "payer_id"): _ID,
    ("OtherCoverage", "relationship_code"): (2, 2, True), ("OtherCoverage", "claim_filing_indicator"): (1, 2, True),
    ("OtherCoverage", "group_number"): (1, 50, False), ("OtherCoverage", "group_name"): (1, 60, False),
    ("LineAdjudication", "payer_id"): _ID, ("LineAdjudication", "procedure_code"): (1, 48, True),
    ("ServiceLine", "procedure_code"): (1, 48, True), ("ServiceLine", "line_item_control_number"): (1, 50, True),
    ("ServiceLine", "place_of_service"): (1, 2, False),
    ("Claim", "claim_id"): (1, MAX_CLAIM_ID, True), ("Claim", "place_of_service"): (1, 2, True),
    ("Claim", "payer_claim_control_number"): (1, 50, False), ("Claim", "prior_authorization"): (1, 50, False),
    ("Transaction837", "control_number"): (4, 9, True), ("Transaction837", "reference"): (1, 50, True),
}
# Text tuples: every item has this length.
ITEM_LIMITS: dict[tuple[str, str], tuple[int, int]] = {
    ("ServiceLine", "modifiers"): (2, 2), ("LineAdjudication", "modifiers"): (2, 2), ("Claim", "diagnoses"): (1, 30),
}

US_STATES = frozenset((
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID",
    "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO",
    "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "AS",
    "GU", "MP", "PR", "VI", "FM", "MH", "PW", "AA", "AE", "AP",
))
CA_PROVINCES = frozenset(["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"])

_INPUT_TYPES = {value.__name__: value for value in vars(claim837).values()
                if isinstance(value, type) and is_dataclass(value)}


class _Plan:
    """Which fields of an input dataclass hold text (with their length rule), nested inputs or
    tuples of either, each read with one `attrgetter`."""

    __slots__ = ("item_limits", "limits", "nested", "nested_tuples", "text_names", "text_tuples", "texts")

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
        name = cls.__name__
        self.text_names = frozenset(texts)
        # Repeat the first name so the getter always returns a tuple, even for one field.
        self.texts = attrgetter(*texts, *texts[:1]) if texts else None
        self.limits = tuple(LIMITS.get((name, t), (0, 10_000, False)) for t in (*texts, *texts[:1]))
        self.text_tuples = tuple(attrgetter(n) for n in text_tuples)
        self.item_limits = tuple(ITEM_LIMITS.get((name, n), (1, 10_000)) for n in text_tuples)
        self.nested = tuple(attrgetter(n) for n in nested)
        self.nested_tuples = tuple(attrgetter(n) for n in nested_tuples)


_PLANS = {cls: _Plan(cls) for cls in _INPUT_TYPES.values()}
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _forbidden(seps: Separators) -> re.Pattern[str]:
    key = seps.element + seps.component + seps.repetition + seps.segment
    pattern = _PATTERNS.get(key)
    if pattern is None:
        pattern = _PATTERNS[key] = re.compile("[" + re.escape(key) + r"\r\n\x00-\x1f]")
    return pattern


def _gather(obj: Any, out: list[str], seen: set[int]) -> bool:
    """Append every string inside `obj` to `out` (each object once); False when a length rule
    or a state code is broken somewhere inside."""
    seen.add(id(obj))
    plan = _PLANS[type(obj)]
    ok = True
    if plan.texts is not None:
        values = plan.texts(obj)
        out += values
        for value, (low, high, required) in zip(values, plan.limits, strict=True):
            n = len(value)
            if n > high or (n < low and (n or required)):
                ok = False
    for getter, (low, high) in zip(plan.text_tuples, plan.item_limits, strict=True):
        values = getter(obj)
        out += values
        for value in values:
            if not low <= len(value) <= high:
                ok = False
    if type(obj) is Address and not _state_ok(obj):
        ok = False
    for getter in plan.nested:
        value = getter(obj)
        if value is not None and id(value) not in seen:
            ok = _gather(value, out, seen) and ok
    for getter in plan.nested_tuples:
        for value in getter(obj):
            if id(value) not in seen:
                ok = _gather(value, out, seen) and ok
    return ok


def _state_ok(a: Address) -> bool:
    if a.country in ("", "US"):
        return a.state in US_STATES and len(a.postal_code) in (5, 9) and a.postal_code.isdigit()
    if a.country == "CA":
        return a.state in CA_PROVINCES
    return True


def _scan(obj: Any, path: str, bad: re.Pattern[str], seen: set[int], problems: list[str]) -> None:
    """Fast path over `obj`; only when something is wrong, walk again to name the fields."""
    if id(obj) in seen:
        return
    strings: list[str] = []
    try:
        clean = _gather(obj, strings, seen) and not bad.search("".join(strings))
    except (TypeError, KeyError, AttributeError):  # not text where text belongs, or not an input type
        clean = False
    if not clean:
        _name_problems(obj, path, bad, problems)


def _name_problems(obj: Any, path: str, bad: re.Pattern[str], problems: list[str]) -> None:
    if not is_dataclass(obj) or type(obj) not in _PLANS:
        problems.append(f"{path}: {type(obj).__name__} is not one of the 837P input types")
        return
    cls = type(obj)
    plan = _PLANS[cls]
    if cls is Address and not _state_ok(obj):
        if obj.country in ("", "US"):
            problems.append(f"{path}: a US address needs a state code and a 5 or 9 digit postal code "
                            f"({obj.state!r}, {obj.postal_code!r})")
        else:
            problems.append(f"{path}.state: {obj.state!r} is not a Canadian province code")
    for f in fields(obj):
        name = f.name
        value = getattr(obj, name)
        if name in plan.text_names:
            if not isinstance(value, str):
                problems.append(f"{path}.{name}: {type(value).__name__} given, text expected")
                continue
            if bad.search(value):
                problems.append(f"{path}.{name}: contains a separator or control character ({value!r})")
            low, high, required = LIMITS.get((cls.__name__, name), (0, 10_000, False))
            if len(value) > high or (len(value) < low and (value or required)):
                what = "is required" if not value else f"has {len(value)} characters"
                problems.append(f"{path}.{name}: {what}; {low}..{high} allowed")
        elif isinstance(value, tuple):
            low, high = ITEM_LIMITS.get((cls.__name__, name), (1, 10_000))
            for i, item in enumerate(value):
                if isinstance(item, str):
                    if bad.search(item):
                        problems.append(f"{path}.{name}[{i}]: contains a separator or control character ({item!r})")
                    if not low <= len(item) <= high:
                        problems.append(f"{path}.{name}[{i}]: {item!r} has {len(item)} characters; {low}..{high} "
                                        "allowed")
                elif is_dataclass(item):
                    _name_problems(item, f"{path}.{name}[{i}]", bad, problems)
                else:
                    problems.append(f"{path}.{name}[{i}]: {type(item).__name__} given")
        elif is_dataclass(value) and not isinstance(value, Separators):
            _name_problems(value, f"{path}.{name}", bad, problems)


def _check_claim(c: Claim, path: str, problems: list[str]) -> None:
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
        if line.line_item_control_number in line_ids:
            problems.append(f"{path}.lines[{i}].line_item_control_number: repeated within the claim")
        line_ids.add(line.line_item_control_number)
        if line.units <= 0:
            problems.append(f"{path}.lines[{i}].units: must be positive")
        if line.charge_cents < 0:
            problems.append(f"{path}.lines[{i}].charge_cents: must not be negative")
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
                               ("security_information", s.security_information, 10),
                               ("application_sender_code", s.application_sender_code, 15),
                               ("application_receiver_code", s.application_receiver_code, 15)):
        if len(value) > width:
            problems.append(f"settings.{name}: at most {width} characters")
    if not s.sender_id or not s.receiver_id:
        problems.append("settings: sender_id and receiver_id are required")
    if not ic.transactions:
        problems.append("transactions: at least one transaction set is required")
    bad = _forbidden(seps)
    seen: set[int] = set()
    _scan(ic.settings, "settings", bad, {id(seps)}, problems)
    control_numbers: set[str] = set()
    for t, tx in enumerate(ic.transactions):
        tpath = f"transactions[{t}]"
        if tx.control_number in control_numbers:
            problems.append(f"{tpath}.control_number: repeated within the group")
        control_numbers.add(tx.control_number)
        if not tx.claims:
            problems.append(f"{tpath}.claims: at least one claim is required")
        for name in ("control_number", "reference"):
            value = getattr(tx, name)
            low, high, _ = LIMITS[("Transaction837", name)]
            if bad.search(value):
                problems.append(f"{tpath}.{name}: contains a separator or control character")
            if not low <= len(value) <= high:
                problems.append(f"{tpath}.{name}: must be {low}..{high} characters")
        _scan(tx.submitter, f"{tpath}.submitter", bad, seen, problems)
        _scan(tx.receiver, f"{tpath}.receiver", bad, seen, problems)
        if not (tx.submitter.phone or tx.submitter.email):
            problems.append(f"{tpath}.submitter: a phone or an email is required")
        for i, c in enumerate(tx.claims):
            cpath = f"{tpath}.claims[{i}]"
            _check_claim(c, cpath, problems)
            _scan(c, cpath, bad, seen, problems)
    return problems

"""The claim scrubber: rules as data, evaluated by pure code (no I/O).

The claims service gathers a claim's facts (`ClaimFacts`: the claim, billing provider, patient,
subscriber, coverage, payer, the loaded code lists and any duplicates) and hands them here with a
rule set: a list of `{"rule": name, "enabled": true, ...params}` documents stored per organisation
and payer (`ScrubRuleSet`). Each finding names the rule, the field (a path such as
`lines[2].dx_pointers`), what is wrong and how to fix it, and where the fix is made (`target`:
encounter, billing_profile, coverage, patient, provider, claim), so a worklist can jump there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from praxis.billing import codes


@dataclass(frozen=True)
class Party:
    """A person or organisation on the claim (billing provider, patient, subscriber, providers)."""

    last_name: str = ""
    first_name: str = ""
    npi: str = ""
    tax_id: str = ""
    tax_id_type: str = "EIN"
    taxonomy: str = ""
    dob: date | None = None
    sex: str = ""
    address_line1: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""


@dataclass(frozen=True)
class LineFacts:
    code: str
    modifiers: tuple[str, ...]
    units: int
    charge_cents: int
    dx_pointers: tuple[int, ...]
    service_date: date


@dataclass(frozen=True)
class ClaimFacts:
    claim_number: str
    frequency: str
    payer_claim_number: str
    date_of_service: date
    place_of_service: str
    diagnoses: tuple[str, ...]
    prior_auth: str
    total_charge_cents: int
    lines: tuple[LineFacts, ...]
    billing: Party | None
    rendering: Party | None
    referring: Party | None
    patient: Party
    subscriber: Party
    relationship: str
    member_id: str
    coverage_active: bool
    coverage_from: date | None
    coverage_to: date | None
    payer_name: str
    payer_edi_id: str
    today: date
    known_diagnoses: frozenset[str] | None = None  # None: no ICD-10-CM list loaded
    known_procedures: frozenset[str] | None = None  # None: no CPT/HCPCS list loaded
    duplicates: tuple[str, ...] = ()  # claim numbers of other live claims for the same service


@dataclass(frozen=True)
class Finding:
    rule: str
    field: str
    message: str
    fix: str
    target: str = "claim"
    severity: str = "error"

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "field": self.field, "message": self.message, "fix": self.fix,
                "target": self.target, "severity": self.severity}


Rule = Callable[[ClaimFacts, dict[str, Any]], list[Finding]]
RULES: dict[str, Rule] = {}
DESCRIPTIONS: dict[str, str] = {}


def rule(name: str, description: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[name] = fn
        DESCRIPTIONS[name] = description
        return fn
    return register


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@rule("required_fields", "Every field the 837P needs is present")
def required_fields(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []

    def need(value: object, path: str, what: str, fix: str, target: str) -> None:
        if _missing(value):
            out.append(Finding("required_fields", path, f"{what} is missing", fix, target))

    if c.billing is None:
        out.append(Finding("required_fields", "billing", "The location has no billing identity",
                           "Enter the location's billing NPI, tax id and address", "billing_profile"))
    else:
        b = c.billing
        for attr, what in (("last_name", "Billing provider name"), ("npi", "Billing NPI"),
                           ("tax_id", "Billing tax id"), ("address_line1", "Billing street address"),
                           ("city", "Billing city"), ("state", "Billing state"), ("postal_code", "Billing ZIP code")):
            need(getattr(b, attr), f"billing.{attr}", what, "Complete the location's billing identity",
                 "billing_profile")
        if p.get("billing_taxonomy", True):
            need(b.taxonomy, "billing.taxonomy", "Billing provider taxonomy code",
                 "Enter the taxonomy code (e.g. 207Q00000X) on the billing identity", "billing_profile")
    for attr, what in (("last_name", "Patient last name"), ("first_name", "Patient first name"),
                       ("dob", "Patient date of birth"), ("address_line1", "Patient street address"),
                       ("city", "Patient city"), ("state", "Patient state"), ("postal_code", "Patient ZIP code")):
        need(getattr(c.patient, attr), f"patient.{attr}", what, "Complete the patient's demographics", "patient")
    need(c.member_id, "coverage.member_id", "Member id", "Enter the member id from the insurance card", "coverage")
    need(c.payer_edi_id, "payer.edi_id", "Payer EDI id", "Set the payer's claims id in the payer directory",
         "payer")
    if not c.diagnoses:
        out.append(Finding("required_fields", "diagnoses", "No diagnosis", "Add at least one ICD-10-CM diagnosis",
                           "encounter"))
    if not c.lines:
        out.append(Finding("required_fields", "lines", "No service line", "Add at least one procedure",
                           "encounter"))
    if p.get("rendering_provider", True) and c.rendering is None:
        out.append(Finding("required_fields", "rendering_provider_id", "No rendering provider",
                           "Choose the provider who saw the patient", "encounter"))
    if c.place_of_service not in codes.PLACES_OF_SERVICE:
        out.append(Finding("required_fields", "place_of_service",
                           f"Place of service {c.place_of_service!r} is not a CMS code",
                           "Choose a place of service from the CMS list", "encounter"))
    if c.frequency in ("7", "8") and _missing(c.payer_claim_number):
        out.append(Finding("required_fields", "payer_claim_number",
                           "A corrected or void claim needs the payer's claim number",
                           "Enter the payer claim control number from the 835 or 277CA", "claim"))
    return out


@rule("npi_check_digit", "NPIs are 10 digits with a valid check digit (Luhn with the 80840 prefix)")
def npi_check_digit(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    out = []
    for path, party, target in (("billing.npi", c.billing, "billing_profile"),
                                ("rendering.npi", c.rendering, "provider"),
                                ("referring_npi", c.referring, "encounter")):
        if party is None or _missing(party.npi):
            if path == "rendering.npi" and party is not None:
                out.append(Finding("npi_check_digit", path, "The rendering provider has no NPI",
                                   "Enter the provider's NPI", target))
            continue
        if not codes.npi_ok(party.npi):
            out.append(Finding("npi_check_digit", path, f"NPI {party.npi} fails its check digit",
                               "Re-type the NPI from NPPES (10 digits)", target))
    return out


@rule("tax_id_format", "The billing tax id is a valid EIN (or SSN)")
def tax_id_format(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    if c.billing is None or _missing(c.billing.tax_id):
        return []
    if codes.tax_id_ok(c.billing.tax_id, c.billing.tax_id_type):
        return []
    return [Finding("tax_id_format", "billing.tax_id", f"{c.billing.tax_id} is not a valid {c.billing.tax_id_type}",
                    "Enter the 9-digit EIN the IRS assigned", "billing_profile")]


@rule("icd10", "Diagnoses are well-formed ICD-10-CM codes, and in the loaded list when there is one")
def icd10(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    out = []
    if len(c.diagnoses) > 12:
        out.append(Finding("icd10", "diagnoses", f"{len(c.diagnoses)} diagnoses; a claim carries at most 12",
                           "Keep the 12 that the lines point to", "encounter"))
    for i, dx in enumerate(c.diagnoses):
        if not codes.icd10_format_ok(dx):
            out.append(Finding("icd10", f"diagnoses[{i}]", f"{dx!r} is not an ICD-10-CM code",
                               "Use a code such as E11.9 (letter, digit, then up to 5 characters)", "encounter"))
        elif c.known_diagnoses is not None and codes.normalise_icd10(dx) not in c.known_diagnoses:
            out.append(Finding("icd10", f"diagnoses[{i}]",
                               f"{codes.display_icd10(dx)} is not in the loaded ICD-10-CM list (deleted or "
                               "not billable)", "Choose a billable code of the current year", "encounter"))
    return out


@rule("dx_pointers", "Every line points to 1-4 diagnoses that exist")
def dx_pointers(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    out = []
    for i, ln in enumerate(c.lines):
        if not ln.dx_pointers:
            out.append(Finding("dx_pointers", f"lines[{i}].dx_pointers", f"Line {i + 1} points to no diagnosis",
                               "Point the line to the diagnosis it treats", "encounter"))
        elif len(ln.dx_pointers) > 4:
            out.append(Finding("dx_pointers", f"lines[{i}].dx_pointers", f"Line {i + 1} has more than 4 pointers",
                               "Keep the 4 most relevant diagnoses", "encounter"))
        bad = [ptr for ptr in ln.dx_pointers if ptr < 1 or ptr > len(c.diagnoses)]
        if bad:
            out.append(Finding("dx_pointers", f"lines[{i}].dx_pointers",
                               f"Line {i + 1} points to diagnosis {', '.join(map(str, bad))}, but the claim has "
                               f"{len(c.diagnoses)}", "Add the diagnosis or correct the pointer", "encounter"))
    return out


@rule("procedure_codes", "Procedure codes are well formed, and in the loaded CPT/HCPCS list when there is one")
def procedure_codes(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    out = []
    for i, ln in enumerate(c.lines):
        if not codes.procedure_format_ok(ln.code):
            out.append(Finding("procedure_codes", f"lines[{i}].code", f"{ln.code!r} is not a CPT/HCPCS code",
                               "Enter a 5-character CPT or HCPCS code", "encounter"))
        elif c.known_procedures is not None and ln.code not in c.known_procedures:
            out.append(Finding("procedure_codes", f"lines[{i}].code", f"{ln.code} is not in the loaded code list",
                               "Use a current code, or load this year's list", "encounter"))
        if ln.charge_cents <= 0:
            out.append(Finding("procedure_codes", f"lines[{i}].charge_cents", f"Line {i + 1} has no charge",
                               "Enter the charge or add the code to the fee schedule", "encounter"))
        if ln.units < 1:
            out.append(Finding("procedure_codes", f"lines[{i}].units", f"Line {i + 1} has no units",
                               "Enter at least 1 unit", "encounter"))
    if sum(ln.charge_cents for ln in c.lines) != c.total_charge_cents:
        out.append(Finding("procedure_codes", "total_charge_cents", "The total differs from the sum of the lines",
                           "Rebuild the claim from its encounter", "claim"))
    return out


@rule("coverage_active", "The coverage is active on the date of service")
def coverage_active(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    if not c.coverage_active:
        return [Finding("coverage_active", "coverage", "The coverage has been ended",
                        "Bill the patient's current coverage or reactivate this one", "coverage")]
    if c.coverage_from and c.date_of_service < c.coverage_from:
        return [Finding("coverage_active", "coverage.effective_from",
                        f"The coverage starts {c.coverage_from}, after the date of service {c.date_of_service}",
                        "Check the coverage dates or bill the coverage in effect then", "coverage")]
    if c.coverage_to and c.date_of_service > c.coverage_to:
        return [Finding("coverage_active", "coverage.effective_to",
                        f"The coverage ended {c.coverage_to}, before the date of service {c.date_of_service}",
                        "Check the coverage dates or bill the coverage in effect then", "coverage")]
    return []


@rule("subscriber_complete", "A dependant's subscriber has name, birth date, sex and address")
def subscriber_complete(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    if c.relationship == "18":
        out = []
        if c.patient.sex not in ("M", "F"):
            out.append(Finding("subscriber_complete", "patient.sex",
                               "The patient (the subscriber) has no sex recorded as M or F",
                               "Record the sex on the insurance card", "patient"))
        return out
    s = c.subscriber
    out = []
    for attr, what in (("last_name", "last name"), ("first_name", "first name"), ("dob", "date of birth"),
                       ("address_line1", "street address"), ("city", "city"), ("state", "state"),
                       ("postal_code", "ZIP code")):
        if _missing(getattr(s, attr)):
            out.append(Finding("subscriber_complete", f"coverage.subscriber_{attr}", f"Subscriber {what} is missing",
                               "Complete the subscriber on the coverage", "coverage"))
    if s.sex not in ("M", "F"):
        out.append(Finding("subscriber_complete", "coverage.subscriber_sex", "Subscriber sex is not M or F",
                           "Record the subscriber's sex on the coverage", "coverage"))
    if c.patient.sex not in ("M", "F"):
        out.append(Finding("subscriber_complete", "patient.sex", "The patient has no sex recorded as M or F",
                           "Record the patient's sex", "patient"))
    return out


@rule("timely_filing", "The claim goes out within the payer's filing limit (days after the date of service)")
def timely_filing(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    days = int(p.get("days", 365))
    age = (c.today - c.date_of_service).days
    if age > days:
        return [Finding("timely_filing", "date_of_service",
                        f"The service is {age} days old; this payer's limit is {days} days",
                        "Send with proof of timely filing, or write the charge off", "claim")]
    return []


@rule("duplicate_claim", "No other live claim bills the same patient, payer, date and codes")
def duplicate_claim(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    if c.frequency != "1" or not c.duplicates:
        return []
    return [Finding("duplicate_claim", "claim_number",
                    f"Claim {', '.join(c.duplicates)} already bills this service",
                    "Void this claim, or send a corrected claim (frequency 7) instead", "claim")]


DEFAULT_FORBIDDEN_PAIRS = [["LT", "RT"], ["26", "TC"], ["59", "XE"], ["59", "XS"], ["59", "XP"], ["59", "XU"],
                           ["50", "LT"], ["50", "RT"]]


@rule("modifier_combinations", "Modifiers that must not appear together on a line, and no repeated modifier")
def modifier_combinations(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    pairs = [tuple(x) for x in p.get("forbidden_pairs", DEFAULT_FORBIDDEN_PAIRS)]
    out = []
    for i, ln in enumerate(c.lines):
        mods = list(ln.modifiers)
        if len(mods) > 4:
            out.append(Finding("modifier_combinations", f"lines[{i}].modifiers", f"Line {i + 1} has more than 4 "
                               "modifiers", "Keep at most 4", "encounter"))
        if len(set(mods)) != len(mods):
            out.append(Finding("modifier_combinations", f"lines[{i}].modifiers",
                               f"Line {i + 1} repeats a modifier", "List each modifier once", "encounter"))
        for a, b in pairs:
            if a in mods and b in mods:
                out.append(Finding("modifier_combinations", f"lines[{i}].modifiers",
                                   f"Line {i + 1} has both {a} and {b}",
                                   "Split into two lines or keep the one modifier that applies", "encounter"))
        for m in mods:
            if not codes.modifier_format_ok(m):
                out.append(Finding("modifier_combinations", f"lines[{i}].modifiers",
                                   f"{m!r} is not a modifier", "Modifiers are two letters or digits", "encounter"))
    return out


@rule("prior_auth", "Listed procedure codes need a prior-authorisation number")
def prior_auth(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    listed = {str(x).upper() for x in p.get("codes", [])}
    if not listed or c.prior_auth.strip():
        return []
    hit = sorted({ln.code for ln in c.lines if ln.code in listed})
    if not hit:
        return []
    return [Finding("prior_auth", "prior_auth", f"{', '.join(hit)} needs prior authorisation from this payer",
                    "Enter the authorisation number the payer gave", "encounter")]


@rule("required_modifiers", "Listed procedure codes need one of the listed modifiers (e.g. 95 for telehealth)")
def required_modifiers(c: ClaimFacts, p: dict[str, Any]) -> list[Finding]:
    out = []
    for req in p.get("requirements", []):
        code_list = {str(x).upper() for x in req.get("codes", [])}
        mods = {str(x).upper() for x in req.get("modifiers", [])}
        pos = {str(x) for x in req.get("places_of_service", [])}
        if pos and c.place_of_service not in pos:
            continue
        for i, ln in enumerate(c.lines):
            if (not code_list or ln.code in code_list) and mods and not mods & set(ln.modifiers):
                out.append(Finding("required_modifiers", f"lines[{i}].modifiers",
                                   f"Line {i + 1} ({ln.code}) needs modifier {' or '.join(sorted(mods))}",
                                   "Add the modifier the payer requires", "encounter"))
    return out


def default_rules() -> list[dict[str, Any]]:
    """The built-in rule set: every rule on, with default parameters."""
    return [{"rule": "required_fields", "enabled": True}, {"rule": "npi_check_digit", "enabled": True},
            {"rule": "tax_id_format", "enabled": True}, {"rule": "icd10", "enabled": True},
            {"rule": "dx_pointers", "enabled": True}, {"rule": "procedure_codes", "enabled": True},
            {"rule": "coverage_active", "enabled": True}, {"rule": "subscriber_complete", "enabled": True},
            {"rule": "timely_filing", "enabled": True, "days": 365}, {"rule": "duplicate_claim", "enabled": True},
            {"rule": "modifier_combinations", "enabled": True, "forbidden_pairs": DEFAULT_FORBIDDEN_PAIRS},
            {"rule": "prior_auth", "enabled": True, "codes": []},
            {"rule": "required_modifiers", "enabled": True, "requirements": []}]


def check_rule_set(rules: list[dict[str, Any]]) -> list[str]:
    """Problems of a rule-set document (unknown rule, bad parameter), by position."""
    problems = []
    for i, r in enumerate(rules):
        name = r.get("rule")
        if name not in RULES:
            problems.append(f"rules[{i}].rule: unknown rule {name!r}; one of {', '.join(sorted(RULES))}")
            continue
        if "enabled" in r and not isinstance(r["enabled"], bool):
            problems.append(f"rules[{i}].enabled: true or false")
        if name == "timely_filing" and not (isinstance(r.get("days", 365), int) and 1 <= r.get("days", 365) <= 3650):
            problems.append(f"rules[{i}].days: a whole number of days, 1 to 3650")
        if name == "prior_auth" and not all(isinstance(x, str) and codes.procedure_format_ok(x)
                                            for x in r.get("codes", [])):
            problems.append(f"rules[{i}].codes: a list of CPT/HCPCS codes")
        if name == "modifier_combinations" and not all(
                isinstance(x, list) and len(x) == 2 and all(isinstance(m, str) for m in x)
                for x in r.get("forbidden_pairs", [])):
            problems.append(f"rules[{i}].forbidden_pairs: a list of [modifier, modifier] pairs")
    return problems


def scrub(facts: ClaimFacts, rules: list[dict[str, Any]] | None = None) -> list[Finding]:
    """Every finding of the enabled rules, in rule order."""
    found: list[Finding] = []
    for r in rules if rules is not None else default_rules():
        if not r.get("enabled", True):
            continue
        fn = RULES.get(r.get("rule", ""))
        if fn is not None:
            found.extend(fn(facts, r))
    return found


def merge_rules(base: list[dict[str, Any]], override: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The payer's rules replace the organisation's rule of the same name; others are kept."""
    by_name = {r.get("rule"): r for r in override}
    merged = [by_name.pop(r.get("rule"), r) for r in base]
    return merged + list(by_name.values())

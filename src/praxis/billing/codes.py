"""Pure checks and public code lists the claim needs (no I/O).

Shipped data is public only: the CMS place-of-service code set and common HCPCS/CPT modifiers
typed in from the CMS lists. CPT descriptions are licensed (AMA): an organisation loads its own
list through the code-set importer (`billing.reference.import_codes`); ICD-10-CM is public but
large, so it is loaded the same way, and without a list only its format is checked.
"""

from __future__ import annotations

import re

ICD10_RE = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")
# CPT: 5 digits, Category II (####F), Category III (####T), PLA (####U); HCPCS II: letter + 4 digits.
PROCEDURE_RE = re.compile(r"^(?:[0-9]{4}[0-9FTU]|[A-V][0-9]{4})$")
MODIFIER_RE = re.compile(r"^[0-9A-Z]{2}$")
NPI_RE = re.compile(r"^[0-9]{10}$")
TAXONOMY_RE = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")
# EIN prefixes the IRS never assigns.
_BAD_EIN_PREFIXES = {"00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79",
                     "89", "96", "97"}


def normalise_icd10(code: str) -> str:
    """`e11.9 ` -> `E119` (claims carry ICD-10-CM codes without the decimal point)."""
    return code.strip().upper().replace(".", "")


def icd10_format_ok(code: str) -> bool:
    """True for a well-formed ICD-10-CM code (3 to 7 characters, letter + digit + 1-5 more)."""
    return bool(ICD10_RE.match(normalise_icd10(code)))


def display_icd10(code: str) -> str:
    """`E119` -> `E11.9` for people."""
    c = normalise_icd10(code)
    return f"{c[:3]}.{c[3:]}" if len(c) > 3 else c


def procedure_format_ok(code: str) -> bool:
    return bool(PROCEDURE_RE.match(code.strip().upper()))


def modifier_format_ok(modifier: str) -> bool:
    return bool(MODIFIER_RE.match(modifier.strip().upper()))


def npi_ok(npi: str | None) -> bool:
    """An NPI is 10 digits whose last is the Luhn check digit of `80840` + the first nine."""
    if not npi or not NPI_RE.match(npi):
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    # Luhn: double every second digit from the right of the payload (the check digit is appended).
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def npi_with_check_digit(first_nine: str) -> str:
    """The valid NPI that starts with these nine digits (demo data, tests)."""
    for d in range(10):
        if npi_ok(first_nine + str(d)):
            return first_nine + str(d)
    raise ValueError(first_nine)  # pragma: no cover - exactly one digit always fits


def normalise_tax_id(value: str) -> str:
    return value.replace("-", "").strip()


def tax_id_ok(value: str | None, kind: str = "EIN") -> bool:
    """EIN: 9 digits with an assigned prefix; SSN: 9 digits, area not 000/666/9xx, group and serial
    not zero."""
    if not value:
        return False
    v = normalise_tax_id(value)
    if not re.fullmatch(r"[0-9]{9}", v):
        return False
    if kind == "SSN":
        return v[:3] not in {"000", "666"} and v[0] != "9" and v[3:5] != "00" and v[5:] != "0000"
    return v[:2] not in _BAD_EIN_PREFIXES


def taxonomy_ok(code: str | None) -> bool:
    """A health-care provider taxonomy code: 10 characters ending in X (e.g. 207Q00000X)."""
    return bool(code and TAXONOMY_RE.match(code))


# CMS Place of Service code set (public; cms.gov "Place of Service Code Set").
PLACES_OF_SERVICE: dict[str, str] = {
    "01": "Pharmacy", "02": "Telehealth provided other than in patient's home", "03": "School",
    "04": "Homeless shelter", "05": "Indian Health Service free-standing facility",
    "06": "Indian Health Service provider-based facility", "07": "Tribal 638 free-standing facility",
    "08": "Tribal 638 provider-based facility", "09": "Prison/correctional facility",
    "10": "Telehealth provided in patient's home", "11": "Office", "12": "Home",
    "13": "Assisted living facility", "14": "Group home", "15": "Mobile unit", "16": "Temporary lodging",
    "17": "Walk-in retail health clinic", "18": "Place of employment/worksite",
    "19": "Off campus-outpatient hospital", "20": "Urgent care facility", "21": "Inpatient hospital",
    "22": "On campus-outpatient hospital", "23": "Emergency room - hospital", "24": "Ambulatory surgical center",
    "25": "Birthing center", "26": "Military treatment facility", "27": "Outreach site/street",
    "31": "Skilled nursing facility", "32": "Nursing facility", "33": "Custodial care facility",
    "34": "Hospice", "41": "Ambulance - land", "42": "Ambulance - air or water",
    "49": "Independent clinic", "50": "Federally qualified health center",
    "51": "Inpatient psychiatric facility", "52": "Psychiatric facility-partial hospitalization",
    "53": "Community mental health center", "54": "Intermediate care facility/individuals with "
    "intellectual disabilities", "55": "Residential substance abuse treatment facility",
    "56": "Psychiatric residential treatment center", "57": "Non-residential substance abuse treatment facility",
    "58": "Non-residential opioid treatment facility", "60": "Mass immunization center",
    "61": "Comprehensive inpatient rehabilitation facility",
    "62": "Comprehensive outpatient rehabilitation facility", "65": "End-stage renal disease treatment facility",
    "66": "Programs of All-Inclusive Care for the Elderly (PACE) center", "71": "State or local public health clinic",
    "72": "Rural health clinic", "81": "Independent laboratory", "99": "Other place of service",
}

# Common modifiers (public CMS/HCPCS Level II descriptions; CPT modifier numbers are public facts).
MODIFIERS: dict[str, str] = {
    "22": "Increased procedural services", "24": "Unrelated E/M during a postoperative period",
    "25": "Significant, separately identifiable E/M on the same day", "26": "Professional component",
    "50": "Bilateral procedure", "51": "Multiple procedures", "52": "Reduced services",
    "53": "Discontinued procedure", "57": "Decision for surgery", "59": "Distinct procedural service",
    "76": "Repeat procedure by the same physician", "77": "Repeat procedure by another physician",
    "79": "Unrelated procedure during the postoperative period", "80": "Assistant surgeon",
    "91": "Repeat clinical diagnostic laboratory test", "93": "Synchronous telemedicine, audio only",
    "95": "Synchronous telemedicine, audio and video", "AS": "Assistant at surgery (PA, NP, CNS)",
    "GA": "Waiver of liability statement issued", "GT": "Interactive telecommunication (institutional)",
    "GY": "Statutorily excluded item or service", "GZ": "Expected to be denied as not reasonable and necessary",
    "KX": "Requirements in the medical policy have been met", "LT": "Left side", "RT": "Right side",
    "QW": "CLIA-waived test", "TC": "Technical component", "XE": "Separate encounter",
    "XP": "Separate practitioner", "XS": "Separate structure/organ", "XU": "Unusual non-overlapping service",
    "E1": "Upper left eyelid", "E2": "Lower left eyelid", "E3": "Upper right eyelid", "E4": "Lower right eyelid",
    "FA": "Left hand, thumb", "F1": "Left hand, second digit", "F2": "Left hand, third digit",
    "F3": "Left hand, fourth digit", "F4": "Left hand, fifth digit", "F5": "Right hand, thumb",
    "F6": "Right hand, second digit", "F7": "Right hand, third digit", "F8": "Right hand, fourth digit",
    "F9": "Right hand, fifth digit", "TA": "Left foot, great toe", "T1": "Left foot, second digit",
    "T2": "Left foot, third digit", "T3": "Left foot, fourth digit", "T4": "Left foot, fifth digit",
    "T5": "Right foot, great toe", "T6": "Right foot, second digit", "T7": "Right foot, third digit",
    "T8": "Right foot, fourth digit", "T9": "Right foot, fifth digit",
}

# Relationship of the patient to the subscriber (X12 individual relationship codes).
RELATIONSHIPS = {"18": "Self", "01": "Spouse", "19": "Child", "G8": "Other relationship"}

# Claim filing indicator codes (SBR09) that the payer directory uses.
FILING_INDICATORS = {"CI": "Commercial insurance", "MB": "Medicare Part B", "MC": "Medicaid",
                     "BL": "Blue Cross/Blue Shield", "HM": "HMO", "12": "PPO", "13": "POS", "CH": "TRICARE",
                     "VA": "Veterans Affairs", "WC": "Workers' compensation", "OF": "Other federal program",
                     "ZZ": "Mutually defined"}

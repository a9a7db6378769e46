"""ADT -> patients: PID/MRG read into the patients' service shapes, with HL7 locations for errors.

Pure mapping (no I/O): `patient_fields(pid)` returns the values and, for every value that does
not fit our registry, an `AckError` naming the segment and field. Required values (family and
given name, date of birth) that are missing or wrong are errors (AE); optional ones that do not
fit (a non-US state code, a foreign postal code) are dropped with a warning, because refusing a
whole registration over a province code would leave the patient unregistered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from praxis.formats.hl7v2 import AckError, Segment

_SEX = {"M": "M", "F": "F", "U": "U", "X": "X", "O": "X", "N": "X", "A": "X"}
_STATE = re.compile(r"[A-Z]{2}\Z")
_POSTAL = re.compile(r"\d{5}(-?\d{4})?\Z")


@dataclass
class Mapped:
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[AckError] = field(default_factory=list)
    warnings: list[AckError] = field(default_factory=list)


@dataclass(frozen=True)
class ExternalId:
    """A sender's identifier: CX.1 under its assigning authority (CX.4.1, else the facility)."""

    authority: str
    value: str


def external_id(seg: Segment, field_no: int, default_authority: str) -> ExternalId | None:
    """The first identifier of a CX field (PID-3, MRG-1) that has a value; MR type preferred."""
    best: ExternalId | None = None
    for rep in range(len(seg.repetitions(field_no))):
        value = seg.value(field_no, 1, repetition=rep).strip()
        if not value:
            continue
        found = ExternalId(seg.value(field_no, 4, repetition=rep).strip() or default_authority, value[:100])
        if seg.value(field_no, 5, repetition=rep) == "MR":
            return found
        best = best or found
    return best


def _err(code: str, text: str, seg: str, field_no: int, component: int | None = None, severity: str = "E") -> AckError:
    return AckError(code, text, seg, 1, field_no, component, severity)


def _date(raw: str) -> date | None:
    try:
        return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8])) if len(raw) >= 8 and raw[:8].isdigit() else None
    except ValueError:
        return None


def patient_fields(pid: Segment, *, partial: bool = False) -> Mapped:
    """PID -> the patients' service fields. With `partial` (updates) absent values are left out;
    values present must still be valid."""
    out = Mapped()
    v = out.values
    family = pid.value(5, 1, 1).strip()
    given = pid.value(5, 2).strip()
    for name, value, comp, label in (("last_name", family, 1, "family name"), ("first_name", given, 2, "given name")):
        if value:
            if len(value) > 100:
                out.errors.append(_err("102", f"PID-5.{comp} {label} is longer than 100 characters", "PID", 5, comp))
            else:
                v[name] = value
        elif not partial:
            out.errors.append(_err("101", f"PID-5.{comp} {label} is required", "PID", 5, comp))
    middle = pid.value(5, 3).strip()
    if middle:
        v["middle_name"] = middle[:100]
    raw_dob = pid.value(7).strip()
    if raw_dob:
        dob = _date(raw_dob)
        if dob is None:
            out.errors.append(_err("102", f"PID-7 date of birth {raw_dob[:20]!r} is not a date (YYYYMMDD)", "PID", 7))
        else:
            v["dob"] = dob
    elif not partial:
        out.errors.append(_err("101", "PID-7 date of birth is required", "PID", 7))
    sex = pid.value(8).strip().upper()
    if sex:
        if sex in _SEX:
            v["sex"] = _SEX[sex]
        else:
            out.warnings.append(
                _err("103", f"PID-8 sex {sex[:5]!r} is not in table 0001; ignored", "PID", 8, None, "W")
            )
    if pid.repetitions(11):
        line1, line2, city = pid.value(11, 1, 1).strip(), pid.value(11, 2).strip(), pid.value(11, 3).strip()
        state, postal = pid.value(11, 4).strip().upper(), pid.value(11, 5).strip()
        if line1:
            v["address_line1"] = line1[:200]
        if line2:
            v["address_line2"] = line2[:200]
        if city:
            v["city"] = city[:100]
        if state:
            if _STATE.match(state):
                v["state"] = state
            else:
                out.warnings.append(
                    _err("102", f"PID-11.4 state {state[:10]!r} is not a US code; ignored", "PID", 11, 4, "W")
                )
        if postal:
            if _POSTAL.match(postal):
                v["postal_code"] = postal
            else:
                out.warnings.append(
                    _err("102", f"PID-11.5 postal code {postal[:12]!r} is not a US ZIP; ignored", "PID", 11, 5, "W")
                )
    return out


# Our field names -> where they come from, for errors the patients' validation raises.
FIELD_LOCATIONS: dict[str, tuple[str, int, int | None]] = {
    "last_name": ("PID", 5, 1),
    "first_name": ("PID", 5, 2),
    "middle_name": ("PID", 5, 3),
    "dob": ("PID", 7, None),
    "sex": ("PID", 8, None),
    "address_line1": ("PID", 11, 1),
    "address_line2": ("PID", 11, 2),
    "city": ("PID", 11, 3),
    "state": ("PID", 11, 4),
    "postal_code": ("PID", 11, 5),
}

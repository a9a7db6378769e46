"""Intake workflow definitions as data: validation, conditions and answer checking (pure, no I/O).

A definition is a JSON document:

    {"title": "New patient", "review_required": true,
     "steps": [{"key": "about", "title": "About you", "kind": "demographics",
                "fields": [{"key": "smoker", "label": "Do you smoke?", "type": "select",
                            "options": ["yes", "no"], "required": true},
                           {"key": "packs", "label": "Packs a day", "type": "number",
                            "condition": {"field": "smoker", "op": "equals", "value": "yes"}}]}]}

Field keys are unique across the whole definition. A condition may only refer to a field placed
before it, so a form can be evaluated top to bottom and conditions never form a cycle. Errors
name their position ("steps[1].fields[2].condition: unknown field 'smoker'"; indexes from 0).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from praxis.patients import normalise as n
from praxis.platform.ids import slug

FIELD_TYPES = (
    "text",
    "textarea",
    "number",
    "date",
    "select",
    "multiselect",
    "checkbox",
    "phone",
    "email",
    "signature",
    "file",
)
STEP_KINDS = ("demographics", "insurance", "consents", "questionnaire", "custom")
OPS = ("equals", "in")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_STEPS = 30
MAX_FIELDS = 100
MAX_TEXT = 2000

# Where an answer may go when staff apply the intake to the registry, with the field type it needs.
MAPPABLE: dict[str, tuple[str, ...]] = {
    "patient.first_name": ("text",),
    "patient.middle_name": ("text",),
    "patient.last_name": ("text",),
    "patient.preferred_name": ("text",),
    "patient.dob": ("date",),
    "patient.sex": ("select",),
    "patient.gender_identity": ("text", "select"),
    "patient.phone_mobile": ("phone",),
    "patient.phone_home": ("phone",),
    "patient.email": ("email",),
    "patient.address_line1": ("text",),
    "patient.address_line2": ("text",),
    "patient.city": ("text",),
    "patient.state": ("text", "select"),
    "patient.postal_code": ("text",),
    "patient.language": ("text", "select"),
    "patient.emergency_name": ("text",),
    "patient.emergency_relationship": ("text", "select"),
    "patient.emergency_phone": ("phone",),
    "patient.consent_sms": ("checkbox",),
    "patient.consent_email": ("checkbox",),
    "patient.consent_voice": ("checkbox",),
    "coverage.payer_code": ("text", "select"),
    # The insurance company as the patient knows it (the name on the card); matched to the payer
    # directory by name (or code) when staff apply the intake.
    "coverage.payer_name": ("text", "select"),
    "coverage.member_id": ("text",),
    "coverage.group_number": ("text",),
    "coverage.plan_name": ("text",),
    "coverage.relationship": ("select",),
    "document.card_front": ("file",),
    "document.card_back": ("file",),
    "document.consent": ("file",),
    "document.id": ("file",),
}


@dataclass(frozen=True)
class DefinitionError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DefinitionInvalid(ValueError):
    def __init__(self, errors: list[DefinitionError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _str(value: Any, limit: int = 200) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= limit


def validate_definition(defn: Any) -> list[DefinitionError]:
    """Every problem in a definition, each named by its position. Empty list: valid."""
    errors: list[DefinitionError] = []

    def err(path: str, msg: str) -> None:
        errors.append(DefinitionError(path, msg))

    if not isinstance(defn, dict):
        return [DefinitionError("", "a definition must be an object")]
    for key in defn:
        if key not in ("title", "review_required", "steps"):
            err(key, "unknown property")
    if not _str(defn.get("title")):
        err("title", "a title of 1-200 characters is required")
    if not isinstance(defn.get("review_required", False), bool):
        err("review_required", "must be true or false")
    steps = defn.get("steps")
    if not isinstance(steps, list) or not steps:
        err("steps", "at least one step is required")
        return errors
    if len(steps) > MAX_STEPS:
        err("steps", f"at most {MAX_STEPS} steps")
    seen_fields: dict[str, dict[str, Any]] = {}  # key -> field, in order of appearance
    step_keys: set[str] = set()
    mapped: dict[str, str] = {}
    total_fields = 0
    for si, step in enumerate(steps):
        sp = f"steps[{si}]"
        if not isinstance(step, dict):
            err(sp, "a step must be an object")
            continue
        for key in step:
            if key not in ("key", "title", "kind", "fields", "description"):
                err(f"{sp}.{key}", "unknown property")
        skey = step.get("key")
        if not isinstance(skey, str) or not KEY.match(skey):
            err(f"{sp}.key", "must start with a letter and use a-z, 0-9 and _ (max 40)")
        elif skey in step_keys:
            err(f"{sp}.key", f"duplicate step key '{skey}'")
        else:
            step_keys.add(skey)
        if not _str(step.get("title")):
            err(f"{sp}.title", "a title of 1-200 characters is required")
        if step.get("kind", "custom") not in STEP_KINDS:
            err(f"{sp}.kind", f"must be one of {', '.join(STEP_KINDS)}")
        if "description" in step and not isinstance(step["description"], str):
            err(f"{sp}.description", "must be text")
        fields = step.get("fields")
        if not isinstance(fields, list) or not fields:
            err(f"{sp}.fields", "at least one field is required")
            continue
        for fi, field in enumerate(fields):
            total_fields += 1
            _validate_field(field, f"{sp}.fields[{fi}]", seen_fields, mapped, err)
    if total_fields > MAX_FIELDS:
        err("steps", f"at most {MAX_FIELDS} fields in all")
    return errors


def _validate_field(field: Any, fp: str, seen: dict[str, dict[str, Any]], mapped: dict[str, str], err: Any) -> None:
    if not isinstance(field, dict):
        err(fp, "a field must be an object")
        return
    allowed = ("key", "label", "type", "required", "options", "condition", "maps_to", "help", "min", "max")
    for key in field:
        if key not in allowed:
            err(f"{fp}.{key}", "unknown property")
    fkey = field.get("key")
    key_ok = isinstance(fkey, str) and KEY.match(fkey) is not None
    if not key_ok:
        err(f"{fp}.key", "must start with a letter and use a-z, 0-9 and _ (max 40)")
    elif fkey in seen:
        err(f"{fp}.key", f"duplicate field key '{fkey}'")
    if not _str(field.get("label"), 500):
        err(f"{fp}.label", "a label of 1-500 characters is required")
    ftype = field.get("type")
    if ftype not in FIELD_TYPES:
        err(f"{fp}.type", f"unknown type {ftype!r} (one of {', '.join(FIELD_TYPES)})")
    if not isinstance(field.get("required", False), bool):
        err(f"{fp}.required", "must be true or false")
    options = field.get("options")
    if ftype in ("select", "multiselect"):
        if not isinstance(options, list) or not options:
            err(f"{fp}.options", "a select needs at least one option")
        elif not all(_str(o) for o in options):
            err(f"{fp}.options", "options must be non-empty text")
        elif len(set(options)) != len(options):
            err(f"{fp}.options", "options must be unique")
    elif options is not None:
        err(f"{fp}.options", f"only select and multiselect fields have options, not {ftype}")
    for bound in ("min", "max"):
        if bound in field and (
            ftype != "number" or not isinstance(field[bound], int | float) or isinstance(field[bound], bool)
        ):
            err(f"{fp}.{bound}", "only number fields have a numeric min/max")
    if (
        isinstance(field.get("min"), int | float)
        and isinstance(field.get("max"), int | float)
        and field["min"] > field["max"]
    ):
        err(f"{fp}.min", "min is greater than max")
    if "help" in field and not isinstance(field["help"], str):
        err(f"{fp}.help", "must be text")
    target = field.get("maps_to")
    if target is not None:
        if target not in MAPPABLE:
            err(f"{fp}.maps_to", f"unknown target {target!r}")
        elif ftype not in MAPPABLE[target]:
            err(f"{fp}.maps_to", f"{target} needs a field of type {' or '.join(MAPPABLE[target])}")
        elif target in mapped:
            err(f"{fp}.maps_to", f"{target} is already filled by field '{mapped[target]}'")
        else:
            mapped[target] = str(fkey)
    if "condition" in field:
        _validate_condition(field["condition"], f"{fp}.condition", fkey, seen, err)
    if key_ok and fkey not in seen:
        seen[fkey] = field


def _validate_condition(cond: Any, cp: str, own_key: Any, seen: dict[str, dict[str, Any]], err: Any) -> None:
    if not isinstance(cond, dict):
        err(cp, "a condition must be an object")
        return
    for key in cond:
        if key not in ("field", "op", "value", "values"):
            err(f"{cp}.{key}", "unknown property")
    target = cond.get("field")
    op = cond.get("op", "equals")
    if op not in OPS:
        err(f"{cp}.op", f"must be one of {', '.join(OPS)}")
        return
    if target == own_key:
        err(cp, "a field cannot depend on itself")
        return
    if target not in seen:
        err(cp, f"unknown field '{target}'" if isinstance(target, str) else "names no field")
        return
    ref = seen[target]
    values = [cond.get("value")] if op == "equals" else cond.get("values")
    if op == "equals" and "value" not in cond:
        err(f"{cp}.value", "equals needs a value")
        return
    if op == "in" and (not isinstance(values, list) or not values):
        err(f"{cp}.values", "in needs a non-empty list of values")
        return
    assert isinstance(values, list)
    if ref.get("type") in ("select", "multiselect"):
        bad = [v for v in values if v not in (ref.get("options") or [])]
        if bad:
            err(cp, f"value {bad[0]!r} is not an option of '{target}'")
    elif ref.get("type") == "checkbox" and not all(isinstance(v, bool) for v in values):
        err(cp, f"'{target}' is a checkbox: compare with true or false")
    elif ref.get("type") in ("file", "signature"):
        err(cp, f"conditions cannot depend on a {ref.get('type')} field")


def parse_definition(defn: Any) -> dict[str, Any]:
    """Return the definition when valid; raise DefinitionInvalid with every error otherwise."""
    errors = validate_definition(defn)
    if errors:
        raise DefinitionInvalid(errors)
    assert isinstance(defn, dict)
    return defn


# --- answers --------------------------------------------------------------------------------------


def all_fields(defn: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for step in defn["steps"] for f in step["fields"]]


def condition_holds(cond: dict[str, Any] | None, answers: dict[str, Any]) -> bool:
    if not cond:
        return True
    actual = answers.get(cond["field"])
    wanted = [cond.get("value")] if cond.get("op", "equals") == "equals" else list(cond.get("values") or [])
    if isinstance(actual, list):  # multiselect: any chosen option matches
        return any(a in wanted for a in actual)
    return actual in wanted


def visible_keys(defn: dict[str, Any], answers: dict[str, Any]) -> set[str]:
    """Fields shown for these answers; a field depending on a hidden field is hidden too."""
    shown: set[str] = set()
    for f in all_fields(defn):
        cond = f.get("condition")
        if cond is None or (cond["field"] in shown and condition_holds(cond, answers)):
            shown.add(f["key"])
    return shown


@dataclass(frozen=True)
class AnswerError:
    field: str
    message: str


_TRUE = {"true", "on", "yes", "1"}


def coerce(field: dict[str, Any], raw: Any) -> Any:
    """Turn a submitted value (form text or JSON) into the stored answer; raises ValueError."""
    ftype = field["type"]
    if raw is None or raw == "" or raw == []:
        return [] if ftype == "multiselect" else (False if ftype == "checkbox" else None)
    if ftype in ("text", "textarea"):
        text = str(raw).strip()
        if len(text) > MAX_TEXT:
            raise ValueError(f"at most {MAX_TEXT} characters")
        return text or None
    if ftype == "number":
        try:
            num = float(str(raw).strip())
        except ValueError:
            raise ValueError("must be a number") from None
        if num != num or num in (float("inf"), float("-inf")):
            raise ValueError("must be a number")
        if "min" in field and num < field["min"]:
            raise ValueError(f"must be at least {field['min']}")
        if "max" in field and num > field["max"]:
            raise ValueError(f"must be at most {field['max']}")
        return int(num) if num.is_integer() else num
    if ftype == "date":
        d = n.parse_date(raw)
        return d.isoformat() if d else None
    if ftype == "select":
        if str(raw) not in field["options"]:
            raise ValueError("is not one of the choices")
        return str(raw)
    if ftype == "multiselect":
        values = raw if isinstance(raw, list) else [raw]
        for v in values:
            if str(v) not in field["options"]:
                raise ValueError(f"'{v}' is not one of the choices")
        return [o for o in field["options"] if o in {str(v) for v in values}]
    if ftype == "checkbox":
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in _TRUE
    if ftype == "phone":
        return n.parse_phone(str(raw))
    if ftype == "email":
        return n.parse_email(str(raw))
    if ftype == "signature":
        if not isinstance(raw, dict):
            raise ValueError("a signature is a typed name and an agreement")
        name = str(raw.get("name") or "").strip()
        agreed = raw.get("agreed") is True or str(raw.get("agreed")).lower() in _TRUE
        if len(name) > 200:
            raise ValueError("the name is too long")
        if not name and not agreed:
            return None
        if not name or not agreed:
            raise ValueError("type your full name and tick the box to sign")
        return {"name": name, "agreed": True}
    if ftype == "file":
        try:
            return str(uuid.UUID(str(raw)))
        except ValueError:
            raise ValueError("is not an uploaded file") from None
    raise ValueError(f"unknown field type {ftype}")


def _is_empty(ftype: str, value: Any) -> bool:
    if ftype == "checkbox":
        return value is not True
    return value is None or value == [] or value == ""


def check_answers(
    defn: dict[str, Any],
    raw: dict[str, Any],
    *,
    step: int | None = None,
    previous: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[AnswerError]]:
    """Validate answers (all steps, or one `step` on top of `previous` answers).

    Returns the cleaned answers for the fields checked (hidden fields are dropped, so a stale
    answer behind a condition that no longer holds is not kept) and every error.
    """
    answers = dict(previous or {})
    steps = defn["steps"] if step is None else [defn["steps"][step]]
    checked = [f for s in steps for f in s["fields"]]
    errors: list[AnswerError] = []
    for f in checked:
        try:
            answers[f["key"]] = coerce(f, raw.get(f["key"]))
        except ValueError as exc:
            errors.append(AnswerError(f["key"], str(exc)))
            answers.pop(f["key"], None)
    shown = visible_keys(defn, answers)
    clean: dict[str, Any] = {}
    for f in checked:
        key = f["key"]
        if key not in shown:
            continue
        value = answers.get(key)
        if f.get("required") and _is_empty(f["type"], value) and not any(e.field == key for e in errors):
            errors.append(AnswerError(key, "is required"))
        if key in answers:
            clean[key] = value
    return clean, errors


# Built-in templates live in builtin.py; re-exported here because callers think of them as
# part of the definition language.
def field_key(label: str, taken: set[str], fallback: str) -> str:
    """The key of a new field or step made from its label ("Packs per day?" -> "packs_per_day"),
    starting with a letter and unique among `taken` (`_2`, `_3`, ... appended)."""
    base = slug(label, max_length=36, fallback=fallback)
    if not base[0].isalpha():
        base = f"{fallback}_{base}"[:36]
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


from praxis.intake.builtin import (  # noqa: E402
    PHQ9_DIFFICULTY,
    PHQ9_ITEMS,
    PHQ9_OPTIONS,
    default_definition,
    phq9_step,
    score_phq9,
)

__all__ = [
    "FIELD_TYPES",
    "MAPPABLE",
    "OPS",
    "PHQ9_DIFFICULTY",
    "PHQ9_ITEMS",
    "PHQ9_OPTIONS",
    "STEP_KINDS",
    "AnswerError",
    "DefinitionError",
    "DefinitionInvalid",
    "all_fields",
    "check_answers",
    "coerce",
    "condition_holds",
    "default_definition",
    "parse_definition",
    "phq9_step",
    "score_phq9",
    "validate_definition",
    "visible_keys",
]

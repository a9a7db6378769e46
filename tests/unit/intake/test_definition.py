"""Workflow definition validation and answer checking (pure)."""

from __future__ import annotations

import copy

import pytest

from praxis.intake import definition as d


def base() -> dict:
    return {"title": "T", "steps": [
        {"key": "one", "title": "One", "fields": [
            {"key": "smoker", "label": "Smoke?", "type": "select", "options": ["yes", "no"], "required": True},
            {"key": "packs", "label": "Packs", "type": "number", "required": True, "min": 0, "max": 10,
             "condition": {"field": "smoker", "op": "equals", "value": "yes"}},
        ]},
        {"key": "two", "title": "Two", "fields": [
            {"key": "sign", "label": "Sign", "type": "signature", "required": True},
            {"key": "colours", "label": "Colours", "type": "multiselect", "options": ["red", "blue"]},
            {"key": "why", "label": "Why blue?", "type": "textarea",
             "condition": {"field": "colours", "op": "in", "values": ["blue"]}},
        ]},
    ]}


def messages(defn) -> list[str]:
    return [str(e) for e in d.validate_definition(defn)]


def test_valid_and_default_definitions():
    assert messages(base()) == []
    assert messages(d.default_definition()) == []


def test_unknown_condition_field_is_named_by_position():
    defn = base()
    defn["steps"][1]["fields"][2]["condition"]["field"] = "smokes"
    assert messages(defn) == ["steps[1].fields[2].condition: unknown field 'smokes'"]


def test_forward_reference_and_self_reference_refused():
    defn = base()
    defn["steps"][0]["fields"][1]["condition"]["field"] = "sign"
    assert messages(defn) == ["steps[0].fields[1].condition: unknown field 'sign'"]
    defn = base()
    defn["steps"][0]["fields"][1]["condition"]["field"] = "packs"
    assert messages(defn) == ["steps[0].fields[1].condition: a field cannot depend on itself"]


@pytest.mark.parametrize("mutate,expected", [
    (lambda x: x["steps"][0]["fields"][0].update(type="dropdown"), "steps[0].fields[0].type: unknown type"),
    (lambda x: x["steps"][0]["fields"][0].update(options=[]), "steps[0].fields[0].options"),
    (lambda x: x["steps"][1]["fields"][0].update(key="smoker"), "steps[1].fields[0].key: duplicate field key"),
    (lambda x: x["steps"][0]["fields"][1]["condition"].update(value="maybe"), "is not an option of 'smoker'"),
    (lambda x: x["steps"][0]["fields"][0].update(maps_to="patient.ssn"), "unknown target"),
    (lambda x: x["steps"][0]["fields"][0].update(maps_to="patient.dob"), "needs a field of type date"),
    (lambda x: x.update(steps=[]), "steps: at least one step"),
    (lambda x: x["steps"][0].update(key="One"), "steps[0].key"),
    (lambda x: x.update(extra=1), "extra: unknown property"),
])
def test_errors_by_position(mutate, expected):
    defn = copy.deepcopy(base())
    mutate(defn)
    assert any(expected in m for m in messages(defn)), messages(defn)


def test_conditional_required_and_hidden_answers_dropped():
    defn = base()
    clean, errors = d.check_answers(defn, {"smoker": "yes"}, step=0)
    assert [e.field for e in errors] == ["packs"]
    clean, errors = d.check_answers(defn, {"smoker": "no", "packs": "4"}, step=0)
    assert errors == [] and clean == {"smoker": "no"}
    clean, errors = d.check_answers(defn, {"smoker": "yes", "packs": "11"}, step=0)
    assert errors[0].message == "must be at most 10"


def test_multiselect_in_condition_and_signature():
    defn = base()
    raw = {"sign": {"name": "Ana", "agreed": "on"}, "colours": ["blue"], "why": "sky"}
    clean, errors = d.check_answers(defn, raw, step=1, previous={"smoker": "no"})
    assert errors == [] and clean["why"] == "sky" and clean["sign"] == {"name": "Ana", "agreed": True}
    _, errors = d.check_answers(defn, {"sign": {"name": "Ana"}}, step=1)
    assert errors[0].field == "sign"
    _, errors = d.check_answers(defn, {"sign": {"name": "A", "agreed": True}, "colours": ["green"]}, step=1)
    assert errors[0].field == "colours"


def test_phq9_scoring():
    answers = {f"phq9_{i}": d.PHQ9_OPTIONS[2] for i in range(1, 10)}
    assert d.score_phq9(answers) == {"total": 18, "severity": "moderately severe", "item9_positive": True}
    answers.pop("phq9_3")
    assert d.score_phq9(answers) is None
    assert messages({"title": "P", "steps": [d.phq9_step()]}) == []

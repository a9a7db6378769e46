"""Built-in intake templates: the PHQ-9 questionnaire and a standard new-patient workflow."""

from __future__ import annotations

from typing import Any

PHQ9_ITEMS = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
    "fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead or of hurting yourself in some way",
)
PHQ9_OPTIONS = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
PHQ9_DIFFICULTY = ["Not difficult at all", "Somewhat difficult", "Very difficult", "Extremely difficult"]


def phq9_step(key: str = "phq9") -> dict[str, Any]:
    """The PHQ-9 depression questionnaire as a step (fields phq9_1..phq9_9 + difficulty)."""
    fields: list[dict[str, Any]] = [
        {
            "key": f"{key}_{i + 1}",
            "label": text,
            "type": "select",
            "options": list(PHQ9_OPTIONS),
            "required": True,
        }
        for i, text in enumerate(PHQ9_ITEMS)
    ]
    fields.append(
        {
            "key": f"{key}_difficulty",
            "type": "select",
            "options": list(PHQ9_DIFFICULTY),
            "label": "If you checked off any problems, how difficult have these problems made it for "
            "you to do your work, take care of things at home, or get along with other people?",
        }
    )
    return {
        "key": key,
        "title": "Over the last 2 weeks, how often have you been bothered by the following?",
        "kind": "questionnaire",
        "fields": fields,
    }


def score_phq9(answers: dict[str, Any], key: str = "phq9") -> dict[str, Any] | None:
    """Total 0-27 and severity band; None when the questionnaire is incomplete."""
    total = 0
    for i in range(1, 10):
        value = answers.get(f"{key}_{i}")
        if value not in PHQ9_OPTIONS:
            return None
        total += PHQ9_OPTIONS.index(value)
    bands = ((4, "minimal"), (9, "mild"), (14, "moderate"), (19, "moderately severe"), (27, "severe"))
    severity = next(label for limit, label in bands if total <= limit)
    return {
        "total": total,
        "severity": severity,
        "item9_positive": answers.get(f"{key}_9") != PHQ9_OPTIONS[0],
    }


def default_definition() -> dict[str, Any]:
    """A starting point for a new workflow: demographics, insurance, consents, PHQ-9."""
    return {
        "title": "New patient intake",
        "review_required": True,
        "steps": [
            {
                "key": "demographics",
                "title": "About you",
                "kind": "demographics",
                "fields": [
                    {
                        "key": "first_name",
                        "label": "First name",
                        "type": "text",
                        "required": True,
                        "maps_to": "patient.first_name",
                    },
                    {
                        "key": "last_name",
                        "label": "Last name",
                        "type": "text",
                        "required": True,
                        "maps_to": "patient.last_name",
                    },
                    {
                        "key": "dob",
                        "label": "Date of birth",
                        "type": "date",
                        "required": True,
                        "maps_to": "patient.dob",
                    },
                    {
                        "key": "phone",
                        "label": "Mobile phone",
                        "type": "phone",
                        "maps_to": "patient.phone_mobile",
                    },
                    {"key": "email", "label": "E-mail", "type": "email", "maps_to": "patient.email"},
                    {
                        "key": "address",
                        "label": "Street address",
                        "type": "text",
                        "maps_to": "patient.address_line1",
                    },
                    {"key": "city", "label": "City", "type": "text", "maps_to": "patient.city"},
                    {"key": "zip", "label": "ZIP code", "type": "text", "maps_to": "patient.postal_code"},
                ],
            },
            {
                "key": "insurance",
                "title": "Insurance",
                "kind": "insurance",
                "fields": [
                    {
                        "key": "has_insurance",
                        "label": "Do you have health insurance?",
                        "type": "select",
                        "options": ["yes", "no"],
                        "required": True,
                    },
                    {
                        "key": "payer",
                        "label": "Insurance company (as printed on your card)",
                        "type": "text",
                        "maps_to": "coverage.payer_name",
                        "required": True,
                        "condition": {"field": "has_insurance", "op": "equals", "value": "yes"},
                    },
                    {
                        "key": "member_id",
                        "label": "Member id",
                        "type": "text",
                        "maps_to": "coverage.member_id",
                        "required": True,
                        "condition": {"field": "has_insurance", "op": "equals", "value": "yes"},
                    },
                    {
                        "key": "group",
                        "label": "Group number",
                        "type": "text",
                        "maps_to": "coverage.group_number",
                        "condition": {"field": "has_insurance", "op": "equals", "value": "yes"},
                    },
                    {
                        "key": "card_front",
                        "label": "Photo of the card (front)",
                        "type": "file",
                        "maps_to": "document.card_front",
                        "condition": {"field": "has_insurance", "op": "equals", "value": "yes"},
                    },
                    {
                        "key": "card_back",
                        "label": "Photo of the card (back)",
                        "type": "file",
                        "maps_to": "document.card_back",
                        "condition": {"field": "has_insurance", "op": "equals", "value": "yes"},
                    },
                ],
            },
            {
                "key": "consents",
                "title": "Consents",
                "kind": "consents",
                "fields": [
                    {
                        "key": "consent_sms",
                        "label": "You may send me appointment reminders by text message",
                        "type": "checkbox",
                        "maps_to": "patient.consent_sms",
                    },
                    {
                        "key": "consent_treatment",
                        "label": "I consent to treatment and have read the privacy notice",
                        "type": "signature",
                        "required": True,
                    },
                ],
            },
            phq9_step(),
        ],
    }

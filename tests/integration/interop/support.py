"""Helpers for FHIR facade tests: validate every resource with fhir.resources' R4B models."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class

ALL_READ = ["system/Patient.read", "system/Practitioner.read", "system/Organization.read", "system/Location.read",
            "system/Appointment.read", "system/Coverage.read", "system/PractitionerRole.read",
            "system/Schedule.read", "system/Slot.read"]


def valid(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a resource (and every resource in a Bundle) against R4B; returns it."""
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    for entry in body.get("entry", []) if body["resourceType"] == "Bundle" else []:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return body


def fhir(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return valid(response.json())


def outcome(response: Any, status: int) -> dict[str, Any]:
    body = fhir(response, status)
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]

"""SMART system scopes an API client may carry, as aliases of catalogue permissions.

A token created with `system/Patient.read` holds `patients:read`; the FHIR routes check the
permission, so a scope grants nothing the catalogue does not describe (decision in docs).
"""

from __future__ import annotations

from praxis.billing.permissions import BILLING_READ
from praxis.intake.permissions import INTAKE_READ
from praxis.patients.permissions import PATIENTS_READ, PATIENTS_WRITE
from praxis.platform.permissions import register, register_alias
from praxis.practice.permissions import LOCATIONS_READ
from praxis.scheduling.permissions import SCHEDULING_BOOK, SCHEDULING_READ

# (resource, interaction) -> the permission it needs; `read` covers read and search.
SMART_SCOPES: dict[tuple[str, str], str] = {
    ("Patient", "read"): PATIENTS_READ,
    ("Patient", "write"): PATIENTS_WRITE,
    ("Coverage", "read"): PATIENTS_READ,
    ("Practitioner", "read"): SCHEDULING_READ,
    ("PractitionerRole", "read"): SCHEDULING_READ,
    ("Schedule", "read"): SCHEDULING_READ,
    ("Slot", "read"): SCHEDULING_READ,
    ("Organization", "read"): LOCATIONS_READ,
    ("Location", "read"): LOCATIONS_READ,
    ("Appointment", "read"): SCHEDULING_READ,
    ("Appointment", "write"): SCHEDULING_BOOK,
    ("QuestionnaireResponse", "read"): INTAKE_READ,
    ("Encounter", "read"): BILLING_READ,
    ("Claim", "read"): BILLING_READ,
}



def scope_name(resource: str, interaction: str) -> str:
    return f"system/{resource}.{interaction}"


for (_resource, _interaction), _perm in SMART_SCOPES.items():
    register_alias(scope_name(_resource, _interaction), (_perm,))
for _interaction in ("read", "write"):
    register_alias(f"system/*.{_interaction}",
                   tuple(sorted({p for (_, i), p in SMART_SCOPES.items() if i == _interaction})))

WEBHOOKS_MANAGE = register("webhooks:manage", "Manage webhook subscriptions, read and replay their deliveries",
                           location_bound=False)
# The raw HL7 messages are PHI (names, birth dates, addresses): their own permission, so that a
# role may manage webhooks (identifiers only) without reading them. Only the organisation admin
# holds it among the built-in roles ("*"); an integrator's API client is granted it by name.
HL7_MANAGE = register("interop:hl7", "Read the HL7 v2 message logs (raw messages: PHI), replay inbound and "
                      "resend outbound messages", location_bound=False)

"""Everything scheduling needs from the patients domain, in one place (patients is below us).

Patients owns its tables and rules: the reads and checks below are patients' own functions
(`praxis.patients.service`), named here in scheduling's words so the rest of scheduling has one
place to look.
"""

from __future__ import annotations

from praxis.patients import service as patients
from praxis.patients.service import Contact

require_patient = patients.require_bookable_patient
visible_locations = patients.booking_visibility
booking_columns = patients.booking_columns
check_status = patients.check_bookable_status
add_location_link = patients.insert_location_link
contact = patients.contact
names = patients.names


def initials(first: str, last: str) -> str:
    return f"{first[:1]}{last[:1]}".upper()


__all__ = ["Contact", "add_location_link", "booking_columns", "check_status", "contact", "initials", "names",
           "require_patient", "visible_locations"]

"""Permissions of the scheduling domain."""

from praxis.platform.deletions import register_kind
from praxis.platform.permissions import register

# break_glass=True: patient care, which break-glass may widen for its window (platform.permissions).

SCHEDULING_READ = register("scheduling:read", "View schedules, appointments and the day sheet", break_glass=True)
SCHEDULING_BOOK = register("scheduling:book", "Book, reschedule and cancel appointments", break_glass=True)
SCHEDULING_CHECKIN = register("scheduling:checkin", "Check patients in and out, room them, mark no-shows",
                              break_glass=True)
SCHEDULING_MANAGE = register("scheduling:manage", "Manage providers, rooms, visit types, templates and hours")
WAITLIST_MANAGE = register("waitlist:manage", "Manage the waitlist and offers", break_glass=True)
REMINDERS_MANAGE = register("reminders:manage", "Manage reminder rules", location_bound=False)

# Tombstones (platform.deletions, decision 55): records of these kinds are deleted outright.
# A template ended before it began (`GET /scheduling/templates`, by its location).
SCHEDULE_TEMPLATES = register_kind("schedule_templates", SCHEDULING_READ)
# A provider who stops working at a location (the provider's row changes too; FHIR: its Schedule).
PROVIDER_LOCATIONS = register_kind("provider_locations", SCHEDULING_READ)

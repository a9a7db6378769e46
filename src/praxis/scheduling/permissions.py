"""Permissions of the scheduling domain."""

from praxis.platform.permissions import register

SCHEDULING_READ = register("scheduling:read", "View schedules, appointments and the day sheet")
SCHEDULING_BOOK = register("scheduling:book", "Book, reschedule and cancel appointments")
SCHEDULING_CHECKIN = register("scheduling:checkin", "Check patients in and out, room them, mark no-shows")
SCHEDULING_MANAGE = register("scheduling:manage", "Manage providers, rooms, visit types, templates and hours")
WAITLIST_MANAGE = register("waitlist:manage", "Manage the waitlist and offers")
REMINDERS_MANAGE = register("reminders:manage", "Manage reminder rules", location_bound=False)

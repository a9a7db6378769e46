"""Permissions of the care-management domain (CCM, PCM, RPM).

Care coordinators hold `care:*`; practitioners log their own minutes (`care:log`) and approve
the month (`care:approve`, granted explicitly: the built-in provider role names read and log).
"""

from praxis.platform.deletions import register_kind
from praxis.platform.permissions import register

CARE_READ = register("care:read", "View care-management enrolments, problem lists, minutes and the billing preview")
CARE_LOG = register("care:log", "Run the care timer and log care-management minutes")
CARE_ENROL = register("care:enrol", "Record problem lists, consents and enrolments; disenrol patients")
CARE_APPROVE = register("care:approve", "Review and approve a care-management month for billing")
CARE_DEVICE = register("care:device", "Post remote-monitoring device readings (device vendors' API clients)")
CARE_PLAN = register("care:plan", "Write care plans (each save is a new, immutable version)")

# Tombstones (platform.deletions, decision 55): a stopped timer is deleted (its minutes become an
# entry); `GET /care/timers` lists each user's own, so only its owner hears of it.
CARE_TIMERS = register_kind("care_timers", CARE_LOG, owned=True)

"""Permissions of the practice domain (organisation and locations)."""

from praxis.platform.permissions import register

# break_glass=True: patient care, which break-glass may widen for its window (platform.permissions).

ORG_MANAGE = register("org:manage", "Change organisation settings", location_bound=False)
LOCATIONS_READ = register("locations:read", "View locations", break_glass=True)
LOCATIONS_MANAGE = register("locations:manage", "Change a location's details and settings")
LOCATIONS_CREATE = register("locations:create", "Add locations to the organisation", location_bound=False)

"""Permissions of the identity domain."""

from praxis.platform.permissions import register

USERS_READ = register("users:read", "View staff users and their grants")
USERS_MANAGE = register("users:manage", "Invite users, change their grants, deactivate them")
ROLES_MANAGE = register("roles:manage", "Copy and edit roles", location_bound=False)
APICLIENTS_MANAGE = register("apiclients:manage", "Create, scope and revoke API clients", location_bound=False)
BREAKGLASS_USE = register("breakglass:use", "Open time-boxed emergency access beyond one's scope")
BREAKGLASS_REVIEW = register("breakglass:review", "Review break-glass events", location_bound=False)

"""Permissions of the intake domain."""

from praxis.platform.permissions import register

INTAKE_READ = register("intake:read", "View intake submissions")
INTAKE_FILL = register("intake:fill", "Fill intake at the desk and send patient intake links")
INTAKE_REVIEW = register("intake:review", "Review intake answers and apply them to the registry")
INTAKE_DESIGN = register("intake:design", "Design intake workflows")

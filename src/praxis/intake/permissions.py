"""Permissions of the intake domain."""

from praxis.platform.permissions import register

# break_glass=True: patient care, which break-glass may widen for its window (platform.permissions).

INTAKE_READ = register("intake:read", "View intake submissions", break_glass=True)
INTAKE_FILL = register("intake:fill", "Fill intake at the desk and send patient intake links", break_glass=True)
INTAKE_REVIEW = register("intake:review", "Review intake answers and apply them to the registry", break_glass=True)
INTAKE_DESIGN = register("intake:design", "Design intake workflows")

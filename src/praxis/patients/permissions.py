"""Permissions of the patients domain."""

from praxis.platform.permissions import register

# break_glass=True: patient care, which break-glass may widen for its window (platform.permissions).

PATIENTS_READ = register("patients:read", "Search and view patients", break_glass=True)
PATIENTS_WRITE = register("patients:write", "Register and edit patients and their coverages", break_glass=True)
PATIENTS_MERGE = register("patients:merge", "Merge and unmerge duplicate patients")
PATIENTS_IMPORT = register("patients:import", "Import patients, coverages and appointments from files")
DOCUMENTS_READ = register("documents:read", "View patient documents (card images, signed forms)", break_glass=True)
DOCUMENTS_WRITE = register("documents:write", "Upload patient documents", break_glass=True)
PAYERS_MANAGE = register("payers:manage", "Manage the organisation's payer directory", location_bound=False)
PATIENTS_ALERTS = register(
    "patients:alerts", "Acknowledge a patient's alerts (e.g. a positive PHQ-9 item 9 in an intake)"
)

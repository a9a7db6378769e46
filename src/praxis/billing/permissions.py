"""Permissions of the billing domain."""

from praxis.platform.permissions import register

BILLING_READ = register("billing:read", "View encounters, claims, batches and acknowledgements")
BILLING_CHARGE = register("billing:charge", "Enter and edit charges (superbills, encounters)")
BILLING_COLLECT = register("billing:collect", "Collect patient payments at the desk")
BILLING_SUBMIT = register("billing:submit", "Scrub, release, submit, correct and void claims; ingest EDI files")
BILLING_MANAGE = register("billing:manage",
                          "Manage billing set-up: billing identities, code sets, fee schedules, scrubber rules, "
                          "payer EDI ids, clearinghouse connections", location_bound=False)

"""The one-screen map: routers, the context resolver, events -> handlers, ports -> adapters."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

DOMAINS = ("practice", "identity", "patients", "intake", "scheduling", "billing", "care", "desk", "interop")

# Columns of other domains' tables that hold a patient id and must follow a patient merge (and its
# undo). Patients cannot import the domains above it, so they are declared here, next to the map of
# everything else that connects the domains; patients' own tables register themselves in merge.py.
MERGE_REFERENCES = (
    ("appointments", "patient_id"),
    ("appointment_series", "patient_id"),
    ("waitlist_entries", "patient_id"),
    ("intake_submissions", "patient_id"),
    ("intake_links", "patient_id"),
    # billing (issue 14)
    ("encounters", "patient_id"),
    ("claims", "patient_id"),
    # care (issue 16)
    ("care_problems", "patient_id"),
    ("care_consents", "patient_id"),
    ("care_enrolments", "patient_id"),
    ("care_timers", "patient_id"),
    ("care_time_entries", "patient_id"),
    ("care_rpm_readings", "patient_id"),
    ("care_rpm_day_counts", "patient_id"),
    ("care_months", "patient_id"),
    ("care_plan_versions", "patient_id"),
    # interop (issue 15, HL7 v2)
    ("hl7_patient_links", "patient_id"),
    ("hl7_messages", "patient_id"),
)

_wired = False


def import_all() -> None:
    """Import every domain's permissions and models so catalogue and metadata are complete, and
    register the patient references a merge moves (`MERGE_REFERENCES`)."""
    for domain in DOMAINS:
        for module in ("permissions", "models"):
            try:
                importlib.import_module(f"praxis.{domain}.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"praxis.{domain}.{module}" and exc.name != f"praxis.{domain}":
                    raise
    importlib.import_module("praxis.interop.hl7.models")  # HL7 v2 inbound (interop/hl7)
    importlib.import_module("praxis.platform.audit")
    importlib.import_module("praxis.platform.outbox")
    importlib.import_module("praxis.platform.idempotency")
    importlib.import_module("praxis.platform.deletions")
    from praxis.patients.merge import register_reference

    for table, column in MERGE_REFERENCES:
        register_reference(table, column)


def wire() -> None:
    """Connect ports to adapters and events to handlers (idempotent)."""
    global _wired
    if _wired:
        return
    import_all()
    from praxis.billing import charges
    from praxis.billing import reference as billing_reference
    from praxis.desk import service as desk
    from praxis.identity import resolver
    from praxis.identity.service import seed_builtin_roles
    from praxis.interop import export as fhir_export
    from praxis.interop import webhooks
    from praxis.interop.api import fhir
    from praxis.patients import import_jobs
    from praxis.platform import outbox
    from praxis.scheduling import reminders, waitlist
    from praxis.web import problems
    from praxis.web.deps import set_context_resolver

    set_context_resolver(resolver.resolve)
    from praxis.patients import lookup as patient_lookup
    from praxis.web.lookups import set_patient_lookup

    set_patient_lookup(patient_lookup.find, patient_lookup.names)
    problems.register_renderer(fhir.PREFIX + "/", fhir.render_error)
    outbox.subscribe("scheduling.reminder_due", reminders.handle_reminder_due)
    outbox.subscribe("scheduling.slot_freed", waitlist.handle_slot_freed)
    outbox.subscribe("scheduling.offer_expire", waitlist.handle_offer_expire)
    outbox.subscribe(import_jobs.TOPIC, import_jobs.handle_import_job)
    outbox.subscribe(fhir_export.TOPIC, fhir_export.handle_export_job)
    from praxis.care import importing as care_importing
    from praxis.care.permissions import CARE_ENROL

    for kind in care_importing.KINDS:  # the care programme import runs on the patient import's jobs
        import_jobs.register_kind(kind, CARE_ENROL, care_importing.run_care_import)
    outbox.subscribe("org.created", lambda org_id, _payload: seed_builtin_roles(org_id) if org_id else None)
    outbox.subscribe("scheduling.appointment_booked", desk.send_intake_link_for_online_booking)
    outbox.subscribe("scheduling.appointment_status", charges.handle_appointment_status)
    outbox.subscribe("org.created", billing_reference.ensure_default_connection)
    webhooks.subscribe_all()
    from praxis.interop.hl7 import outbound, siu

    siu.register()
    outbound.subscribe_all()
    _wired = True


def routers() -> list[APIRouter]:
    from praxis.billing import api as billing_api
    from praxis.billing import ui as billing_ui
    from praxis.care import api as care_api
    from praxis.care import ui as care_ui
    from praxis.desk import ui as desk_ui
    from praxis.desk.ui import patient as desk_patient
    from praxis.identity import api as identity_api
    from praxis.identity import ui as identity_ui
    from praxis.intake import api as intake_api
    from praxis.intake import ui as intake_ui
    from praxis.interop import ui as interop_ui
    from praxis.interop.api import fhir
    from praxis.interop.api import hl7 as hl7_api
    from praxis.interop.api import webhooks as webhooks_api
    from praxis.interop.ui import hl7 as interop_hl7_ui
    from praxis.patients import api as patients_api
    from praxis.patients import ui as patients_ui
    from praxis.patients.ui import page as patients_page_ui
    from praxis.patients.ui import payers as patients_payers_ui
    from praxis.practice import api as practice_api
    from praxis.scheduling import api as scheduling_api
    from praxis.scheduling import ui as scheduling_ui
    from praxis.web import system

    return [system.router, identity_api.router, practice_api.router, patients_api.router, intake_api.router,
            scheduling_api.router, scheduling_api.public_router, billing_api.router, care_api.router,
            fhir.router, webhooks_api.router, hl7_api.router,
            identity_ui.router, patients_ui.router, intake_ui.router, scheduling_ui.router, billing_ui.router,
            care_ui.router, desk_ui.router, desk_patient.router, patients_page_ui.router, patients_payers_ui.router,
            interop_ui.router, interop_hl7_ui.router]

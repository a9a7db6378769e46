"""The one-screen map: routers, the context resolver, events -> handlers, ports -> adapters."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

DOMAINS = ("practice", "identity", "patients", "intake", "scheduling", "desk")

_wired = False


def import_all() -> None:
    """Import every domain's permissions and models so catalogue and metadata are complete."""
    for domain in DOMAINS:
        for module in ("permissions", "models"):
            try:
                importlib.import_module(f"praxis.{domain}.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"praxis.{domain}.{module}" and exc.name != f"praxis.{domain}":
                    raise
    importlib.import_module("praxis.platform.audit")
    importlib.import_module("praxis.platform.outbox")
    importlib.import_module("praxis.platform.idempotency")


def wire() -> None:
    """Connect ports to adapters and events to handlers (idempotent)."""
    global _wired
    if _wired:
        return
    import_all()
    from praxis.desk import service as desk
    from praxis.identity import resolver
    from praxis.identity.service import seed_builtin_roles
    from praxis.patients import import_jobs
    from praxis.platform import outbox
    from praxis.scheduling import reminders, waitlist
    from praxis.web.deps import set_context_resolver

    set_context_resolver(resolver.resolve)
    outbox.subscribe("scheduling.reminder_due", reminders.handle_reminder_due)
    outbox.subscribe("scheduling.slot_freed", waitlist.handle_slot_freed)
    outbox.subscribe("scheduling.offer_expire", waitlist.handle_offer_expire)
    outbox.subscribe(import_jobs.TOPIC, import_jobs.handle_import_job)
    outbox.subscribe("org.created", lambda org_id, _payload: seed_builtin_roles(org_id) if org_id else None)
    outbox.subscribe("scheduling.appointment_booked", desk.send_intake_link_for_online_booking)
    _wired = True


def routers() -> list[APIRouter]:
    from praxis.desk import ui as desk_ui
    from praxis.identity import api as identity_api
    from praxis.identity import ui as identity_ui
    from praxis.intake import api as intake_api
    from praxis.intake import ui as intake_ui
    from praxis.patients import api as patients_api
    from praxis.patients import ui as patients_ui
    from praxis.practice import api as practice_api
    from praxis.scheduling import api as scheduling_api
    from praxis.scheduling import ui as scheduling_ui
    from praxis.web import system

    return [system.router, identity_api.router, practice_api.router, patients_api.router, intake_api.router,
            scheduling_api.router, scheduling_api.public_router,
            identity_ui.router, patients_ui.router, intake_ui.router, scheduling_ui.router, desk_ui.router]

"""The one-screen map: routers, the context resolver, events -> handlers, ports -> adapters."""

from __future__ import annotations

import importlib
import uuid
from typing import Any

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
    from praxis.identity import resolver
    from praxis.identity.service import seed_builtin_roles
    from praxis.platform import outbox
    from praxis.scheduling import reminders, waitlist
    from praxis.web.deps import set_context_resolver

    set_context_resolver(resolver.resolve)
    outbox.subscribe("scheduling.reminder_due", reminders.handle_reminder_due)
    outbox.subscribe("scheduling.slot_freed", waitlist.handle_slot_freed)
    outbox.subscribe("scheduling.offer_expire", waitlist.handle_offer_expire)
    outbox.subscribe("org.created", lambda org_id, _payload: seed_builtin_roles(org_id) if org_id else None)
    outbox.subscribe("scheduling.appointment_booked", send_intake_link_for_online_booking)
    _wired = True


def send_intake_link_for_online_booking(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """`scheduling.appointment_booked` from online booking -> open the visit's intake and send its
    link by the patient's preferred consented channel, then mark the appointment.

    Composed here because scheduling and intake are siblings. Idempotent: intake keeps one
    submission per appointment (a second run finds it and sends nothing); the message is sent
    inside intake's transaction, so a failed send leaves nothing behind and the outbox retries.
    """
    if org_id is None or payload.get("source") != "online":
        return
    from praxis.intake import links
    from praxis.intake.schemas import LinkOut
    from praxis.platform.context import system_context
    from praxis.platform.db import session_scope
    from praxis.platform.settings import get_settings
    from praxis.scheduling import patients_port, reminders
    from praxis.scheduling import service as scheduling
    from praxis.scheduling import setup as scheduling_setup

    ctx = system_context(org_id, "online booking intake")
    appointment_id = uuid.UUID(str(payload["appointment_id"]))
    appt = scheduling.get_appointment(ctx, appointment_id)
    if appt.status not in ("booked", "confirmed"):
        return
    visit_codes = {v.id: v.code for v in scheduling_setup.list_visit_types(ctx)}
    visit_type = visit_codes.get(appt.visit_type_id, "").strip().lower()
    with session_scope(org_id) as s:
        who = patients_port.contact(s.connection(), org_id, appt.patient_id)
    route = who.channel("preferred") if who else None

    def deliver(link: LinkOut) -> bool:
        if route is None or who is None:
            return False  # no consented channel: the desk sends the link or fills it at check-in
        url = get_settings().public_base_url.rstrip("/") + link.path
        expires = link.expires_at.strftime("%d %b %Y")
        reminders.get_sender().send(
            channel=route[0], to=route[1], subject="Your forms before your visit",
            body=f"Hello {who.first_name}, please fill in your forms before your visit: {url} "
                 f"(the link works until {expires}).")
        return True

    outcome = links.open_for_appointment(ctx, appt.id, appt.patient_id, appt.location_id, visit_type, deliver)
    if outcome == "opened" and route is not None:
        scheduling.mark_intake_link_sent(ctx, appt.id, channel=route[0])


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

"""Check-in on one screen: the visit, the patient's demographics and contact details, the
coverages with their card images, the visit's intake and the consents, then "arrived".

Composed from scheduling (the appointment, its provider, visit type and location), patients (the
record, coverages, documents) and intake (the visit's submission), each read through its service;
every change goes through the owning domain's command (patients.update_patient, documents upload,
scheduling.ui_commands.change_status)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from praxis.intake import queue as intake_queue
from praxis.patients import documents
from praxis.patients.overview import PatientOverview, patient_overview
from praxis.patients.schemas import DocumentOut, PatientOut, PatientUpdate
from praxis.patients.service import update_patient
from praxis.platform.context import Context
from praxis.practice.service import list_locations
from praxis.scheduling import service as scheduling
from praxis.scheduling import setup as scheduling_setup
from praxis.scheduling import ui_commands
from praxis.scheduling.availability import to_local
from praxis.scheduling.models import Appointment
from praxis.scheduling.permissions import SCHEDULING_READ

CARD_KINDS = ("card_front", "card_back")


@dataclass(frozen=True)
class CheckInView:
    appointment: Appointment
    local_start: datetime
    local_arrived: datetime | None
    location_name: str
    timezone: str
    provider: str
    visit_type: str
    overview: PatientOverview
    cards: dict[uuid.UUID | None, list[DocumentOut]]  # coverage id (None: not linked yet) -> card images
    intake: intake_queue.AppointmentIntake | None

    @property
    def patient(self) -> PatientOut:
        return self.overview.patient

    @property
    def active_coverages(self) -> list:  # type: ignore[type-arg]
        return [c for c in self.overview.coverages if c.active]

    @property
    def checklist(self) -> list[tuple[str, bool, str]]:
        """(what, done, in words) for the screen's summary."""
        p = self.patient
        contact = bool(p.phone_mobile or p.email)
        covered = bool(self.active_coverages)
        carded = covered and all(self.cards.get(c.id) for c in self.active_coverages)
        intake_done = self.intake is None or self.intake.status in ("submitted", "applied")
        consents = p.consent_sms or p.consent_email
        return [
            ("Contact details", contact, "phone or e-mail on file" if contact else "no phone or e-mail"),
            ("Insurance", covered, f"{len(self.active_coverages)} active" if covered else "none on file (self-pay?)"),
            ("Card images", carded, "on file" if carded else "missing: scan or upload the card"),
            ("Intake", intake_done, self.intake.status_words if self.intake else "none for this visit"),
            ("Consents to contact", consents, "text or e-mail agreed" if consents else "not agreed"),
        ]


def checkin_view(ctx: Context, appointment_id: uuid.UUID) -> CheckInView:
    """Everything the check-in screen shows (reads are audited by the owning services)."""
    appt = scheduling.get_appointment(ctx, appointment_id)
    loc = next((x for x in list_locations(ctx, permission=SCHEDULING_READ) if x.id == appt.location_id), None)
    tz = loc.timezone if loc else "UTC"
    providers = {p.id: p.display_name for p, _ in scheduling_setup.list_providers(ctx, active_only=False)}
    visit_types = {v.id: v.name for v in scheduling_setup.list_visit_types(ctx, active_only=False)}
    overview = patient_overview(ctx, appt.patient_id)
    cards: dict[uuid.UUID | None, list[DocumentOut]] = {}
    for d in overview.documents:
        if d.kind in CARD_KINDS:
            cards.setdefault(d.coverage_id, []).append(d)
    return CheckInView(
        appt, to_local(appt.start_at, tz), to_local(appt.checked_in_at, tz) if appt.checked_in_at else None,
        loc.name if loc else "", tz, providers.get(appt.provider_id, ""), visit_types.get(appt.visit_type_id, ""),
        overview, cards, intake_queue.for_appointment(ctx, appt.id, appt.location_id))


def save_contact(ctx: Context, patient_id: uuid.UUID, changes: dict[str, object]) -> PatientOut:
    """Demographics and contact details confirmed or corrected at the desk (audited by patients)."""
    return update_patient(ctx, patient_id, PatientUpdate.model_validate(changes))


def upload_card(ctx: Context, patient_id: uuid.UUID, coverage_id: uuid.UUID | None, side: str, data: bytes,
                filename: str | None) -> DocumentOut:
    """A card image (front or back) scanned or photographed at the desk, linked to its coverage."""
    kind = side if side in CARD_KINDS else "card_front"
    return documents.upload_document(ctx, patient_id, data, kind=kind, filename=filename, coverage_id=coverage_id)


def arrive(ctx: Context, appointment_id: uuid.UUID) -> Appointment:
    """Mark the patient arrived: the appointment's check-in, with the arrival time kept."""
    return ui_commands.change_status(ctx, appointment_id, "check_in")

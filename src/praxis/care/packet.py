"""The audit packet of one patient-month as PDF (issue 16 item 7): what an auditor asks for years
later — the consent, the care-plan version(s) in force that month, every time entry with author,
lane, activity, minutes, interactive flag and note, and the codes approved and who approved them.

`gather` reads (one unit of work, audited as a PHI access); `render` is fpdf2 only, data in and
bytes out. The PDF is written uncompressed (as billing's CMS-1500) so its text stays searchable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from fpdf import FPDF
from sqlalchemy import select

from praxis.care import careplan, months
from praxis.care.models import CareConsent, CareEnrolment, CareMonth, CarePlanVersion, CareTimeEntry
from praxis.care.permissions import CARE_READ
from praxis.care.service import _require_patient
from praxis.patients import service as patients
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import NotFound
from praxis.platform.uow import unit_of_work
from praxis.scheduling.models import Provider

PROGRAMS = {"ccm": "Chronic care management (CCM)", "pcm": "Principal care management (PCM)",
            "rpm": "Remote physiologic monitoring (RPM)"}


@dataclass
class EnrolmentPacket:
    enrolment: CareEnrolment
    practitioner: str
    consent: CareConsent | None
    plans: list[CarePlanVersion]
    entries: list[CareTimeEntry]
    approved: CareMonth | None


@dataclass
class Packet:
    month: str
    patient_name: str
    mrn: str
    dob: date
    generated_at: datetime
    generated_by: str
    enrolments: list[EnrolmentPacket] = field(default_factory=list)


@dataclass(frozen=True)
class PacketPdf:
    content: bytes
    filename: str


def gather(ctx: Context, patient_id: uuid.UUID, month: str) -> Packet:
    """Everything of the patient's care month the actor may see (enrolments at their locations)."""
    months.parse_month(month)
    if not ctx.has(CARE_READ):
        ctx.require(CARE_READ)
    scope = ctx.scope(CARE_READ)
    with unit_of_work(ctx) as session:
        _require_patient(session, ctx, patient_id)
        q = select(CareEnrolment).where(
            CareEnrolment.patient_id == patient_id, CareEnrolment.start_date <= months.last_day(month),
            (CareEnrolment.end_date.is_(None)) | (CareEnrolment.end_date >= months.first_day(month)))
        if scope is not None:
            q = q.where(CareEnrolment.location_id.in_(list(scope)))
        enrolments = list(session.scalars(q.order_by(CareEnrolment.start_date, CareEnrolment.program)))
        if not enrolments:
            raise NotFound("No care-management enrolment of this patient in this month", field="month")
        first, last, mrn, dob = patients.names(session.connection(), ctx.org_id, [patient_id]).get(
            patient_id, ("?", "?", "", date.min))
        out = Packet(month, f"{last}, {first}", mrn, dob, now(), ctx.actor_name or "system")
        ids = [e.id for e in enrolments]
        providers = {p.id: p for p in session.scalars(select(Provider).where(
            Provider.id.in_({e.provider_id for e in enrolments})))}
        consents = {c.id: c for c in session.scalars(select(CareConsent).where(
            CareConsent.id.in_({e.consent_id for e in enrolments})))}
        entries: dict[uuid.UUID, list[CareTimeEntry]] = {i: [] for i in ids}
        for t in session.scalars(select(CareTimeEntry).where(CareTimeEntry.enrolment_id.in_(ids),
                                                             CareTimeEntry.service_month == month)
                                 .order_by(CareTimeEntry.started_at)):
            entries[t.enrolment_id].append(t)
        approved = {m.enrolment_id: m for m in session.scalars(select(CareMonth).where(
            CareMonth.enrolment_id.in_(ids), CareMonth.month == month))}
        for e in enrolments:
            p = providers.get(e.provider_id)
            name = f"{p.first_name} {p.last_name}{', ' + p.credentials if p and p.credentials else ''}" if p else "?"
            out.enrolments.append(EnrolmentPacket(e, name, consents.get(e.consent_id),
                                                  careplan.versions_in_force(session, e.id, month),
                                                  entries[e.id], approved.get(e.id)))
        audit.record(session, ctx, "care.packet.view", "patient", patient_id, patient_id=patient_id,
                     detail={"month": month, "enrolment_ids": [str(i) for i in ids]})
        return out


def audit_packet(ctx: Context, patient_id: uuid.UUID, month: str) -> PacketPdf:
    """The patient-month's audit packet as PDF bytes (a PHI access: audited)."""
    data = gather(ctx, patient_id, month)
    return PacketPdf(render(data), f"care-audit-{data.mrn or patient_id}-{month}.pdf")


# --- rendering (pure) ----------------------------------------------------------------------------


def _t(value: object) -> str:
    """Core PDF fonts speak Latin-1: anything else prints as '?' rather than failing the packet."""
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else ""


class _Doc(FPDF):
    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font("Helvetica", "B", 11)
        self.multi_cell(0, 6, _t(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=9)

    def line_(self, text: str) -> None:
        self.multi_cell(0, 4.6, _t(text), new_x="LMARGIN", new_y="NEXT")


def render(p: Packet) -> bytes:
    """The packet as PDF bytes."""
    pdf = _Doc(format="Letter")
    pdf.set_compression(False)  # its text stays searchable by auditors and tests
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.line_(f"Care-management audit packet - {p.month}")
    pdf.set_font("Helvetica", size=9)
    pdf.line_(f"Patient: {p.patient_name}   MRN: {p.mrn}   Date of birth: {p.dob.isoformat()}")
    pdf.line_(f"Generated {_when(p.generated_at)} by {p.generated_by}")
    for ep in p.enrolments:
        e = ep.enrolment
        pdf.heading(f"{PROGRAMS.get(e.program, e.program.upper())} with {ep.practitioner}")
        pdf.line_(f"Enrolled {e.start_date.isoformat()}" + (f" until {e.end_date.isoformat()}" if e.end_date else "")
                  + f"; complexity: {'moderate/high (complex)' if e.complex else 'standard'}; initiating visit "
                  f"{e.initiating_visit_kind.upper()} on {e.initiating_visit_on.isoformat()}")
        c = ep.consent
        pdf.heading("Consent")
        if c is None:
            pdf.line_("No consent on file.")
        else:
            pdf.line_(f"{c.method.capitalize()} consent obtained by {c.obtained_by_name} on {_when(c.obtained_at)}.")
            told = [("availability of the service", c.told_availability),
                    ("cost sharing may apply", c.told_cost_sharing),
                    ("the right to stop at the end of any month", c.told_stop_month_end),
                    ("only one practitioner may bill CCM per month", c.told_one_practitioner)]
            pdf.line_("The patient was told: " + "; ".join(f"{what} [{'yes' if ok else 'NO'}]" for what, ok in told))
            if c.note:
                pdf.line_(f"Note: {c.note}")
        pdf.heading("Care plan version(s) in force this month")
        if not ep.plans:
            pdf.line_("No care plan recorded.")
        for v in ep.plans:
            flag = f" - substantial revision: {v.revision_reason}" if v.substantial_revision else ""
            pdf.set_font("Helvetica", "B", 9)
            pdf.line_(f"Version {v.version}, saved {_when(v.created_at)} by {v.author_name}{flag}")
            pdf.set_font("Helvetica", size=9)
            content = v.content or {}
            if content.get("summary"):
                pdf.line_(f"Summary: {content['summary']}")
            for prob in content.get("problems", []):
                pdf.line_(f"  Problem {prob.get('icd10', '')} {prob.get('description', '')}")
            for g in content.get("goals", []):
                target = " ".join(x for x in (g.get("measure", ""), g.get("target", "")) if x)
                due = f" by {g['target_date']}" if g.get("target_date") else ""
                pdf.line_(f"  Goal: {g.get('description', '')}" + (f" ({target})" if target else "") + due)
            for x in content.get("interventions", []):
                who = f" - {x['responsible']}" if x.get("responsible") else ""
                pdf.line_(f"  Intervention: {x.get('description', '')}{who}")
            for t in content.get("team", []):
                pdf.line_(f"  Team: {t.get('name', '')}" + (f" ({t['role']})" if t.get("role") else ""))
            if v.review_on:
                pdf.line_(f"  Next review: {v.review_on.isoformat()}")
        pdf.heading(f"Time entries ({sum(t.minutes for t in ep.entries if not t.voided)} minutes counted)")
        if not ep.entries:
            pdf.line_("No time logged this month.")
        for t in ep.entries:
            flags = [m for m, on in (("VOIDED", t.voided), ("edited after billing", t.edited_after_billing)) if on]
            pdf.line_(" | ".join([_when(t.started_at), t.author_name, t.role, t.activity.replace("_", " "),
                                  f"{t.minutes} min", "interactive" if t.interactive else "not interactive",
                                  *flags]))
            if t.note:
                pdf.line_(f"    Note: {t.note}")
            if t.edit_reason:
                pdf.line_(f"    Edit reason: {t.edit_reason}")
        pdf.heading("Codes")
        m = ep.approved
        if m is None:
            pdf.line_("Not approved for billing.")
        else:
            codes = ", ".join(f"{code} x{units}" for code, units in sorted(m.codes.items())) or "none"
            pdf.line_(f"Approved {codes} by {m.approved_by_name} on {_when(m.approved_at)}.")
            if m.charges_created:
                pdf.line_("Charges created in billing.")
            elif m.charge_problem:
                pdf.line_(f"No charge created: {m.charge_problem}")
    return bytes(pdf.output())

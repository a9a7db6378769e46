"""Checking a visit out opens its encounter (once), with the visit type's default procedures."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from praxis.billing import charges, reference
from praxis.billing.schemas import ProcedureIn
from praxis.platform import clock
from praxis.scheduling import service as scheduling
from praxis.scheduling import setup
from tests.integration.billing.helpers import make_billing_world
from tests.integration.scheduling.helpers import ALL_WEEK_9_TO_5, run_jobs


def test_check_out_creates_one_encounter_with_default_procedures(org):
    w = make_billing_world(org)
    pid, _ = w.patient()
    vt = setup.create_visit_type(w.ctx, code=f"FU{secrets.token_hex(3)}", name="Follow-up", duration_minutes=30)
    reference.set_visit_type_procedures(w.ctx, vt.id, [ProcedureIn(code="99213"), ProcedureIn(code="36415")])
    zone = ZoneInfo("America/New_York")
    day = (clock.now().astimezone(zone) + timedelta(days=1)).date()
    setup.create_template(w.ctx, provider_id=w.provider_id, location_id=w.location_id,
                          effective_from=day - timedelta(days=1), effective_to=None, blocks=ALL_WEEK_9_TO_5)
    start = datetime(day.year, day.month, day.day, 10, tzinfo=zone)
    appt = scheduling.book(w.ctx, patient_id=pid, visit_type_id=vt.id, provider_id=w.provider_id,
                           location_id=w.location_id, start_at=start)
    clock.advance(start + timedelta(minutes=5) - clock.now())
    scheduling.change_status(w.ctx, appt.id, "check_in")
    scheduling.change_status(w.ctx, appt.id, "check_out")
    assert run_jobs(org, "scheduling.appointment_status", charges.handle_appointment_status) == 2
    [enc] = charges.list_encounters(w.ctx, patient_id=pid)
    assert enc.appointment_id == appt.id and enc.date_of_service == day
    assert [ln.code for ln in enc.lines] == ["99213", "36415"] and enc.total_charge_cents == 17500
    assert enc.rendering_provider_id == w.provider_id and enc.place_of_service == "11"
    # a retried event (the outbox runs handlers at least once) creates nothing new
    charges.handle_appointment_status(org.id, {"appointment_id": str(appt.id), "status": "checked_out"})
    assert len(charges.list_encounters(w.ctx, patient_id=pid)) == 1
    # the superbill button finds the same encounter
    assert charges.encounter_for_appointment(w.ctx, appt.id).id == enc.id

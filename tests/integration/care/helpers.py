"""Builders for care tests: a practitioner at both locations, a patient with a problem list."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from praxis.care import service
from praxis.care.schemas import ConsentIn, EnrolmentIn, ProblemIn
from praxis.patients import service as patients
from praxis.patients.schemas import PatientCreate
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.scheduling import setup


@dataclass
class CareWorld:
    org: Any
    ctx: Context
    provider_id: uuid.UUID
    provider2_id: uuid.UUID


def make_world(org: Any, provider_user_id: uuid.UUID | None = None) -> CareWorld:
    ctx = system_context(org.id, "test")
    p1 = setup.create_provider(ctx, first_name="Ada", last_name=f"Care{secrets.token_hex(2)}", credentials="MD",
                               location_ids=[org.loc_a.id, org.loc_b.id], user_id=provider_user_id)
    p2 = setup.create_provider(ctx, first_name="Grace", last_name="Other", credentials="NP",
                               location_ids=[org.loc_a.id, org.loc_b.id])
    return CareWorld(org, ctx, p1.id, p2.id)


def new_patient(ctx: Context, location_id: uuid.UUID, *, chronic: int = 2, high_risk: bool = False) -> uuid.UUID:
    p = patients.register_patient(ctx, PatientCreate(first_name="Pat", last_name=f"Care{secrets.token_hex(3)}",
                                                     dob=date(1950, 1, 2), preferred_location_id=location_id,
                                                     confirm_duplicate=True), location_id=location_id)
    codes = ["E11.9", "I10", "J44.9", "N18.3"]
    for i in range(chronic):
        service.add_problem(ctx, p.id, ProblemIn(icd10=codes[i], onset_date=date(2015, 1, 1), expected_months=120,
                                                 high_risk=high_risk and i == 0))
    return p.id


def consent(when: datetime | None = None) -> ConsentIn:
    return ConsentIn(method="verbal", obtained_at=when or now() - timedelta(days=1), told_availability=True,
                     told_cost_sharing=True, told_stop_month_end=True, told_one_practitioner=True)


def enrol(w: CareWorld, patient_id: uuid.UUID, program: str = "ccm", *, provider_id: uuid.UUID | None = None,
          location_id: uuid.UUID | None = None, start: date | None = None, with_consent: bool = True,
          complex: bool = False) -> Any:
    start = start or date(now().year - 1, 1, 1)
    return service.enrol(w.ctx, EnrolmentIn(
        patient_id=patient_id, provider_id=provider_id or w.provider_id, location_id=location_id or w.org.loc_a.id,
        program=program, complex=complex, start_date=start, initiating_visit_on=start - timedelta(days=10),  # type: ignore[arg-type]
        initiating_visit_kind="em",
        consent=consent(datetime.combine(start, datetime.min.time(), UTC)) if with_consent else None))


def at(y: int, m: int, d: int, hh: int = 15) -> datetime:
    return datetime(y, m, d, hh, tzinfo=UTC)


def next_month_tenth() -> None:
    """Move the clock to the 10th of next month, noon UTC: a month with room before and after, so
    "this month" is the same at every location whatever the hour the test runs."""
    from praxis.platform import clock

    n = clock.now()
    tenth = (n.replace(day=1) + timedelta(days=32)).replace(day=10, hour=12, minute=0, second=0, microsecond=0)
    clock.advance(tenth - n)

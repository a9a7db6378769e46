"""Care-management demo data for `praxis seed` and `praxis demo` (issue 16 item 10), and the
benchmark's month (bench/bench_care.py).

Patients of a seeded organisation are enrolled in each programme (CCM, complex CCM, PCM, RPM)
with a problem list that makes them eligible, a consent with their billing practitioner, RPM
device readings, and last month's and this month's time entries: for every programme some
months land exactly on or over a threshold and some a few minutes short of one, so the worklist,
the billing preview's near-miss reasons and the month-end review have something to show.

Everything is bulk Core inserts with ids computed up front (the benchmark writes 600,000 time
entries this way). Deterministic for a seed. Every enrolment gets its care plan established on
its start date; complex CCM enrolments get a substantial revision in each seeded month, on the
day of their `care_plan_revision` entry, since 99487 needs one (docs/decisions.md section 43).
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select

from praxis.care import months
from praxis.care.models import (
    CareConsent,
    CareEnrolment,
    CarePlanVersion,
    CareProblem,
    CareTimeEntry,
    RpmReading,
)
from praxis.patients.models import Patient
from praxis.platform.clock import now
from praxis.platform.ids import new_id
from praxis.practice.models import Location
from praxis.scheduling.models import Provider, ProviderLocation

# The month totals seeded per programme (whole-month minutes): on, over and a few minutes short
# of each threshold (CCM 20/40/60, complex CCM 60/90, PCM 30/60, RPM 10/20/40).
TOTALS: dict[str, tuple[int, ...]] = {
    "ccm": (12, 17, 19, 20, 24, 38, 41, 63),
    "complex": (52, 58, 60, 74, 89, 95),
    "pcm": (22, 27, 29, 30, 44, 61),
    "rpm": (7, 12, 18, 19, 20, 33, 41),
}
# Data days in an RPM period: enough for 99454, the 99445 band, and too few.
RPM_DAYS = (1, 6, 12, 15, 16, 22, 28)
COORDINATORS = ("Nora Reyes, RN", "Sam Okafor, MA", "Lena Fischer, LPN")
CHRONIC = (("E11.9", "Type 2 diabetes mellitus without complications"), ("I10", "Essential hypertension"),
           ("J44.9", "Chronic obstructive pulmonary disease"), ("N18.3", "Chronic kidney disease, stage 3"),
           ("I50.9", "Heart failure, unspecified"), ("E78.5", "Hyperlipidaemia"))
HIGH_RISK = (("C50.919", "Malignant neoplasm of breast"), ("I50.9", "Heart failure, unspecified"))
NOTES = ("Reviewed medications with the patient", "Called about lab results", "Coordinated referral to cardiology",
         "Updated the care plan goals", "Caregiver call about home support", "Reviewed home readings")
ACTIVITIES = ("coordination", "medication", "patient_call", "caregiver_call", "referral", "education")


@dataclass(frozen=True)
class CareMix:
    """How many patients to enrol in each programme."""

    ccm: int
    complex: int
    pcm: int
    rpm: int

    @property
    def total(self) -> int:
        return self.ccm + self.complex + self.pcm + self.rpm


MIXES = {"small": CareMix(60, 20, 30, 40), "medium": CareMix(1500, 300, 600, 600)}


def _chunked(table: Any, conn: Any, rows: list[dict[str, Any]], size: int = 5000) -> None:
    for start in range(0, len(rows), size):
        conn.execute(insert(table), rows[start:start + size])


def _split(total: int, parts: int) -> list[int]:
    """`total` minutes in `parts` entries (each at least one minute)."""
    parts = max(1, min(parts, total))
    cuts = sorted(random.Random(total * 31 + parts).sample(range(1, total), parts - 1)) if parts > 1 else []
    edges = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(edges)]


def _months_before(month: str, back: int) -> str:
    for _ in range(back):
        month = months.month_of(months.first_day(month) - timedelta(days=1))
    return month


def seed_care(engine: Engine, org_id: uuid.UUID, seed: int, today: date, mix: CareMix,
              progress: Callable[[str], None] | None = None, *, entries_per_month: int | None = None,
              months_back: Iterable[int] = (1, 0)) -> dict[str, Any]:
    """Enrol patients of `org_id` by `mix` and write their problems, consents, RPM readings and the
    time entries of the months `months_back` (1 = last month, 0 = this month, up to today).

    `entries_per_month` fixes the number of entries per enrolment-month (the benchmark's 30);
    otherwise 1 to 4. Returns counts."""
    say = progress or (lambda _msg: None)
    rnd = random.Random(seed * 7919 + 16)
    stamp = now()
    with engine.connect() as conn:
        locs = {lid: tz for lid, tz in conn.execute(
            select(Location.id, Location.timezone).where(Location.org_id == org_id))}
        pairs = list(conn.execute(
            select(ProviderLocation.provider_id, ProviderLocation.location_id).join(
                Provider, (Provider.id == ProviderLocation.provider_id) & (Provider.org_id == ProviderLocation.org_id))
            .where(ProviderLocation.org_id == org_id).order_by(Provider.npi)))
        patient_ids = list(conn.scalars(
            select(Patient.id).where(Patient.org_id == org_id, Patient.status == "active").order_by(Patient.mrn)
            .limit(mix.total)))
    if not pairs or not patient_ids:
        return {"enrolments": 0, "time_entries": 0, "rpm_readings": 0}

    programmes = (["ccm"] * mix.ccm + ["complex"] * mix.complex + ["pcm"] * mix.pcm + ["rpm"] * mix.rpm)
    this_month = months.month_of(today)
    wanted = sorted({_months_before(this_month, b) for b in months_back})
    problems: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    enrolments: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    plan: list[tuple[Any, ...]] = []
    readings: list[dict[str, Any]] = []
    plan_versions: list[dict[str, Any]] = []
    for i, (pid, kind) in enumerate(zip(patient_ids, programmes, strict=False)):
        provider_id, location_id = pairs[i % len(pairs)]
        tz = ZoneInfo(locs[location_id])
        program = "ccm" if kind == "complex" else kind
        # Enrolled two to eight months ago, after an initiating visit ten days before.
        start = months.first_day(wanted[0]) - timedelta(days=30 * rnd.randint(2, 8) + rnd.randint(0, 20))
        chosen = rnd.sample(CHRONIC, 3)
        first_problem = len(problems)
        for code, text in chosen[: (1 if kind in ("pcm", "rpm") else rnd.randint(2, 3))]:
            problems.append({"org_id": org_id, "id": new_id(), "patient_id": pid, "icd10": code, "description": text,
                             "onset_date": start - timedelta(days=400 + rnd.randint(0, 2000)), "expected_months": 120,
                             "high_risk": False, "resolved_on": None, "created_at": stamp})
        if kind == "pcm":
            code, text = rnd.choice(HIGH_RISK)
            problems.append({"org_id": org_id, "id": new_id(), "patient_id": pid, "icd10": code, "description": text,
                             "onset_date": start - timedelta(days=200), "expected_months": 24, "high_risk": True,
                             "resolved_on": None, "created_at": stamp})
        consent_id = new_id()
        consents.append({"org_id": org_id, "id": consent_id, "patient_id": pid, "provider_id": provider_id,
                         "method": rnd.choice(["verbal", "written"]), "obtained_by_id": None,
                         "obtained_by_name": rnd.choice(COORDINATORS),
                         "obtained_at": datetime.combine(start, time(10), tz).astimezone(UTC),
                         "told_availability": True, "told_cost_sharing": True, "told_stop_month_end": True,
                         "told_one_practitioner": True, "note": "seeded", "created_at": stamp})
        eid = new_id()
        enrolments.append({"org_id": org_id, "id": eid, "patient_id": pid, "provider_id": provider_id,
                           "location_id": location_id, "program": program, "complex": kind == "complex",
                           "consent_id": consent_id, "initiating_visit_on": start - timedelta(days=10),
                           "initiating_visit_kind": rnd.choice(["em", "awv"]), "start_date": start, "end_date": None,
                           "end_reason": "", "rpm_setup_billed": rnd.random() < 0.7, "created_at": stamp})
        plan.append((eid, pid, provider_id, location_id, tz, kind, program, start, i))
        plan_versions.append(_plan_version(org_id, eid, pid, problems[first_problem:], start, 1, stamp,
                                           COORDINATORS[i % 3], "plan established at enrolment"))
    with engine.begin() as conn:
        _chunked(CareProblem.__table__, conn, problems)
        _chunked(CareConsent.__table__, conn, consents)
        _chunked(CareEnrolment.__table__, conn, enrolments)
    plan_count: dict[uuid.UUID, int] = dict.fromkeys((p[0] for p in plan), 1)  # version 1 is the establishment
    problems_of: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in problems:
        problems_of.setdefault(row["patient_id"], []).append(row)
    # The entries stream out in batches: the benchmark's 600,000 never sit in memory at once.
    written = 0

    def flush(rows: list[dict[str, Any]], table: Any) -> int:
        with engine.begin() as conn:
            _chunked(table, conn, rows)
        n = len(rows)
        rows.clear()
        return n

    n_readings = 0
    for eid, pid, provider_id, _location, tz, kind, program, start, i in plan:
        for month in wanted:
            first, last = months.first_day(month), min(months.last_day(month), today)
            total = rnd.choice(TOTALS[kind])
            n = entries_per_month or rnd.randint(1, 4)
            if total < n:
                total = n
            for k, minutes in enumerate(_split(total, n)):
                day = first + timedelta(days=rnd.randint(0, (last - first).days))
                started = datetime.combine(day, time(8 + k % 9, (k * 7) % 60), tz).astimezone(UTC)
                if started + timedelta(minutes=minutes) > stamp:
                    started = stamp - timedelta(minutes=minutes + 5 + k)
                role = "practitioner" if program != "rpm" and rnd.random() < 0.1 else "staff"
                activity = "care_plan_revision" if kind == "complex" and k == 0 else (
                    "device_review" if program == "rpm" and k % 2 else rnd.choice(ACTIVITIES))
                if activity == "care_plan_revision":
                    plan_count[eid] += 1
                    plan_versions.append(_plan_version(
                        org_id, eid, pid, problems_of.get(pid, []), months.local_date(started, str(tz)),
                        plan_count[eid], stamp, COORDINATORS[i % 3],
                        "goals and interventions revised after a change in condition"))
                entries.append({
                    "org_id": org_id, "id": new_id(), "enrolment_id": eid, "patient_id": pid,
                    "provider_id": provider_id, "program": program, "author_id": None,
                    "author_name": "the billing practitioner" if role == "practitioner" else COORDINATORS[i % 3],
                    "role": role, "activity": activity, "started_at": started, "minutes": minutes,
                    "service_month": months.month_of(months.local_date(started, str(tz))), "note": rnd.choice(NOTES),
                    # 33 RPM minutes without an interactive call: the preview says NO_INTERACTIVE.
                "interactive": (program == "rpm" and k == 0 and total != 33) or activity == "patient_call",
                    "source": "seed", "voided": False, "edited_after_billing": False, "edit_reason": "",
                    "created_at": stamp})
        if program == "rpm":
            span_start = months.first_day(wanted[0])
            period_start, _ = months.rpm_period(start, span_start)
            while period_start <= today:
                days = rnd.choice(RPM_DAYS)
                period_days = [period_start + timedelta(days=d) for d in sorted(rnd.sample(range(30), days))]
                for d in period_days:
                    if d > today:
                        continue
                    measured = datetime.combine(d, time(7, 30), tz).astimezone(UTC)
                    if measured > stamp:
                        continue
                    readings.append({"org_id": org_id, "id": new_id(), "enrolment_id": eid, "patient_id": pid,
                                     "vendor": "seed-devices", "reading_id": f"{eid.hex}-{d.isoformat()}",
                                     "measured_at": measured, "local_date": d, "kind": "blood_pressure",
                                     "value": {"systolic": 118 + rnd.randint(0, 40),
                                           "diastolic": 70 + rnd.randint(0, 20)},
                                     "created_at": stamp})
                period_start += timedelta(days=months.RPM_PERIOD_DAYS)
        if len(entries) >= 20_000:
            written += flush(entries, CareTimeEntry.__table__)
        if len(readings) >= 20_000:
            n_readings += flush(readings, RpmReading.__table__)
    written += flush(entries, CareTimeEntry.__table__)
    n_readings += flush(readings, RpmReading.__table__)
    n_plans = flush(plan_versions, CarePlanVersion.__table__)
    say(f"{len(enrolments)} care enrolments, {n_plans} care-plan versions, {written} time entries, "
        f"{n_readings} RPM readings")
    return {"enrolments": len(enrolments), "time_entries": written, "rpm_readings": n_readings,
            "care_plan_versions": n_plans, "months": wanted}


def _plan_version(org_id: uuid.UUID, enrolment_id: uuid.UUID, patient_id: uuid.UUID, problems: list[dict[str, Any]],
                  effective_on: date, version: int, stamp: datetime, author: str, reason: str) -> dict[str, Any]:
    """A care-plan version row shaped as `careplan.save_plan` stores it (problems snapshotted)."""
    return {
        "org_id": org_id, "id": new_id(), "enrolment_id": enrolment_id, "patient_id": patient_id,
        "version": version, "effective_on": effective_on, "review_on": effective_on + timedelta(days=90),
        "substantial_revision": True, "revision_reason": reason, "author_id": None, "author_name": author,
        "created_at": stamp,
        "content": {
            "problems": [{"id": str(p["id"]), "icd10": p["icd10"], "description": p["description"]}
                         for p in problems],
            "goals": [{"description": f"Keep {p['description'].lower()} stable", "measure": "clinic review",
                       "target": "no admissions", "target_date": None} for p in problems[:2]],
            "interventions": [{"description": "Monthly call to review symptoms and medications",
                               "responsible": author, "frequency": "monthly"}],
            "team": [{"name": author, "role": "care coordinator", "contact": ""}],
            "summary": "Seeded care plan.",
        },
    }

"""Deterministic demo and benchmark data (`praxis seed`, `make run`, `make bench`).

small  = 2 locations, 8 providers, 2,000 patients, 6 weeks of appointments around today,
         150 patients in care management (care.seeddata)
medium = 10 locations (one 40-provider flagship), 100 providers, 200,000 patients, a year of
         appointments (about six months back and six months ahead), 3,000 in care management

Everything is inserted with bulk Core statements (executemany in chunks); the same seed gives
the same names, times and statuses. Returns a summary dict (org id/slug, counts).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, insert, update

from praxis.platform import clock
from praxis.platform.ids import new_id
from praxis.practice.schemas import OrgSettings

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Maria",
         "Wei", "Mei", "Ahmed", "Fatima", "Olga", "Ivan", "Priya", "Raj", "Kenji", "Yuki"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
        "Nguyen", "Kim", "Patel", "Chen", "Okafor", "Kowalski", "Ivanova", "Haddad", "Tanaka", "Silva"]
STREETS = ["Main", "Oak", "Maple", "Cedar", "Elm", "Pine", "Hudson", "Lake", "Hill", "River"]
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles"]


@dataclass(frozen=True)
class Scale:
    locations: int
    providers: int
    flagship_providers: int
    patients: int
    days_back: int
    days_ahead: int


SCALES = {
    "small": Scale(2, 8, 5, 2_000, 14, 28),
    "medium": Scale(10, 100, 40, 200_000, 182, 183),
}


def _tables() -> dict[str, Table]:
    from praxis.patients.models import MrnCounter, Patient
    from praxis.practice.models import Location, Organisation
    from praxis.scheduling import models as m

    return {"org": Organisation.__table__, "mrn": MrnCounter.__table__, "loc": Location.__table__,
            "patient": Patient.__table__,
            "provider": m.Provider.__table__, "pl": m.ProviderLocation.__table__, "vt": m.VisitType.__table__,
            "tpl": m.ScheduleTemplate.__table__, "blk": m.ScheduleTemplateBlock.__table__,
            "bh": m.BusinessHours.__table__, "appt": m.Appointment.__table__,
            "rule": m.ReminderRule.__table__, "res": m.Resource.__table__}


def npi_for(n: int) -> str:
    """A valid NPI derived from n."""
    from praxis.practice.schemas import npi_check_digit

    base = f"1{n:08d}"[-9:]
    return base + str(npi_check_digit(base))


def _chunks(rows: Iterable[dict[str, Any]], size: int = 5000) -> Iterable[list[dict[str, Any]]]:
    buf: list[dict[str, Any]] = []
    for r in rows:
        buf.append(r)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def generate(engine: Engine, scale: str = "small", seed: int = 1,
             progress: Callable[[str], None] | None = None, *, today: date | None = None,
             slug: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Insert one organisation's deterministic data set; returns its ids and counts.

    Built-in roles and users are not created here: the caller seeds them (see `praxis seed`)."""
    sc = SCALES[scale]
    rnd = random.Random(seed)
    say = progress or (lambda _msg: None)
    t = _tables()
    now = clock.now()
    today = today or now.date()
    org_id = new_id()  # a fresh id like every other row: the seed decides the data, not the keys
    slug = slug or f"demo-{scale}-{seed}"
    settings = OrgSettings(allow_overbooking=True)

    with engine.begin() as conn:
        conn.execute(insert(t["org"]), [{"id": org_id, "slug": slug, "name": name or f"Demo Health ({scale})",
                                         "settings": settings.model_dump(),
                                         "created_at": now}])
        locs = []
        for i in range(sc.locations):
            tz = "America/New_York" if i == 0 else ZONES[i % len(ZONES)]
            locs.append({"org_id": org_id, "id": new_id(), "code": f"L{i + 1:02d}",
                         "name": "Flagship" if i == 0 else f"Clinic {i + 1}", "timezone": tz, "created_at": now,
                         "settings": {}, "state": "NY" if i == 0 else ""})
        conn.execute(insert(t["loc"]), locs)
        say(f"{len(locs)} locations")

        hours = [{"org_id": org_id, "id": new_id(), "location_id": loc["id"], "weekday": w,
                  "open_minute": 8 * 60, "close_minute": 18 * 60} for loc in locs for w in range(5)]
        conn.execute(insert(t["bh"]), hours)
        rooms = [{"org_id": org_id, "id": new_id(), "location_id": loc["id"], "kind": "room",
                  "name": f"Exam {k + 1}", "active": True} for loc in locs for k in range(6)]
        conn.execute(insert(t["res"]), rooms)

        vts = [
            {"code": "NEW", "name": "New patient", "duration_minutes": 40, "patient_kind": "new",
             "self_bookable": True, "colour": "#2e7d32"},
            {"code": "FU", "name": "Follow-up", "duration_minutes": 20, "self_bookable": True, "colour": "#1565c0"},
            {"code": "ANN", "name": "Annual physical", "duration_minutes": 40, "colour": "#6a1b9a"},
            {"code": "TEL", "name": "Telehealth check-in", "duration_minutes": 20, "modality": "telehealth",
             "colour": "#ef6c00"},
        ]
        for v in vts:
            v.setdefault("patient_kind", "any")
            v.setdefault("self_bookable", False)
            v.setdefault("modality", "in_person")
            v.update(org_id=org_id, id=new_id(), buffer_before_minutes=0, buffer_after_minutes=0,
                     required_resource_kinds=[], active=True)
        conn.execute(insert(t["vt"]), vts)
        conn.execute(insert(t["rule"]), [{"org_id": org_id, "id": new_id(), "hours_before": h,
                                          "channel": "preferred", "active": True} for h in (72, 24)])

        providers, links, tpls, blocks = [], [], [], []
        per_loc = [sc.flagship_providers] + [
            (sc.providers - sc.flagship_providers) // max(1, sc.locations - 1)] * (sc.locations - 1)
        per_loc[-1] += sc.providers - sum(per_loc)
        n = 0
        for loc, count in zip(locs, per_loc, strict=True):
            for _ in range(count):
                n += 1
                pid = new_id()
                providers.append({"org_id": org_id, "id": pid, "first_name": rnd.choice(FIRST),
                                  "last_name": rnd.choice(LAST), "credentials": rnd.choice(["MD", "DO", "NP", "PA"]),
                                  "npi": npi_for(n), "specialties": ["family medicine"], "created_at": now})
                links.append({"org_id": org_id, "id": new_id(), "provider_id": pid, "location_id": loc["id"]})
                tid = new_id()
                tpls.append({"org_id": org_id, "id": tid, "provider_id": pid, "location_id": loc["id"],
                             "name": "Standard week", "effective_from": today - timedelta(days=sc.days_back + 7),
                             "effective_to": None, "created_at": now})
                for w in range(5):
                    blocks.append({"org_id": org_id, "id": new_id(), "template_id": tid, "weekday": w,
                                   "start_minute": 9 * 60, "end_minute": 12 * 60})
                    blocks.append({"org_id": org_id, "id": new_id(), "template_id": tid, "weekday": w,
                                   "start_minute": 13 * 60, "end_minute": 17 * 60})
        conn.execute(insert(t["provider"]), providers)
        conn.execute(insert(t["pl"]), links)
        conn.execute(insert(t["tpl"]), tpls)
        conn.execute(insert(t["blk"]), blocks)
        say(f"{len(providers)} providers")

    # Patients (own transactions per chunk so a medium run does not hold one huge transaction).
    from praxis.patients.normalise import normalise_name

    patient_ids: list[uuid.UUID] = []

    def patient_rows() -> Iterable[dict[str, Any]]:
        for i in range(sc.patients):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            pid = new_id()
            patient_ids.append(pid)
            dob = date(1930, 1, 1) + timedelta(days=rnd.randrange(0, 33_000))
            yield {"org_id": org_id, "id": pid, "mrn": settings.mrn_format.format(i + 1), "first_name": first,
                   "last_name": last, "first_name_norm": normalise_name(first),
                   "last_name_norm": normalise_name(last), "dob": dob,
                   "sex": rnd.choice("FM"), "phone_mobile": f"+1212555{i % 10_000:04d}",
                   "email": f"patient{i + 1}@example.org", "preferred_channel": rnd.choice(["sms", "email"]),
                   "consent_sms": rnd.random() < 0.8, "consent_email": rnd.random() < 0.6,
                   "sms_opted_out": rnd.random() < 0.03, "preferred_location_id": rnd.choice(locs)["id"],
                   # an address derived from the row number (no draw, so the random sequence is unchanged)
                   "address_line1": f"{100 + i % 900} {STREETS[i % len(STREETS)]} St", "city": "New York",
                   "state": "NY", "postal_code": f"{10001 + i % 40:05d}",
                   "created_at": now, "updated_at": now}

    done = 0
    for chunk in _chunks(patient_rows()):
        with engine.begin() as conn:
            conn.execute(insert(t["patient"]), chunk)
            # The MRN counter moves with the rows it numbered, so registration continues after them.
            if done == 0:
                conn.execute(insert(t["mrn"]), [{"org_id": org_id, "last_value": len(chunk)}])
            else:
                conn.execute(update(t["mrn"]).where(t["mrn"].c.org_id == org_id)
                             .values(last_value=done + len(chunk)))
        done += len(chunk)
        if done % 50_000 < 5000:
            say(f"{done} patients")

    # Appointments: each provider's working blocks filled to ~75% with non-overlapping visits.
    vt_cycle = [(v["id"], v["duration_minutes"], v.get("modality") == "telehealth") for v in vts]
    loc_of = {lk["provider_id"]: lk["location_id"] for lk in links}
    tz_of = {loc["id"]: ZoneInfo(loc["timezone"]) for loc in locs}

    def appt_rows() -> Iterable[dict[str, Any]]:
        for offset in range(-sc.days_back, sc.days_ahead + 1):
            day = today + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for p in providers:
                loc_id = loc_of[p["id"]]
                tz = tz_of[loc_id]
                for start_m, end_m in ((9 * 60, 12 * 60), (13 * 60, 17 * 60)):
                    m = start_m
                    while m < end_m:
                        vt_id, dur, tele = rnd.choice(vt_cycle)
                        if m + dur > end_m:
                            break
                        if rnd.random() < 0.75:
                            local = datetime(day.year, day.month, day.day, m // 60, m % 60, tzinfo=tz)
                            start = local.astimezone(UTC)
                            end = start + timedelta(minutes=dur)
                            past = end < now
                            if past:
                                status = rnd.choices(["checked_out", "no_show", "cancelled"], [88, 6, 6])[0]
                            else:
                                status = rnd.choices(["booked", "confirmed", "cancelled"], [60, 35, 5])[0]
                            yield {"org_id": org_id, "id": new_id(), "location_id": loc_id, "provider_id": p["id"],
                                   "patient_id": patient_ids[rnd.randrange(len(patient_ids))], "visit_type_id": vt_id,
                                   "start_at": start, "end_at": end, "block_start": start, "block_end": end,
                                   "status": status, "telehealth": tele, "source": "import",
                                   "checked_out_at": end if status == "checked_out" else None,
                                   "cancel_reason": "Patient called" if status == "cancelled" else None,
                                   "created_at": now, "updated_at": now}
                        m += dur

    appts = 0
    for chunk in _chunks(appt_rows()):
        with engine.begin() as conn:
            conn.execute(insert(t["appt"]), chunk)
        appts += len(chunk)
        if appts % 100_000 < 5000:
            say(f"{appts} appointments")
    from praxis.billing.seeddata import seed_billing

    billing = seed_billing(engine, org_id, seed, today, say)
    from praxis.care.seeddata import MIXES, seed_care

    care = seed_care(engine, org_id, seed, today, MIXES[scale], say) if scale in MIXES else {}
    if engine.dialect.name == "postgresql":
        # Fresh statistics, or the planner guesses (e.g. a bitmap scan of every patient for an id list).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    say(f"done: {appts} appointments")
    return {"org_id": org_id, "slug": slug, "locations": [loc["id"] for loc in locs],
            "flagship_id": locs[0]["id"], "providers": len(providers), "patients": len(patient_ids),
            "appointments": appts, "visit_type_ids": [v["id"] for v in vts], "billing": billing,
            "care": care}

"""Billing demo data for `praxis seed` and `praxis demo`: payers, coverages for most patients,
billing identities, a fee schedule, visit types' default procedures, payer rule sets, an encounter
for every past checked-out visit, and claims in every status that persists (a clean scrub releases
its claim at once, so `scrubbed` is only seen in a claim's history).

Reference data goes through the services (a handful of calls); coverages, encounters and their
lines are bulk Core inserts (a medium data set has a hundred thousand past visits). The claims are
built, submitted, acknowledged and adjudicated through the services, so their history, batches,
control numbers and files are the real thing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select

from praxis.billing import claims, edi, reference, rules, submission
from praxis.billing.codes import npi_with_check_digit
from praxis.billing.models import Claim, ClaimBatch, Encounter, EncounterLine, ProviderBilling
from praxis.billing.schemas import (
    AdjudicationIn,
    BillingProfileIn,
    CorrectIn,
    FeeItemIn,
    FeeScheduleIn,
    PayerEdiIdIn,
    ProcedureIn,
    RuleSetIn,
)
from praxis.patients import coverage
from praxis.patients.models import Coverage, Patient
from praxis.patients.normalise import normalise_member_id
from praxis.patients.schemas import PayerIn
from praxis.platform.clock import now
from praxis.platform.context import system_context
from praxis.platform.errors import ValidationProblem
from praxis.platform.ids import new_id
from praxis.practice.models import Location
from praxis.scheduling.models import Appointment, Provider, VisitType

PAYERS = [  # (code, name, filing indicator, EDI id) - fictional payers
    ("MCRB", "Medicare Part B (demo)", "MB", "04412"),
    ("NORTHCARE", "Northcare Health Plan", "CI", "NCH01"),
    ("BLUEHILL", "Blue Hill Shield", "BL", "BHS77"),
    ("STATEMCD", "State Medicaid (demo)", "MC", "SMCD1"),
]
FEES = {  # code: (charge, expected allowed) in cents
    "99203": (18000, 11000), "99204": (26000, 16500), "99212": (9000, 5800), "99213": (15000, 9200),
    "99214": (22000, 13100), "99396": (25000, 15500), "36415": (2500, 900), "81002": (1800, 350),
    "90471": (3500, 2500), "90686": (4500, 2100), "93000": (6000, 1700), "G0439": (19000, 13000),
    # Care management (issue 16): approving a seeded care month creates charges at these fees.
    "99490": (9000, 6100), "99439": (7000, 4700), "99491": (12000, 8200), "99437": (8500, 5800),
    "99487": (19000, 13100), "99489": (10000, 7000), "99424": (11500, 7900), "99425": (8000, 5600),
    "99426": (8500, 6000), "99427": (6500, 4600), "99453": (3000, 1900), "99454": (6500, 4300),
    "99445": (6500, 4300), "99457": (7500, 4800), "99458": (6000, 3900), "99470": (4000, 2600),
}
DEFAULTS = {"NEW": [("99203", [])], "FU": [("99213", [])], "ANN": [("99396", []), ("36415", [])],
            "TEL": [("99212", ["95"])]}
DIAGNOSES = ["E119", "I10", "E785", "J069", "M545", "R519", "Z0000", "K219", "F411", "J45909", "N390", "L309"]
STREETS = ["Main", "Oak", "Maple", "Cedar", "Elm", "Pine", "Hudson", "Lake", "Hill", "River"]


def seed_billing(engine: Engine, org_id: uuid.UUID, seed: int, today: date,
                 progress: Callable[[str], None] | None = None, *, claims_to_build: int = 40) -> dict[str, Any]:
    """Billing data for one seeded organisation (see the module docstring); returns counts."""
    say = progress or (lambda _msg: None)
    rnd = random.Random(seed * 7919 + 14)
    ctx = system_context(org_id, "seed")
    payer_ids = []
    for code, name, indicator, edi_id in PAYERS:
        p = coverage.create_payer(ctx, PayerIn(payer_code=code, name=name, claim_filing_indicator=indicator,
                                               address_line1="PO Box 1000", city="Albany", state="NY",
                                               postal_code="12201"))
        reference.set_payer_edi_id(ctx, p.id, PayerEdiIdIn(transaction="claims", edi_id=edi_id))
        payer_ids.append(p.id)
    with engine.connect() as conn:
        locs = conn.execute(select(Location.id, Location.name).where(Location.org_id == org_id)
                            .order_by(Location.code)).all()
        providers = conn.execute(select(Provider.id).where(Provider.org_id == org_id)).scalars().all()
        vts = {code: vid for vid, code in conn.execute(select(VisitType.id, VisitType.code)
                                                       .where(VisitType.org_id == org_id))}
        patients = conn.execute(select(Patient.id, Patient.first_name, Patient.last_name)
                                .where(Patient.org_id == org_id).order_by(Patient.mrn)).all()
    for i, (loc_id, loc_name) in enumerate(locs):
        reference.set_billing_profile(ctx, loc_id, BillingProfileIn(
            name=loc_name[:60], npi=npi_with_check_digit(f"19{i:07d}"), tax_id="263456789",
            taxonomy_code="261QP2300X", address_line1=f"{100 + i} Broadway", city="New York", state="NY",
            postal_code="100051234", phone="2125550100"))
    with engine.begin() as conn:
        conn.execute(insert(ProviderBilling.__table__), [
            {"org_id": org_id, "id": new_id(), "provider_id": p, "taxonomy_code": "207Q00000X"} for p in providers])
    reference.create_fee_schedule(ctx, FeeScheduleIn(
        name="Standard charges", effective_from=today - timedelta(days=400),
        items=[FeeItemIn(code=c, charge_cents=ch, allowed_cents=al) for c, (ch, al) in FEES.items()]))
    for code, procs in DEFAULTS.items():
        if code in vts:
            reference.set_visit_type_procedures(ctx, vts[code], [ProcedureIn(code=c, modifiers=m) for c, m in procs])
    rules.save_rule_set(ctx, RuleSetIn(name="Medicare", payer_id=payer_ids[0],
                                       rules=[{"rule": "timely_filing", "days": 365}]))
    rules.save_rule_set(ctx, RuleSetIn(name="Northcare", payer_id=payer_ids[1], rules=[
        {"rule": "timely_filing", "days": 90}, {"rule": "prior_auth", "codes": ["93000"]},
        {"rule": "required_modifiers", "requirements": [{"places_of_service": ["02", "10"],
                                                         "modifiers": ["95", "93"]}]}]))

    covered = _coverages(engine, org_id, patients, payer_ids, rnd, today)
    say(f"{covered} coverages")
    encounters = _encounters(engine, org_id, vts, rnd, today)
    say(f"{encounters} encounters")
    statuses = _claims(engine, ctx, org_id, claims_to_build, today)
    say(f"claims: {statuses}")
    return {"coverages": covered, "encounters": encounters, "claims": statuses}


def _coverages(engine: Engine, org_id: uuid.UUID, patients: list[Any], payer_ids: list[uuid.UUID],
               rnd: random.Random, today: date) -> int:
    rows = []
    stamp = now()
    for i, (pid, _first, last) in enumerate(patients):
        if rnd.random() < 0.12:
            continue  # self-pay
        dependant = rnd.random() < 0.15
        member = f"{rnd.choice('ABCDWXYZ')}{rnd.randrange(10**8, 10**9)}"
        base = {"org_id": org_id, "patient_id": pid, "plan_name": "", "group_number": f"G{rnd.randrange(1000, 9999)}",
                "effective_from": today - timedelta(days=rnd.randrange(60, 2000)), "effective_to": None,
                "active": True, "external_source": "seed", "created_at": stamp, "updated_at": stamp,
                "subscriber_first_name": "", "subscriber_last_name": "", "subscriber_dob": None,
                "subscriber_sex": "U", "subscriber_address_line1": "", "subscriber_address_line2": "",
                "subscriber_city": "", "subscriber_state": "", "subscriber_postal_code": ""}
        primary = {**base, "id": new_id(), "payer_id": payer_ids[rnd.choice([0, 1, 1, 2, 2, 3])], "member_id": member,
                   "member_id_norm": normalise_member_id(member), "priority": 1, "relationship": "18"}
        if dependant:
            primary.update(relationship=rnd.choice(["19", "01"]),
                           subscriber_first_name=rnd.choice(["Ana", "Sam", "Lee"]),
                           subscriber_last_name=last, subscriber_dob=date(1970, 1, 1) + timedelta(days=i % 5000),
                           subscriber_sex=rnd.choice("FM"), subscriber_address_line1=f"{100 + i % 900} Main St",
                           subscriber_city="New York", subscriber_state="NY", subscriber_postal_code="10001")
        rows.append(primary)
        if rnd.random() < 0.1:
            second = f"S{rnd.randrange(10**8, 10**9)}"
            rows.append({**base, "id": new_id(), "payer_id": payer_ids[3], "member_id": second,
                         "member_id_norm": normalise_member_id(second), "priority": 2, "relationship": "18"})
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Coverage.__table__), rows[start:start + 5000])
    return len(rows)


def _encounters(engine: Engine, org_id: uuid.UUID, vts: dict[str, uuid.UUID], rnd: random.Random,
                today: date) -> int:
    code_of = {v: k for k, v in vts.items()}
    with engine.connect() as conn:
        zones = {lid: ZoneInfo(tz) for lid, tz in conn.execute(select(Location.id, Location.timezone)
                                                                .where(Location.org_id == org_id))}
        appts = conn.execute(select(Appointment.id, Appointment.patient_id, Appointment.location_id,
                                    Appointment.provider_id, Appointment.visit_type_id, Appointment.start_at,
                                    Appointment.telehealth)
                             .where(Appointment.org_id == org_id, Appointment.status == "checked_out")
                             .order_by(Appointment.start_at)).all()
    stamp = now()
    encs, lines = [], []
    for a in appts:
        start = a.start_at if a.start_at.tzinfo else a.start_at.replace(tzinfo=UTC)
        eid = new_id()
        dx = rnd.sample(DIAGNOSES, rnd.choice([1, 2, 2, 3]))
        encs.append({"org_id": org_id, "id": eid, "patient_id": a.patient_id, "location_id": a.location_id,
                     "appointment_id": a.id, "external_source": None, "external_id": None,
                     "date_of_service": start.astimezone(zones[a.location_id]).date(),
                     "rendering_provider_id": a.provider_id, "referring_npi": "", "referring_first_name": "",
                     "referring_last_name": "", "place_of_service": "10" if a.telehealth else "11", "diagnoses": dx,
                     "prior_auth": "", "status": "open", "notes": "", "created_at": stamp, "updated_at": stamp,
                     "version": 1})
        procs = DEFAULTS.get(code_of.get(a.visit_type_id, ""), [("99213", [])])
        defect = rnd.random() < 0.06  # a pointer to a diagnosis nobody entered: the worklist's work
        for n, (code, mods) in enumerate(procs, start=1):
            lines.append({"org_id": org_id, "id": new_id(), "encounter_id": eid, "line_no": n, "code": code,
                          "modifiers": mods, "units": 1, "charge_cents": FEES[code][0],
                          "dx_pointers": [len(dx) + 1] if defect and n == 1 else [1], "service_date": None})
    with engine.begin() as conn:
        for start in range(0, len(encs), 5000):
            conn.execute(insert(Encounter.__table__), encs[start:start + 5000])
        for start in range(0, len(lines), 5000):
            conn.execute(insert(EncounterLine.__table__), lines[start:start + 5000])
    return len(encs)


def _ack_999(sender: str, receiver: str, batch: ClaimBatch, st: str, status: str) -> str:
    isa = f"{900000000 + int(batch.interchange_control_number) % 100000:09d}"
    return (f"ISA*00*          *00*          *ZZ*{receiver.ljust(15)}*ZZ*{sender.ljust(15)}*"
            f"{now():%y%m%d}*{now():%H%M}*^*00501*{isa}*0*T*:~GS*FA*{receiver}*{sender}*{now():%Y%m%d}*"
            f"{now():%H%M}*{batch.group_control_number}*X*005010X231A1~ST*999*0001*005010X231A1~"
            f"AK1*HC*{batch.group_control_number}*005010X222A1~AK2*837*{st}*005010X222A1~"
            f"{'IK3*NM1*12**8~' if status == 'R' else ''}IK5*{status}~AK9*{status}*1*1*{0 if status == 'R' else 1}~"
            f"SE*{7 if status == 'R' else 6}*0001~GE*1*{batch.group_control_number}~IEA*1*{isa}~")


def _ack_277ca(sender: str, receiver: str, rejected_claim: str) -> str:
    """A payer's 277CA rejecting one claim (invalid subscriber id)."""
    return (f"ISA*00*          *00*          *ZZ*{receiver.ljust(15)}*ZZ*{sender.ljust(15)}*{now():%y%m%d}*"
            f"{now():%H%M}*^*00501*{now():%H%M%S}001*0*T*:~GS*HN*{receiver}*{sender}*{now():%Y%m%d}*{now():%H%M}*"
            f"8*X*005010X214~ST*277*0001*005010X214~BHT*0085*08*1*{now():%Y%m%d}*{now():%H%M}*TH~"
            "HL*1**20*1~NM1*PR*2*PAYER*****PI*NCH01~TRN*1*1~DTP*050*D8*20260101~DTP*009*D8*20260101~"
            "HL*2*1*21*1~NM1*41*2*SUBMITTER*****46*S~TRN*2*1~STC*A1:20*20260101*WQ*0~"
            "HL*3*2*19*1~NM1*85*2*CLINIC*****XX*1234567893~TRN*1*1~"
            f"HL*4*3*PT~NM1*QC*1*PATIENT*DEMO****MI*X~TRN*2*{rejected_claim}~STC*A7:562:85*20260101*WQ*0~"
            "SE*20*0001~GE*1*8~IEA*1*" + f"{now():%H%M%S}001~")


def _claims(engine: Engine, ctx: Any, org_id: uuid.UUID, count: int, today: date) -> dict[str, int]:
    """Build `count` claims through the services and walk them through the statuses."""
    with engine.connect() as conn:
        covered = set(conn.execute(select(Coverage.patient_id).where(Coverage.org_id == org_id,
                                                                     Coverage.active)).scalars())
        candidates = [e for e, p in conn.execute(select(Encounter.id, Encounter.patient_id)
                                                 .where(Encounter.org_id == org_id, Encounter.status == "open")
                                                 .order_by(Encounter.date_of_service)) if p in covered]
    pending = iter(candidates)

    def build(n: int) -> list[Any]:
        """Claims of the next `n` claimable encounters. A visit before the patient's coverage
        began is self-pay: it gets no claim, as in a clinic, and is passed over."""
        out: list[Any] = []
        done = 0
        while done < n and (eid := next(pending, None)) is not None:
            try:
                out.extend(claims.build_claims(ctx, eid))
            except ValidationProblem:
                continue
            done += 1
        return out

    built = build(count)
    if not built:
        return {}
    submission.submit_ready(ctx)
    conns = {c.id: c for c in reference.list_connections(ctx)}
    with engine.connect() as conn:
        sent = conn.execute(select(Claim).where(Claim.org_id == org_id, Claim.status == "submitted")
                            .order_by(Claim.claim_number)).all()
        batches = conn.execute(select(ClaimBatch).where(ClaimBatch.org_id == org_id)).all()
    for b in batches:
        c = conns[b.connection_id]
        st = next((s.st_control_number for s in sent if s.batch_id == b.id), None)
        if st:
            edi.ingest(ctx, _ack_999(c.sender_id, c.receiver_id, b, st, "A"), f"{b.interchange_control_number}.999")
    for i, c in enumerate(sent):
        if i % 5 == 0:
            continue  # stays accepted: waiting for the payer
        outcome = "denied" if i % 7 == 3 else "paid"
        claims.record_adjudication(ctx, c.id, AdjudicationIn(
            outcome=outcome, paid_cents=0 if outcome == "denied" else c.total_charge_cents * 6 // 10,
            patient_responsibility_cents=0 if outcome == "denied" else 2000, adjudicated_on=today,
            payer_claim_number=f"ICN{c.claim_number}"))
    paid = [c for i, c in enumerate(sent) if i % 5 and i % 7 != 3]
    if len(paid) > 2:
        claims.correct_claim(ctx, paid[0].id, CorrectIn(note="Wrong units on line 1 (demo)"))
        claims.void_claim(ctx, paid[1].id, "Billed to the wrong payer (demo)")
    # the second batch (secondary, replacement and void claims) is accepted, one claim is rejected by
    # the payer's 277CA; a third batch waits for its acknowledgement; a few claims are not sent yet
    second = submission.submit_ready(ctx)
    for b in second.batches:
        with engine.connect() as conn:
            row = conn.execute(select(ClaimBatch).where(ClaimBatch.org_id == org_id, ClaimBatch.id == b.id)).one()
            members = conn.execute(select(Claim.claim_number, Claim.st_control_number)
                                   .where(Claim.org_id == org_id, Claim.batch_id == b.id)
                                   .order_by(Claim.claim_number)).all()
        c = conns[b.connection_id]
        edi.ingest(ctx, _ack_999(c.sender_id, c.receiver_id, row, members[0][1], "A"),
                   f"{b.interchange_control_number}.999")
        edi.ingest(ctx, _ack_277ca(c.sender_id, c.receiver_id, members[0][0]), f"{b.interchange_control_number}.277")
    step = max(3, count // 8)
    build(step)
    submission.submit_ready(ctx)
    build(step)
    with engine.connect() as conn:
        rows = conn.execute(select(Claim.status).where(Claim.org_id == org_id)).scalars().all()
    return {s: rows.count(s) for s in sorted(set(rows))}

"""Benchmark: FHIR Patient building, and FHIR Patient search at 200,000 patients.

    .venv/bin/python bench/bench_fhir.py [--patients 200000] [--db postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                         [--export]

(a) Our builder (formats.fhir.build.patient, plain dicts + json.dumps) against fhir.resources
    building the same Patient (model construction + validation + JSON), same process, same input.
(b) `GET /fhir/R4/Patient?family=…&_count=50` against a scratch PostgreSQL database the bench
    creates (and drops) holding `--patients` patients, written with COPY into the same columns the
    service writes (names and their normalised copies, which the search reads; see
    patients/search.py). The time is measured inside the app by a middleware timer, so it is the
    server's time (TestClient's own overhead is not counted); the client wall time is shown too.
(c) With --export: a system `$export` of Patient run by the worker code in-process (resources/s).
(d) With --sync: the registry sync, `GET /api/v1/patients?updated_since=…&limit=200` with no other
    criterion (decision 48), walked to its end after 1 % of the patients were changed; the server's
    time per page, and PostgreSQL's plan of the page query (it should read ix_patients_org_updated).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

FIRST = ["Ana", "José", "Mary", "Wei", "Fatima", "John", "Zoë", "Liam", "Olivia", "Noah", "Emma", "Ava", "Sofía",
         "Mateo", "Chloé", "Lucas", "Hiro", "Aisha", "Ivan", "Maya"]
LAST = ["García", "Smith", "Nguyen", "O'Brien", "Müller", "Chen", "Patel", "Johnson", "Kowalski", "Núñez",
        "Brown", "Rossi", "Kim", "Dubois", "Silva", "Haddad", "Ivanova", "Jones", "Lee", "Martin"]


def _sample_patient(i: int = 0) -> Any:
    """A fully filled patient (the fields a PatientOut carries), as the builder reads them."""
    return SimpleNamespace(
        id=uuid.UUID(int=0x1234 + i), mrn=f"A{i:07d}", status="active", first_name="Sofía", middle_name="Lucía",
        last_name="Núñez", suffix="", preferred_name="Sofi", sex="F", dob=date(1984, 7, 12),
        phone_mobile="+12125550123", phone_home="+12125550199", phone_work=None, email="sofia@example.org",
        address_line1="12 Main St", address_line2="Apt 4", city="New York", state="NY", postal_code="10001",
        country="US", language="es", merged_into_id=None, updated_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))


def bench_build(n: int) -> dict[str, float]:
    from fhir.resources.R4B.patient import Patient as FhirPatient

    from praxis.formats.fhir import build

    p = _sample_patient()
    reference = build.patient(p)
    FhirPatient.model_validate(reference)  # the same resource, valid (and warms the peer's models)

    def ours() -> None:
        json.dumps(build.patient(p))

    def theirs() -> None:
        # The peer builds the same Patient from the same values: construct (validating) and serialise.
        FhirPatient(
            id=str(p.id), meta={"lastUpdated": p.updated_at},
            identifier=reference["identifier"], active=True,
            name=[{"use": "official", "family": p.last_name, "given": [p.first_name, p.middle_name]},
                  {"use": "usual", "given": [p.preferred_name]}],
            telecom=[{"system": "phone", "value": p.phone_mobile, "use": "mobile"},
                     {"system": "phone", "value": p.phone_home, "use": "home"},
                     {"system": "email", "value": p.email}],
            gender="female", birthDate=p.dob,
            address=[{"line": [p.address_line1, p.address_line2], "city": p.city, "state": p.state,
                      "postalCode": p.postal_code, "country": p.country}],
            communication=[{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": p.language}]}}],
        ).model_dump_json()

    out = {}
    for label, fn, count in (("ours", ours, n * 10), ("fhir.resources", theirs, n)):
        fn()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(count):
                fn()
            best = min(best, time.perf_counter() - t0)
        out[label] = count / best
    return out


# --- search at scale ---------------------------------------------------------------------------


def _copy_patients(engine: Any, org_id: uuid.UUID, location_id: uuid.UUID, count: int) -> None:
    """COPY `count` patients into the columns register_patient fills (normalised names included)."""
    from praxis.patients.normalise import normalise_name
    from praxis.platform.ids import new_id

    rnd = random.Random(7)
    stamp = datetime.now(UTC)
    cols = ["id", "org_id", "mrn", "status", "first_name", "middle_name", "last_name", "suffix", "preferred_name",
            "first_name_norm", "last_name_norm", "preferred_name_norm", "dob", "sex", "gender_identity",
            "phone_mobile", "email", "address_line1", "address_line2", "city", "state", "postal_code", "country",
            "language", "preferred_location_id", "emergency_name", "emergency_relationship", "preferred_channel",
            "consent_sms", "consent_email", "consent_voice", "sms_opted_out", "email_opted_out", "voice_opted_out",
            "created_at", "updated_at"]
    ids: list[uuid.UUID] = []
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            with cur.copy(f"COPY patients ({', '.join(cols)}) FROM STDIN") as copy:
                for i in range(count):
                    first, last = rnd.choice(FIRST), f"{rnd.choice(LAST)}{i % 4000}"
                    dob = date(1930, 1, 1) + timedelta(days=rnd.randrange(0, 33000))
                    pid = new_id()
                    ids.append(pid)
                    copy.write_row([pid, org_id, f"B{i:07d}", "active", first, "", last, "", "",
                                    normalise_name(first), normalise_name(last), "", dob, rnd.choice("MFU"), "",
                                    f"+1212555{i % 10000:04d}", f"p{i}@example.org", f"{i} Main St", "",
                                    "Springfield", "NY", "10001", "US", "en", location_id, "", "", "sms",
                                    True, False, False, False, False, False, stamp, stamp])
            links = "COPY patient_locations (id, org_id, patient_id, location_id, created_at) FROM STDIN"
            with cur.copy(links) as copy:
                for pid in ids:
                    copy.write_row([new_id(), org_id, pid, location_id, stamp])
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        from sqlalchemy import text

        c.execute(text("VACUUM ANALYZE patients"))
        c.execute(text("VACUUM ANALYZE patient_locations"))


def bench_sync(client: Any, engine: Any, inside: list[float], org_id: uuid.UUID, count: int) -> dict[str, Any]:
    """Change 1 % of the registry, then walk the sync of the changed ones by its Link header."""
    from sqlalchemy import text

    changed_at = datetime.now(UTC) + timedelta(hours=1)
    with engine.begin() as c:
        c.execute(text("UPDATE patients SET updated_at = :t WHERE org_id = :o AND mrn LIKE '%00'"),
                  {"t": changed_at, "o": org_id})
        c.execute(text("ANALYZE patients"))
        plan = [r[0] for r in c.execute(text(
            "EXPLAIN SELECT * FROM patients WHERE org_id = :o AND updated_at >= :t "
            "ORDER BY updated_at, id LIMIT 201"), {"o": org_id, "t": changed_at})]
    since = (changed_at - timedelta(seconds=1)).isoformat()
    mark = len(inside)
    r = client.get("/api/v1/patients", params={"updated_since": since, "limit": 200})
    rows = 0
    while True:
        assert r.status_code == 200, r.text
        rows += len(r.json())
        link = r.headers.get("link")
        if link is None:
            break
        r = client.get(link[1:link.index(">")])
    pages = inside[mark:]
    return {"sync_rows": rows, "sync_expected": count // 100, "sync_pages": len(pages),
            "sync_page_p50_ms": round(statistics.median(pages), 1), "sync_page_max_ms": round(max(pages), 1),
            "sync_plan": plan[:3]}


def bench_search(url: str, count: int, queries: int, do_export: bool, do_sync: bool = False) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from praxis import wiring
    from praxis.identity.service import create_api_client, seed_builtin_roles
    from praxis.main import create_app
    from praxis.migrations.runner import upgrade
    from praxis.platform import crypto
    from praxis.platform import db as pdb
    from praxis.platform.context import system_context
    from praxis.practice.schemas import LocationIn, OrgSettings
    from praxis.practice.service import add_location, create_organisation

    os.environ.setdefault("PRAXIS_VAR_DIR", tempfile.mkdtemp(prefix="fhirbulk-bench-var-"))
    crypto.install(crypto.KeyRing.generate())
    engine = pdb.make_engine(url)
    pdb.configure(engine)
    wiring.wire()
    upgrade("heads")
    org = create_organisation("Bench", f"bench-{secrets.token_hex(4)}", OrgSettings())
    seed_builtin_roles(org.id)
    ctx = system_context(org.id, "bench")
    loc = add_location(ctx, LocationIn(code="MAIN", name="Main", timezone="America/New_York"))
    t0 = time.perf_counter()
    _copy_patients(engine, org.id, loc.id, count)
    seed_s = time.perf_counter() - t0
    _, token = create_api_client(ctx, "bench bot", ["system/Patient.read"])

    app = create_app(seal_audit=False)
    inside: list[float] = []

    @app.middleware("http")
    async def timer(request: Any, call_next: Any) -> Any:  # the server's own time per request
        t = time.perf_counter()
        response = await call_next(request)
        inside.append((time.perf_counter() - t) * 1000)
        return response

    client = TestClient(app, base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {token}"
    rnd = random.Random(3)
    wall: list[float] = []
    found: list[int] = []
    for q in range(queries + 5):
        family = f"{rnd.choice(LAST)}{rnd.randrange(0, 4000)}"[:4 + q % 3]  # prefixes of 4-6 characters
        t = time.perf_counter()
        r = client.get("/fhir/R4/Patient", params={"family": family, "_count": 50})
        dt = (time.perf_counter() - t) * 1000
        assert r.status_code == 200, r.text
        if q >= 5:  # the first few warm the caches and the connection pool
            wall.append(dt)
            found.append(len(r.json().get("entry", [])))
    server = inside[5:]
    out: dict[str, Any] = {"patients": count, "seed_s": round(seed_s, 1), "queries": queries,
                           "mean_entries": round(statistics.mean(found), 1),
                           "server_p50_ms": round(statistics.median(server), 1),
                           "server_p95_ms": round(sorted(server)[int(len(server) * 0.95)], 1),
                           "wall_p50_ms": round(statistics.median(wall), 1)}
    if do_sync:
        _, sync_token = create_api_client(ctx, "sync bot", ["patients:read"])
        sync_client = TestClient(app, base_url="https://testserver")
        sync_client.headers["Authorization"] = f"Bearer {sync_token}"
        out.update(bench_sync(sync_client, engine, inside, org.id, count))
    if do_export:
        from praxis.interop import export

        t = time.perf_counter()
        r = client.get("/fhir/R4/$export", params={"_type": "Patient"},
                       headers={"Accept": "application/fhir+json", "Prefer": "respond-async"})
        job_id = uuid.UUID(r.headers["Content-Location"].rsplit("/", 1)[1])
        export.run_export(org.id, job_id)
        manifest = client.get(r.headers["Content-Location"]).json()
        exported = sum(o["count"] for o in manifest["output"])
        dt = time.perf_counter() - t
        out.update({"export_resources": exported, "export_s": round(dt, 1),
                    "export_per_s": round(exported / dt)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", type=int, default=2000, help="Patients the peer builds (we build 10 times more)")
    ap.add_argument("--patients", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--db", default=os.environ.get("PRAXIS_BENCH_DATABASE_URL",
                                                   "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--export", action="store_true", help="also time a Patient $export")
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--sync", action="store_true", help="also walk the registry sync (updated_since alone)")
    args = ap.parse_args(argv)

    rates = bench_build(args.build)
    ratio = rates["ours"] / rates["fhir.resources"]
    print(f"FHIR Patient build+serialise: ours {rates['ours']:,.0f}/s, fhir.resources "
          f"{rates['fhir.resources']:,.0f}/s, ratio {ratio:.1f}x (target >= 10x)")
    result: dict[str, Any] = {"build": {k: round(v) for k, v in rates.items()}, "build_ratio": round(ratio, 1)}
    if not args.skip_search:
        import scratch

        url, drop = scratch.create(args.db, "fhirbulk_bench")
        try:
            search = bench_search(url, args.patients, args.queries, args.export, args.sync)
        finally:
            drop()
        print(f"FHIR Patient search (_count=50) at {search['patients']:,} patients: server p50 "
              f"{search['server_p50_ms']} ms, p95 {search['server_p95_ms']} ms (target < 50 ms); "
              f"client wall p50 {search['wall_p50_ms']} ms; {search['mean_entries']} entries per page; "
              f"seeded in {search['seed_s']} s")
        if "export_s" in search:
            print(f"Patient $export: {search['export_resources']:,} resources in {search['export_s']} s "
                  f"({search['export_per_s']:,}/s)")
        if "sync_rows" in search:
            print(f"Registry sync (updated_since alone, 200 a page): {search['sync_rows']:,} of "
                  f"{search['sync_expected']:,} changed patients in {search['sync_pages']} pages, server p50 "
                  f"{search['sync_page_p50_ms']} ms a page, max {search['sync_page_max_ms']} ms; plan: "
                  f"{' / '.join(line.strip() for line in search['sync_plan'])}")
        result["search"] = search
    (Path(__file__).parent / "results_fhir.json").write_text(json.dumps(
        {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "results": result}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

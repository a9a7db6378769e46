"""`make bench`: generate data, time the hot paths, print one table, write bench/results.json.

    python bench/run.py [--scale small|medium] [--seed N] [--db URL]

The database is PRAXIS_BENCH_DATABASE_URL (or --db); a PostgreSQL URL gets a fresh database
created and dropped; without one a temporary SQLite file is used. Figures are medians of
repeated runs on a warm cache. `reference` is the target (or, for booking, the same work as raw
SQL), `ratio` = figure / reference: above 1.0 for a latency means the target was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _median_ms(fn: Callable[[], Any], runs: int = 10) -> float:
    fn()  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _setup_db(url: str | None) -> tuple[str, Callable[[], None]]:
    if url and url.startswith("postgresql"):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = make_url(url)
        name = f"praxis_bench_{os.getpid()}_{secrets.token_hex(2)}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            from praxis.platform.db import get_engine

            get_engine().dispose()
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        return base.set(database=name).render_as_string(hide_password=False), drop
    tmp = Path(tempfile.mkdtemp(prefix="praxis-bench-"))
    return f"sqlite:///{tmp / 'bench.db'}", lambda: None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="small", choices=["small", "medium"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", default=os.environ.get("PRAXIS_BENCH_DATABASE_URL"))
    ap.add_argument("--bookings", type=int, default=200)
    args = ap.parse_args(argv)

    os.environ.setdefault("PRAXIS_VAR_DIR", tempfile.mkdtemp(prefix="praxis-bench-var-"))
    from praxis import wiring
    from praxis.platform import crypto
    from praxis.platform import db as pdb

    url, drop = _setup_db(args.db)
    crypto.install(crypto.KeyRing.generate())
    engine = pdb.make_engine(url)
    pdb.configure(engine)
    wiring.wire()
    from praxis.migrations.runner import upgrade

    upgrade("heads")
    from praxis.seed import generate

    t0 = time.perf_counter()
    info = generate(engine, args.scale, args.seed, lambda m: print(f"  generate: {m}", file=sys.stderr))
    gen_s = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    try:
        rows = _measure(engine, info, args)
    finally:
        drop()
    rows.insert(0, {"operation": f"generate {args.scale} ({info['appointments']} appointments, "
                                 f"{info['patients']} patients)", "figure": round(gen_s, 2), "unit": "s",
                    "reference": None, "ratio": None})
    _print(rows, engine.dialect.name)
    (HERE / "results.json").write_text(json.dumps(
        {"scale": args.scale, "seed": args.seed, "database": engine.dialect.name, "results": rows}, indent=2))
    return 0


def _measure(engine: Any, info: dict[str, Any], args: Any) -> list[dict[str, Any]]:
    from praxis.desk import service as desk
    from praxis.platform.context import system_context
    from praxis.scheduling import service

    org_id, flagship = info["org_id"], info["flagship_id"]
    ctx = system_context(org_id, "bench")
    today = datetime.now(ZoneInfo("America/New_York")).date()
    while today.weekday() >= 5:
        today += timedelta(days=1)
    rows = []

    n = len(desk.day_sheet(ctx, flagship, today).rows)
    ms = _median_ms(lambda: desk.day_sheet(ctx, flagship, today))
    rows.append({"operation": f"day sheet, flagship ({n} visits)", "figure": round(ms, 1), "unit": "ms",
                 "reference": 150, "ratio": round(ms / 150, 2)})

    fu = info["visit_type_ids"][1]
    ms = _median_ms(lambda: service.search_slots(ctx, fu, from_date=today, days=30, location_ids=[flagship],
                                                 limit=10))
    rows.append({"operation": "slot search, 30 days, flagship, first 10", "figure": round(ms, 1), "unit": "ms",
                 "reference": 300, "ratio": round(ms / 300, 2)})
    ms = _median_ms(lambda: service.search_slots(ctx, fu, from_date=today, days=30, limit=10,
                                                 slot_filter=_late_filter()))
    rows.append({"operation": "slot search, 30 days, all locations, evenings only (sparse)",
                 "figure": round(ms, 1), "unit": "ms", "reference": 300, "ratio": round(ms / 300, 2)})

    try:
        from praxis.patients.service import find_patients

        ms = _median_ms(lambda: find_patients(ctx, q="smith", limit=25))
        rows.append({"operation": "patient search 'smith' (first 25)", "figure": round(ms, 1), "unit": "ms",
                     "reference": 100, "ratio": round(ms / 100, 2)})
    except ImportError:
        rows.append({"operation": "patient search", "figure": None, "unit": "ms", "reference": 100,
                     "ratio": None, "note": "patients.service.find_patients not available"})

    http = _booking_http(engine, info, args.bookings)
    rows.append(http)
    raw = _booking_raw(engine, info, args.bookings)
    rows.append(raw)
    if raw.get("figure") and http.get("figure"):
        http["reference"] = raw["figure"]
        http["ratio"] = round(http["figure"] / raw["figure"], 3)
    return rows


def _late_filter() -> Any:
    from praxis.scheduling.availability import SlotFilter

    return SlotFilter(earliest_minute=16 * 60 + 30)


def _booking_targets(info: dict[str, Any], n: int) -> list[tuple[uuid.UUID, datetime]]:
    """Contended attempts: n bookings aimed at 1/4 as many distinct 20-minute slots, 30 days out."""
    from sqlalchemy import select

    from praxis.platform.db import get_engine
    from praxis.scheduling.models import ProviderLocation

    pl = ProviderLocation.__table__
    with get_engine().connect() as conn:
        providers = list(conn.scalars(select(pl.c.provider_id).where(pl.c.org_id == info["org_id"],
                                                                     pl.c.location_id == info["flagship_id"])))
    day = date.today() + timedelta(days=30)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    tz = ZoneInfo("America/New_York")
    slots = [(providers[i % len(providers)],
              datetime(day.year, day.month, day.day, 9, 0, tzinfo=tz).astimezone(UTC)
              + timedelta(minutes=20 * (i // len(providers) % 9))) for i in range(max(1, n // 4))]
    return [slots[i % len(slots)] for i in range(n)]


def _booking_http(engine: Any, info: dict[str, Any], n: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from praxis.identity.service import create_api_client
    from praxis.main import create_app
    from praxis.platform.context import system_context
    from praxis.scheduling import api

    app = create_app(seal_audit=False)
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/api/v1/scheduling/appointments" not in paths:
        app.include_router(api.router)
    with engine.begin() as conn:
        conn.execute(text("UPDATE appointments SET status = 'cancelled' WHERE org_id = :o AND start_at > :t"),
                     {"o": info["org_id"] if engine.dialect.name != "sqlite" else info["org_id"].hex,
                      "t": datetime.now(UTC) + timedelta(days=29)})
    _, token = create_api_client(system_context(info["org_id"], "bench"), "bench bot",
                                 ["scheduling:book", "scheduling:read", "patients:read"])
    targets = _booking_targets(info, n)
    fu = info["visit_type_ids"][1]
    from sqlalchemy import select

    from praxis.patients.models import Patient

    with engine.connect() as conn:
        patients = list(conn.scalars(select(Patient.__table__.c.id).where(
            Patient.__table__.c.org_id == info["org_id"]).limit(n)))
    lat: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    idx = iter(range(n))

    def worker() -> None:
        with TestClient(app, base_url="https://testserver") as c:
            c.headers["Authorization"] = f"Bearer {token}"
            while True:
                with lock:
                    i = next(idx, None)
                if i is None:
                    return
                prov, start = targets[i]
                body = {"patient_id": str(patients[i % len(patients)]), "visit_type_id": str(fu),
                        "provider_id": str(prov), "location_id": str(info["flagship_id"]),
                        "start_at": start.isoformat()}
                t = time.perf_counter()
                r = c.post("/api/v1/scheduling/appointments", json=body)
                dt = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append(dt)
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return {"operation": f"book via HTTP API, 8 clients, {n} contended attempts (attempts/s)",
            "figure": round(n / wall, 1), "unit": "ops/s", "reference": None, "ratio": None,
            "p50_ms": round(lat[len(lat) // 2], 1), "p95_ms": round(lat[int(len(lat) * 0.95)], 1),
            "status_codes": {str(k): v for k, v in sorted(codes.items())}}


def _booking_raw(engine: Any, info: dict[str, Any], n: int) -> dict[str, Any]:
    if engine.dialect.name != "postgresql":
        return {"operation": "same bookings as raw SQL via psycopg", "figure": None, "unit": "ops/s",
                "reference": None, "ratio": None, "note": "PostgreSQL only (set PRAXIS_BENCH_DATABASE_URL)"}
    import psycopg

    from praxis.platform.ids import new_id

    targets = _booking_targets(info, n)
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE appointments SET status = 'cancelled' WHERE org_id = %s AND start_at > %s",
                     (info["org_id"], datetime.now(UTC) + timedelta(days=29)))
        patient = conn.execute("SELECT id FROM patients WHERE org_id = %s LIMIT 1", (info["org_id"],)).fetchone()[0]
    fu = info["visit_type_ids"][1]
    lock = threading.Lock()
    idx = iter(range(n))
    ok = [0]

    def worker() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                with lock:
                    i = next(idx, None)
                if i is None:
                    return
                prov, start = targets[i]
                end = start + timedelta(minutes=20)
                try:
                    conn.execute(
                        "INSERT INTO appointments (org_id, id, location_id, provider_id, patient_id, visit_type_id,"
                        " start_at, end_at, block_start, block_end, status, overbooked, telehealth, source,"
                        " reason_for_visit, created_at, updated_at, version) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                        "%s,'booked',false,false,'api','',now(),now(),1)",
                        (info["org_id"], new_id(), info["flagship_id"], prov, patient, fu, start, end, start, end))
                    with lock:
                        ok[0] += 1
                except psycopg.errors.ExclusionViolation:
                    pass

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return {"operation": f"same attempts as raw SQL INSERT via psycopg ({ok[0]} won)",
            "figure": round(n / wall, 1), "unit": "ops/s", "reference": None, "ratio": None}


def _print(rows: list[dict[str, Any]], dialect: str) -> None:
    print(f"\nPraxis scheduling bench ({dialect})")
    print(f"{'operation':<72} {'figure':>10} {'unit':<6} {'reference':>10} {'ratio':>7}")
    print("-" * 110)
    for r in rows:
        fig = "n/a" if r.get("figure") is None else f"{r['figure']}"
        ref = "" if r.get("reference") is None else f"{r['reference']}"
        ratio = "" if r.get("ratio") is None else f"{r['ratio']}"
        print(f"{r['operation'][:72]:<72} {fig:>10} {r['unit']:<6} {ref:>10} {ratio:>7}")
        extra = {k: v for k, v in r.items() if k in ("p50_ms", "p95_ms", "status_codes", "note")}
        if extra:
            print(f"{'':<4}{extra}")


if __name__ == "__main__":
    raise SystemExit(main())

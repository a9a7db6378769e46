"""Benchmark: the care month-end engine (issue 16 "Speed") over 20,000 enrolled patients with 30
time entries each, on PostgreSQL (target: under 10 s).

    PRAXIS_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/bench_care.py [--patients 20000] [--entries 30]

A scratch database is created and dropped. The data is a seeded organisation (praxis.seed with
`--patients` patients and no appointments to speak of) whose patients are all enrolled in CCM,
complex CCM, PCM or RPM by care.seeddata, with `--entries` time entries each in last month, bulk
inserted with Core. Timed, each the median of `--runs` runs in one process:

- the billing preview of the whole month (the close computation: every enrolment's codes),
- the month-end review (the preview plus the per-coordinator minutes),
- peers: a plain SELECT of the month's entries (the data the engine must at least read), and the
  same preview over a tenth of the patients (one location's share), for the ratios.
Without PRAXIS_BENCH_DATABASE_URL it runs on a SQLite file (a smoke run, not the target).
Development: BENCH_CARE_KEEP=<database> keeps the scratch database and reuses its data next time;
BENCH_CARE_PROFILE=1 prints where one preview's time goes.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

TARGET_S = 10.0


def _median(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run(url: str, patients: int, entries: int, runs: int) -> dict[str, Any]:
    from sqlalchemy import func, select, text

    from praxis import wiring
    from praxis.care import closing, months, review
    from praxis.care.models import CareEnrolment, CareTimeEntry
    from praxis.care.seeddata import CareMix, seed_care
    from praxis.migrations.runner import upgrade
    from praxis.platform import clock, crypto
    from praxis.platform import db as pdb
    from praxis.platform.context import system_context
    from praxis.platform.scoping import cross_org
    from praxis.seed import SCALES, Scale, generate

    crypto.install(crypto.KeyRing.generate())
    engine = pdb.make_engine(url)
    pdb.configure(engine)
    wiring.wire()
    upgrade("heads")
    SCALES["care-bench"] = Scale(10, 40, 4, patients, 0, 0)
    t0 = time.perf_counter()
    today = clock.now().date()
    from praxis.practice.models import Organisation

    with engine.connect() as c:  # development (BENCH_CARE_KEEP): reuse the data of an earlier run
        kept = c.execute(cross_org(select(Organisation.id).where(Organisation.slug.like("care-bench-%")),
                                   "bench: find the benchmark organisation")).scalar()
    if kept is not None:
        info, care = {"org_id": kept}, {}
    else:
        info = generate(engine, "care-bench", 3, slug=f"care-bench-{secrets.token_hex(3)}")
        n = patients
        mix = CareMix(ccm=n * 6 // 10, complex=n // 10, pcm=n * 15 // 100,
                      rpm=n - n * 6 // 10 - n // 10 - n * 15 // 100)
        care = seed_care(engine, info["org_id"], 3, today, mix, entries_per_month=entries, months_back=(1,))
    gen_s = time.perf_counter() - t0
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    month = months.month_of(months.first_day(months.month_of(today)) - timedelta(days=1))
    ctx = system_context(info["org_id"], "bench")
    with pdb.session_scope(info["org_id"]) as s:
        n_entries = s.scalar(select(func.count()).select_from(CareTimeEntry)
                             .where(CareTimeEntry.service_month == month))
        one_location = s.scalar(select(CareEnrolment.location_id).order_by(CareEnrolment.location_id).limit(1))

    def plain_select() -> int:
        with pdb.session_scope(info["org_id"]) as s:
            return len(s.execute(select(CareTimeEntry.enrolment_id, CareTimeEntry.role, CareTimeEntry.minutes,
                                        CareTimeEntry.interactive, CareTimeEntry.activity)
                                 .where(CareTimeEntry.service_month == month)).all())

    if os.environ.get("BENCH_CARE_PROFILE"):  # development: where the preview's time goes
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(closing.billing_preview, ctx, month)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    preview_s, rows = _median(lambda: closing.billing_preview(ctx, month), runs)
    review_s, _ = _median(lambda: review.month_review(ctx, month), runs)
    select_s, selected = _median(plain_select, runs)
    part_s, part = _median(lambda: closing.billing_preview(ctx, month, location_id=one_location), runs)
    billable = sum(1 for r in rows if r.result.billable)
    out = {"database": engine.dialect.name, "month": month, "enrolments": len(rows), "entries": n_entries,
           "generate_s": round(gen_s, 1), "preview_s": round(preview_s, 3), "review_s": round(review_s, 3),
           "select_s": round(select_s, 3), "select_rows": selected, "part_enrolments": len(part),
           "part_s": round(part_s, 3), "billable": billable, "care": {k: v for k, v in care.items() if k != "months"}}
    engine.dispose()
    return out


def _report(r: dict[str, Any]) -> None:
    print(f"{r['database']}: {r['enrolments']:,} enrolments, {r['entries']:,} time entries in {r['month']} "
          f"(generated in {r['generate_s']} s)")
    print(f"  billing preview (close computation) {r['preview_s']:8.3f} s  {r['entries'] / r['preview_s']:12,.0f} "
          f"entries/s  {r['enrolments'] / r['preview_s']:9,.0f} enrolments/s  target < {TARGET_S} s: "
          f"{'met' if r['preview_s'] < TARGET_S else 'NOT met'}  ({r['billable']:,} billable)")
    print(f"  month-end review                    {r['review_s']:8.3f} s")
    print(f"  peer: plain SELECT of the entries   {r['select_s']:8.3f} s  {r['select_rows']:12,} rows   "
          f"preview / select = {r['preview_s'] / r['select_s']:.1f}x")
    print(f"  peer: preview of one location       {r['part_s']:8.3f} s  {r['part_enrolments']:12,} enrolments  "
          f"whole / part = {r['preview_s'] / r['part_s']:.1f}x for "
          f"{r['enrolments'] / max(1, r['part_enrolments']):.1f}x the enrolments")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--entries", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="praxis-bench-care-"))
    os.environ.setdefault("PRAXIS_VAR_DIR", str(tmp / "var"))
    pg = os.environ.get("PRAXIS_BENCH_DATABASE_URL")
    if not pg:
        print("PRAXIS_BENCH_DATABASE_URL is not set: a SQLite smoke run (the target is for PostgreSQL)",
              file=sys.stderr)
        _report(run(f"sqlite:///{tmp / 'bench.db'}", args.patients, args.entries, args.runs))
        return
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql
    from sqlalchemy.engine import make_url

    keep = os.environ.get("BENCH_CARE_KEEP")  # development: a database kept (and reused) between runs
    name = keep or f"praxis_bench_care_{secrets.token_hex(3)}"
    admin = create_engine(make_url(pg).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sql("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            conn.execute(sql(f'CREATE DATABASE "{name}"'))
    try:
        _report(run(make_url(pg).set(database=name).render_as_string(hide_password=False), args.patients,
                    args.entries, args.runs))
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()

"""Benchmark: generate a 100,000-row patient CSV and time dry run + apply + re-run.

    .venv/bin/python bench/bench_import.py [--rows 100000]

Runs on a fresh SQLite file, and on PostgreSQL too when PRAXIS_BENCH_DATABASE_URL is set
(a scratch database is created and dropped there). Prints rows per second for each phase.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

FIRST = ["Ana", "José", "Mary", "Wei", "Fatima", "John", "Zoë", "Liam", "Olivia", "Noah", "Emma", "Ava", "Sofía",
         "Mateo", "Chloé", "Lucas", "Hiro", "Aisha", "Ivan", "Maya"]
LAST = ["García", "Smith", "Nguyen", "O'Brien", "Müller", "Chen", "Patel", "Johnson", "Kowalski", "Núñez",
        "Brown", "Rossi", "Kim", "Dubois", "Silva", "Haddad", "Ivanova", "Jones", "Lee", "Martin"]


def generate(rows: int, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["Account", "Last Name", "First Name", "DOB", "Sex", "Cell Phone", "Email", "Address", "City",
                "State", "Zip"])
    start = date(1930, 1, 1)
    for i in range(rows):
        dob = start + timedelta(days=rnd.randrange(0, 33000))
        phone = f"({rnd.choice(['212', '602', '415', '312'])}) 555-{rnd.randrange(100, 199):04d}"
        w.writerow([f"A{i:07d}", f"{rnd.choice(LAST)}{i}", rnd.choice(FIRST), dob.isoformat(),
                    rnd.choice("MFU"), phone, f"p{i}@example.org", f"{i} Main St", "Springfield", "NY", "10001"])
    return buf.getvalue().encode()


def _timed(label: str, rows: int, fn: Callable[[], object]) -> object:
    t0 = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t0
    print(f"  {label:<22} {dt:8.2f} s {rows / dt:12,.0f} rows/s")
    return result


def run(url: str, data: bytes, rows: int) -> None:
    from praxis import wiring
    from praxis.identity.service import seed_builtin_roles
    from praxis.migrations.runner import upgrade
    from praxis.patients import importer
    from praxis.platform import crypto
    from praxis.platform import db as pdb
    from praxis.platform.context import system_context
    from praxis.practice.schemas import LocationIn, OrgSettings
    from praxis.practice.service import add_location, create_organisation

    crypto.install(crypto.KeyRing.generate())
    pdb.configure(pdb.make_engine(url))
    wiring.wire()
    upgrade("heads")
    org = create_organisation("Bench", f"bench-{secrets.token_hex(4)}", OrgSettings())
    seed_builtin_roles(org.id)
    ctx = system_context(org.id, "bench")
    add_location(ctx, LocationIn(code="MAIN", name="Main", timezone="America/New_York"))

    def go(dry: bool) -> object:
        return importer.run_import(ctx, "patients", data, filename="bench.csv", location_code="MAIN",
                                   source="bench", dry_run=dry)

    report = _timed("dry run", rows, lambda: go(True))
    assert not report.errors, report.errors[:3]  # type: ignore[attr-defined]
    report = _timed("apply", rows, lambda: go(False))
    assert report.created == rows, report.created  # type: ignore[attr-defined]
    report = _timed("re-run (no-op)", rows, lambda: go(False))
    assert report.created == 0  # type: ignore[attr-defined]
    pdb.get_engine().dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="praxis-bench-"))
    os.environ.setdefault("PRAXIS_VAR_DIR", str(tmp / "var"))
    t0 = time.perf_counter()
    data = generate(args.rows)
    print(f"generated {args.rows:,} rows ({len(data) / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    print("SQLite")
    run(f"sqlite:///{tmp / 'bench.db'}", data, args.rows)
    pg = os.environ.get("PRAXIS_BENCH_DATABASE_URL")
    if pg:
        import scratch

        with scratch.database(pg) as url:
            print("PostgreSQL")
            run(url, data, args.rows)


if __name__ == "__main__":
    main()

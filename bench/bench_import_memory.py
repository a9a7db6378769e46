"""Benchmark: peak memory and time of an import dry run of a large CSV (issue 17 finding 8).

    .venv/bin/python bench/bench_import_memory.py [--mb 50] [--apply] [--bytes]

Generates a CSV of about --mb megabytes on disk, then dry-runs it through `importer.run_import`
from an open file (or, with --bytes, from the file read into memory: how the API called it before)
on a fresh SQLite database, and prints the rows, the seconds, and the process's peak resident set
(resource.getrusage) above what it held before the import.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import FIRST, LAST


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """The same shape as bench_import.generate, streamed to disk row by row (no memory to speak of)."""
    import csv
    import random
    from datetime import date, timedelta

    rnd = random.Random(seed)
    start = date(1930, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["Account", "Last Name", "First Name", "DOB", "Sex", "Cell Phone", "Email", "Address", "City",
                    "State", "Zip"])
        for i in range(rows):
            dob = start + timedelta(days=rnd.randrange(0, 33000))
            phone = f"({rnd.choice(['212', '602', '415', '312'])}) 555-{rnd.randrange(100, 199):04d}"
            w.writerow([f"A{i:07d}", f"{rnd.choice(LAST)}{i}", rnd.choice(FIRST), dob.isoformat(),
                        rnd.choice("MFU"), phone, f"p{i}@example.org", f"{i} Main St", "Springfield", "NY", "10001"])


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--apply", action="store_true")
    parser.add_argument("--bytes", action="store_true", help="pass the file's bytes (the old API path)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="praxis-bench-mem-"))
    os.environ.setdefault("PRAXIS_VAR_DIR", str(tmp / "var"))
    os.environ.setdefault("PRAXIS_MAX_UPLOAD_BYTES", str(1024 * 1024 * 1024))
    rows = int(args.mb * 1e6 / 105)
    path = tmp / "big.csv"
    write_csv(path, rows)
    size = path.stat().st_size

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
    pdb.configure(pdb.make_engine(f"sqlite:///{tmp / 'bench.db'}"))
    wiring.wire()
    upgrade("heads")
    org = create_organisation("Bench", f"bench-{secrets.token_hex(4)}", OrgSettings())
    seed_builtin_roles(org.id)
    ctx = system_context(org.id, "bench")
    add_location(ctx, LocationIn(code="MAIN", name="Main", timezone="America/New_York"))
    before = rss_mb()
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        data = fh.read() if args.bytes else fh
        report = importer.run_import(ctx, "patients", data, filename="big.csv", location_code="MAIN",
                                     source="bench", dry_run=not args.apply)
    dt = time.perf_counter() - t0
    print(f"file {size / 1e6:.1f} MB, {report.total_rows:,} rows, {'apply' if args.apply else 'dry run'}"
          f"{' (bytes)' if args.bytes else ''}: {dt:.1f} s, peak RSS {rss_mb():.0f} MB "
          f"({rss_mb() - before:+.0f} MB over the {before:.0f} MB before the import), "
          f"{'created' if args.apply else 'would create'} {report.created:,}")


if __name__ == "__main__":
    main()

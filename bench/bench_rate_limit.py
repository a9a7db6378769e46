"""Benchmark: what the per-API-client rate limit (decision 41) costs each bearer request.

    .venv/bin/python bench/bench_rate_limit.py [--requests 3000]

Times `identity.auth.resolve_bearer` (the token lookup every bot request makes) with the window
counter (one UPSERT ... RETURNING) and, in the same process on the same database, with the counter
replaced by a no-op: the difference is the limit's cost. Also times the keyset page of a 25-row
in-memory list against slicing the same list, for scale. SQLite always; PostgreSQL too when
PRAXIS_BENCH_DATABASE_URL is set (a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _per_call(fn: Callable[[], object], n: int, rounds: int = 5) -> float:
    """Median over `rounds` of the mean µs per call of `n` calls."""
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        results.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(results)


def run(url: str, n: int) -> None:
    from praxis import wiring
    from praxis.identity import auth
    from praxis.identity.service import create_api_client, seed_builtin_roles
    from praxis.migrations.runner import upgrade
    from praxis.platform import crypto
    from praxis.platform import db as pdb
    from praxis.platform.context import system_context
    from praxis.platform.settings import get_settings
    from praxis.practice.schemas import OrgSettings
    from praxis.practice.service import create_organisation

    crypto.install(crypto.KeyRing.generate())
    pdb.configure(pdb.make_engine(url))
    wiring.wire()
    upgrade("heads")
    get_settings().api_rate_limit_per_minute = 10**9
    org = create_organisation("Bench", f"bench-{secrets.token_hex(4)}", OrgSettings())
    seed_builtin_roles(org.id)
    _, token = create_api_client(system_context(org.id, "bench"), "bench bot", ["locations:read"])

    def lookup() -> object:
        ctx = auth.resolve_bearer(token, client_ip="127.0.0.1")
        assert ctx is not None
        return ctx

    counted = auth._count_request
    for _ in range(200):  # warm up both paths
        lookup()
    with_limit = _per_call(lookup, n)
    auth._count_request = lambda *a, **k: None  # type: ignore[assignment]
    try:
        without = _per_call(lookup, n)
    finally:
        auth._count_request = counted  # type: ignore[assignment]
    with pdb.get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        trip = _per_call(lambda: conn.exec_driver_sql("SELECT 1").scalar(), n)
    print(f"  one SELECT 1 round trip   {trip:8.1f} µs (peer: what any extra statement costs here)")
    print(f"  bearer lookup, no limit   {without:8.1f} µs/request")
    print(f"  bearer lookup + limit     {with_limit:8.1f} µs/request  (+{with_limit - without:.1f} µs, "
          f"{with_limit / without:.2f}x)")
    pdb.get_engine().dispose()


def paging_cost(n: int) -> None:
    import uuid

    from praxis.platform.paging import PageRequest, encode_cursor, keyset_page

    rows = [{"name": f"Site {i:02d}", "id": uuid.uuid4()} for i in range(25)]

    def key(r: dict[str, object]) -> tuple[object, ...]:
        return (r["name"], r["id"])

    after = key(sorted(rows, key=lambda r: str(r["name"]))[9])
    sliced = _per_call(lambda: rows[10:20], n)
    keyed = _per_call(lambda: keyset_page(rows, PageRequest(10, after), key), n)
    cursor = _per_call(lambda: encode_cursor("/api/v1/locations", None, after), n)
    print(f"  25-row list: slice {sliced:.2f} µs, keyset page {keyed:.1f} µs, signed cursor {cursor:.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="praxis-bench-"))
    os.environ.setdefault("PRAXIS_VAR_DIR", str(tmp / "var"))
    print("in memory")
    from praxis.platform import crypto

    crypto.install(crypto.KeyRing.generate())
    paging_cost(args.requests)
    print("SQLite")
    run(f"sqlite:///{tmp / 'bench.db'}", args.requests)
    pg = os.environ.get("PRAXIS_BENCH_DATABASE_URL")
    if pg:
        import scratch

        with scratch.database(pg) as url:
            print("PostgreSQL")
            run(url, args.requests)


if __name__ == "__main__":
    main()

"""`make bench`: generate data, time the hot paths, print one table, write bench/results.json.

    python bench/run.py [--scale small|medium] [--seed N] [--db URL] [--bookings N] [--clients N]

The database is PRAXIS_BENCH_DATABASE_URL (or --db); a PostgreSQL URL gets a fresh database
created and dropped; without one a temporary SQLite file is used.

- Latencies are *server time*: time.perf_counter around the service call, median of repeated
  warm runs, in the bench process (no HTTP).
- Booking goes through the real HTTP API: one `uvicorn praxis.asgi:app` process (one worker)
  on 127.0.0.1, driven by a separate load-generator process (this file with --load-client:
  N threads, one keep-alive HTTP/1.1 connection each), bounded by count and time. Groups of
  four consecutive attempts aim at the same slot, so racers really collide.
- The floor is the same booking transaction's writes (appointment + audit + outbox + patient
  link) as raw SQL through psycopg, same targets, same number of clients.

`reference` is the issue's target; `ratio` = figure / reference; `met` says whether the target
is met (latency: figure <= reference; throughput: figure >= reference).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
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

TARGETS = {"day_sheet": 50.0, "slot_search": 50.0, "patient_search": 30.0, "booking": 300.0,
           "grid": 100.0, "patient_page": 100.0}
BOOKING_GOAL = 500.0


def _median_ms(fn: Callable[[], Any], runs: int = 15) -> float:
    fn()  # warm
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _latency_row(operation: str, ms: float, reference: float) -> dict[str, Any]:
    return {"operation": operation, "figure": round(ms, 1), "unit": "ms", "reference": reference,
            "ratio": round(ms / reference, 2), "met": "yes" if ms <= reference else "no"}


def _throughput_row(operation: str, per_s: float | None, reference: float | None, **extra: Any
                    ) -> dict[str, Any]:
    row: dict[str, Any] = {"operation": operation, "figure": None if per_s is None else round(per_s, 1),
                           "unit": "ops/s", "reference": reference, "ratio": None, "met": None}
    if per_s is not None and reference:
        row["ratio"] = round(per_s / reference, 2)
        row["met"] = "yes" if per_s >= reference else "no"
    row.update(extra)
    return row


def _run_threads(worker: Callable[[], None], n: int) -> None:
    threads = [threading.Thread(target=worker) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def _latency_summary(lat: list[float]) -> dict[str, float | None]:
    """p50/p95/p99/max of latencies in ms (rounded), None when nothing ran."""
    lat = sorted(lat)
    if not lat:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(lat[len(lat) // 2], 1), "p95_ms": round(lat[int(len(lat) * 0.95)], 1),
            "p99_ms": round(lat[int(len(lat) * 0.99)], 1), "max_ms": round(lat[-1], 1)}


def _setup_db(url: str | None) -> tuple[str, Callable[[], None]]:
    if url and url.startswith("postgresql"):
        import scratch

        return scratch.create(url)
    tmp = Path(tempfile.mkdtemp(prefix="praxis-bench-"))
    return f"sqlite:///{tmp / 'bench.db'}", lambda: None


def main(argv: list[str] | None = None) -> int:
    global PER_SLOT
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="small", choices=["small", "medium"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", default=os.environ.get("PRAXIS_BENCH_DATABASE_URL"))
    ap.add_argument("--bookings", type=int, default=3000, help="booking attempts (HTTP and raw SQL)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients of the load generator")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time bound of each booking run")
    ap.add_argument("--existing", metavar="INFO_JSON",
                    help="development: use --db as is (already seeded; info dict from generate() as JSON)")
    ap.add_argument("--per-slot", type=int, default=PER_SLOT,
                    help="booking attempts aimed at each slot (4 = contended; 1 = every attempt can win)")
    ap.add_argument("--only", choices=["all", "booking", "screens", "x12"], default="all",
                    help="development: only the booking measurements, only the screens (day sheet, grid, "
                         "patient), or only the X12 codec")
    ap.add_argument("--load-client", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    PER_SLOT = max(1, args.per_slot)
    if args.load_client:
        return _load_client()
    if args.only == "x12":  # pure codec: no database needed
        import bench_x12

        x12_rows = bench_x12.rows()
        _print(x12_rows, "no database")
        (HERE / "results_x12.json").write_text(json.dumps(
            {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "results": x12_rows},
            indent=2, default=str))
        return 0

    os.environ.setdefault("PRAXIS_VAR_DIR", tempfile.mkdtemp(prefix="praxis-bench-var-"))
    from praxis import wiring
    from praxis.platform import crypto
    from praxis.platform import db as pdb

    if args.existing:
        url, drop = args.db, (lambda: None)
        crypto.keyring()  # PRAXIS_KEYRING_FILE / var dir: the ring the data was written with
    else:
        url, drop = _setup_db(args.db)
        crypto.install(crypto.KeyRing.generate())
    engine = pdb.make_engine(url)
    pdb.configure(engine)
    wiring.wire()
    if args.existing:
        info = json.loads(Path(args.existing).read_text())
        for k in ("org_id", "flagship_id"):
            info[k] = uuid.UUID(str(info[k]))
        info["visit_type_ids"] = [uuid.UUID(str(v)) for v in info["visit_type_ids"]]
        gen_s = None
    else:
        from praxis.migrations.runner import upgrade

        upgrade("heads")
        from praxis.seed import generate

        t0 = time.perf_counter()
        info = generate(engine, args.scale, args.seed, lambda m: print(f"  generate: {m}", file=sys.stderr))
        gen_s = time.perf_counter() - t0
        if engine.dialect.name == "postgresql":
            from sqlalchemy import text

            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
    rows: list[dict[str, Any]] = []
    try:
        rows = _measure(engine, info, args)
    finally:
        drop()
    rows.insert(0, {"operation": f"generate {args.scale} ({info['appointments']} appointments, "
                                 f"{info['patients']} patients)",
                    "figure": None if gen_s is None else round(gen_s, 2), "unit": "s",
                    "reference": None, "ratio": None, "met": None})
    _print(rows, engine.dialect.name)
    (HERE / "results.json").write_text(json.dumps(
        {"scale": args.scale, "seed": args.seed, "database": engine.dialect.name,
         "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "results": rows},
        indent=2, default=str))
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
    rows: list[dict[str, Any]] = []
    if args.only == "booking":
        return [_booking_http(engine, info, args), _booking_raw(engine, info, args)]

    n = len(desk.day_sheet(ctx, flagship, today).rows)
    rows.append(_latency_row(f"day sheet, flagship ({n} visits)",
                             _median_ms(lambda: desk.day_sheet(ctx, flagship, today)), TARGETS["day_sheet"]))

    rows.extend(_screens(info, today))
    if args.only == "screens":
        return rows

    fu = info["visit_type_ids"][1]
    ms = _median_ms(lambda: service.search_slots(ctx, fu, from_date=today, days=30, location_ids=[flagship],
                                                 limit=10))
    rows.append(_latency_row("slot search, 30 days, flagship, first 10", ms, TARGETS["slot_search"]))
    ms = _median_ms(lambda: service.search_slots(ctx, fu, from_date=today, days=30, limit=10,
                                                 slot_filter=_late_filter()))
    rows.append(_latency_row("slot search, 30 days, all locations, evenings only (sparse)", ms,
                             TARGETS["slot_search"]))

    from praxis.patients.service import find_patients

    rows.append(_latency_row("patient search 'smith' (first 25)",
                             _median_ms(lambda: find_patients(ctx, q="smith", limit=25)),
                             TARGETS["patient_search"]))
    rows.append(_latency_row("patient search 'smith, mar' (first 25)",
                             _median_ms(lambda: find_patients(ctx, q="smith, mar", limit=25)),
                             TARGETS["patient_search"]))

    rows.append(_patient_page_row(ctx, org_id))
    rows.append(_booking_http(engine, info, args))
    rows.append(_booking_raw(engine, info, args))

    import bench_x12  # pure codec (formats.x12): 837P generation, our reader beside pyx12

    rows += bench_x12.rows()
    import bench_hl7  # pure codec (formats.hl7v2): our parser beside the hl7 package

    rows += bench_hl7.rows()
    if engine.dialect.name == "postgresql":
        import bench_hl7_mllp  # HL7 ADT over MLLP end to end: its own database and listener process

        rows += bench_hl7_mllp.rows(args.db, clients="1,8,32", messages=2000)
    return rows


def _patient_page_row(ctx: Any, org_id: uuid.UUID) -> dict[str, Any]:
    """The patient page's reads for the patient with the most visits: the page itself (patient,
    coverages, payers, documents, alerts) and the panels it loads (visits and waitlist, intake
    history). Template rendering is not included (a few ms)."""
    from sqlalchemy import func, select

    from praxis.desk import visits
    from praxis.intake import service as intake
    from praxis.patients.overview import patient_overview
    from praxis.platform.db import get_engine
    from praxis.scheduling.models import Appointment

    a = Appointment.__table__
    with get_engine().connect() as conn:
        pid, n = conn.execute(select(a.c.patient_id, func.count()).where(a.c.org_id == org_id)
                              .group_by(a.c.patient_id).order_by(func.count().desc()).limit(1)).one()

    def page() -> None:
        patient_overview(ctx, pid)
        visits.schedule(ctx, pid)
        intake.list_submissions(ctx, pid)

    return _latency_row(f"patient page reads ({n} visits: page, visits panel, intake)", _median_ms(page),
                        TARGETS["patient_page"])


def _screens(info: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """Issue 13's screens as a signed-in front desk gets them: the flagship's schedule grid for one
    day (every provider a column) and a patient page, each a whole GET through the app (routing,
    session, permission, services, Jinja rendering) in-process with the TestClient; no network."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from praxis.identity import auth
    from praxis.identity.models import WebSession
    from praxis.identity.service import add_membership, create_user, seed_builtin_roles
    from praxis.identity.tokens import digest
    from praxis.main import create_app
    from praxis.platform.db import session_scope
    from praxis.scheduling.models import Appointment
    from praxis.web.middleware import SESSION_COOKIE

    org_id, flagship = info["org_id"], info["flagship_id"]
    seed_builtin_roles(org_id)
    email, password = f"bench-desk-{secrets.token_hex(3)}@example.org", secrets.token_urlsafe(12)
    user = create_user(email, "Bench Desk", password)
    add_membership(org_id, user.id, [("front_desk", None)])
    token = auth.login(email, password).token
    with session_scope(None, system=True, reason="bench: signs the bench user's session in") as s:
        ws = s.get(WebSession, digest(token))
        assert ws is not None
        ws.mfa_passed, ws.org_id = True, org_id
    with session_scope(org_id) as s:
        patient_id = s.scalars(select(Appointment.patient_id).where(Appointment.location_id == flagship)
                               .order_by(Appointment.start_at.desc()).limit(1)).one()
    client = TestClient(create_app(seal_audit=False), base_url="https://testserver")
    headers = {"cookie": f"{SESSION_COOKIE}={token}", "accept": "text/html"}

    def get(url: str) -> Callable[[], Any]:
        def call() -> None:
            r = client.get(url, headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
        return call

    grid_url = f"/scheduling?location_id={flagship}&day={today.isoformat()}"
    page = client.get(grid_url, headers=headers).text
    columns = page.count('class="sched-head ')
    blocks = page.count('<article id="appt-')
    rows = [_latency_row(f"schedule grid page, flagship, one day ({columns} providers, {blocks} visits)",
                         _median_ms(get(grid_url)), TARGETS["grid"]),
            _latency_row("patient page", _median_ms(get(f"/patients/{patient_id}")), TARGETS["patient_page"])]
    client.close()
    return rows


def _late_filter() -> Any:
    from praxis.scheduling.availability import SlotFilter

    return SlotFilter(earliest_minute=16 * 60 + 30)


# --- booking -------------------------------------------------------------------------------------

PER_SLOT = 4  # attempts aimed at each slot, issued back to back so they race


def _booking_targets(info: dict[str, Any], n: int) -> list[tuple[uuid.UUID, datetime]]:
    """n attempts, PER_SLOT consecutive ones per distinct 20-minute morning slot of the flagship's
    providers, on weekdays from 30 days out (far from the seeded bookings, which are cancelled)."""
    from sqlalchemy import select

    from praxis.platform.db import get_engine
    from praxis.scheduling.models import ProviderLocation

    pl = ProviderLocation.__table__
    with get_engine().connect() as conn:
        providers = sorted(conn.scalars(select(pl.c.provider_id).where(
            pl.c.org_id == info["org_id"], pl.c.location_id == info["flagship_id"])), key=str)
    tz = ZoneInfo("America/New_York")
    per_day = len(providers) * 9
    slots = []
    day = date.today() + timedelta(days=30)
    distinct = max(1, -(-n // PER_SLOT))
    while len(slots) < distinct:
        while day.weekday() >= 5:
            day += timedelta(days=1)
        for k in range(min(per_day, distinct - len(slots))):
            start = (datetime(day.year, day.month, day.day, 9, 0, tzinfo=tz)
                     + timedelta(minutes=20 * (k // len(providers))))
            slots.append((providers[k % len(providers)], start.astimezone(UTC)))
        day += timedelta(days=1)
    return [slots[i // PER_SLOT] for i in range(n)]


def _free_future(engine: Any, info: dict[str, Any]) -> None:
    from sqlalchemy import text

    org = info["org_id"] if engine.dialect.name != "sqlite" else info["org_id"].hex
    with engine.begin() as conn:
        conn.execute(text("UPDATE appointments SET status = 'cancelled' WHERE org_id = :o AND start_at > :t "
                          "AND status <> 'cancelled'"),
                     {"o": org, "t": datetime.now(UTC) + timedelta(days=29)})


def _overlaps(engine: Any, info: dict[str, Any]) -> int:
    """Pairs of active, non-overbooked appointments of one provider that overlap (must be 0)."""
    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        return int(conn.scalar(text(
            "SELECT count(*) FROM appointments a JOIN appointments b ON a.org_id = b.org_id "
            "AND a.provider_id = b.provider_id AND a.id < b.id AND a.block_start < b.block_end "
            "AND b.block_start < a.block_end WHERE a.org_id = :o AND a.start_at > :t "
            "AND a.status NOT IN ('cancelled','no_show') AND b.status NOT IN ('cancelled','no_show') "
            "AND NOT a.overbooked AND NOT b.overbooked"),
            {"o": info["org_id"], "t": datetime.now(UTC) + timedelta(days=29)}) or 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _booking_http(engine: Any, info: dict[str, Any], args: Any) -> dict[str, Any]:
    from sqlalchemy import select

    from praxis.identity.service import create_api_client
    from praxis.patients.models import Patient
    from praxis.platform import audit, crypto
    from praxis.platform.context import system_context

    n, clients = args.bookings, args.clients
    name = (f"book via HTTP API: 1 uvicorn worker, {clients} keep-alive clients, {n} attempts on "
            f"{-(-n // PER_SLOT)} slots ({PER_SLOT} per slot)")
    if engine.dialect.name == "sqlite":
        name += " (SQLite)"
    _free_future(engine, info)
    # Start from a sealed audit chain (an earlier run's raw-SQL floor leaves its rows unsealed), so
    # the server's sealer thread works only on what this run writes.
    audit.seal_pending()
    _, token = create_api_client(system_context(info["org_id"], "bench"), f"bench bot {secrets.token_hex(3)}",
                                 ["scheduling:book", "scheduling:read", "patients:read"])
    with engine.connect() as conn:
        patients = [str(p) for p in conn.scalars(select(Patient.__table__.c.id).where(
            Patient.__table__.c.org_id == info["org_id"]).limit(n))]
    fu = str(info["visit_type_ids"][1])
    bodies = [json.dumps({"patient_id": patients[i % len(patients)], "visit_type_id": fu, "provider_id": str(p),
                          "location_id": str(info["flagship_id"]), "start_at": s.isoformat()})
              for i, (p, s) in enumerate(_booking_targets(info, n))]

    var = Path(os.environ["PRAXIS_VAR_DIR"])
    ring_file = var / "bench-keyring.json"
    crypto.save(crypto.keyring(), ring_file)
    port = _free_port()
    env = {**os.environ, "PRAXIS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "PRAXIS_KEYRING_FILE": str(ring_file), "PRAXIS_VAR_DIR": str(var)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "praxis.asgi:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--no-access-log", "--log-level", "warning"], env=env)
    try:
        _wait_ready(port, server)
        spec = {"port": port, "token": token, "bodies": bodies, "clients": clients,
                "max_seconds": args.max_seconds}
        cpu0 = _cpu_seconds(server.pid)
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--load-client"],
                             input=json.dumps(spec), capture_output=True, text=True, check=True,
                             timeout=args.max_seconds + 120)
        cpu1 = _cpu_seconds(server.pid)
        res = json.loads(out.stdout)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    codes = res["codes"]
    won = codes.get("201", 0)
    slots_tried = len({(json.loads(b)["provider_id"], json.loads(b)["start_at"]) for b in bodies[: res["sent"]]})
    errors_5xx = sum(v for k, v in codes.items() if k.startswith("5") or k == "error")
    return _throughput_row(
        name, res["sent"] / res["wall"], TARGETS["booking"],
        booked_per_s=round(won / res["wall"], 1), goal=BOOKING_GOAL, attempts=res["sent"],
        wall_s=round(res["wall"], 2), **{k: res[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
        status_codes=codes,
        # The server process's CPU (all its threads) per request: one core bounds its throughput.
        server_cpu_ms_per_request=None if cpu0 is None or cpu1 is None else round(
            (cpu1 - cpu0) * 1000 / max(res["sent"], 1), 2),
        slots=slots_tried, one_winner_per_slot=won == slots_tried, overlapping_pairs=_overlaps(engine, info),
        server_5xx=errors_5xx)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(port: int, server: subprocess.Popen[Any]) -> None:
    import http.client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                c.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("uvicorn did not become ready in 60 s")


def _load_client() -> int:
    """The load generator (its own process): N threads, one keep-alive connection each."""
    import http.client

    spec = json.loads(sys.stdin.read())
    bodies: list[str] = spec["bodies"]
    headers = {"Authorization": f"Bearer {spec['token']}", "Content-Type": "application/json",
               "Connection": "keep-alive"}
    lock = threading.Lock()
    nxt = [0]
    lat: list[float] = []
    codes: dict[str, int] = {}
    t0 = time.perf_counter()
    deadline = t0 + float(spec["max_seconds"])

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
        while True:
            with lock:
                i = nxt[0]
                if i >= len(bodies) or time.perf_counter() > deadline:
                    return
                nxt[0] += 1
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/scheduling/appointments", body=bodies[i], headers=headers)
                resp = conn.getresponse()
                resp.read()
                code = str(resp.status)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
                code = "error"
            dt = (time.perf_counter() - t) * 1000
            with lock:
                lat.append(dt)
                codes[code] = codes.get(code, 0) + 1

    _run_threads(worker, int(spec["clients"]))
    wall = time.perf_counter() - t0
    print(json.dumps({"sent": len(lat), "wall": wall, "codes": dict(sorted(codes.items())),
                      **_latency_summary(lat)}))
    return 0


class _Taken(Exception):
    """The raw floor's busy check found the slot taken (rolls the transaction back)."""


def _booking_raw(engine: Any, info: dict[str, Any], args: Any) -> dict[str, Any]:
    """Floor: the booking transaction as raw SQL (the provider's advisory lock, the busy check, then
    appointment, audit row, three outbox rows, patient-location link), one transaction per
    attempt, same targets and clients."""
    name = f"floor: same attempts as raw SQL transactions via psycopg, {args.clients} clients"
    if engine.dialect.name != "postgresql":
        return _throughput_row(name, None, None, note="PostgreSQL only (set PRAXIS_BENCH_DATABASE_URL)")
    import psycopg
    from psycopg.types.json import Jsonb

    from praxis.platform.ids import new_id
    from praxis.scheduling.booking import provider_lock_key

    n = args.bookings
    targets = _booking_targets(info, n)
    _free_future(engine, info)
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    org, loc = info["org_id"], info["flagship_id"]
    with psycopg.connect(url, autocommit=True) as conn:
        patients = [r[0] for r in conn.execute("SELECT id FROM patients WHERE org_id = %s LIMIT %s", (org, n))]
    fu = info["visit_type_ids"][1]
    lock = threading.Lock()
    nxt = [0]
    ok = [0]
    deadlocks = [0]
    lat: list[float] = []
    deadline = time.perf_counter() + args.max_seconds

    def worker() -> None:
        with psycopg.connect(url) as conn:
            while True:
                with lock:
                    i = nxt[0]
                    if i >= n or time.perf_counter() > deadline:
                        return
                    nxt[0] += 1
                prov, start = targets[i]
                end = start + timedelta(minutes=20)
                patient, appt = patients[i % len(patients)], new_id()
                t = time.perf_counter()
                try:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (provider_lock_key(org, prov),))
                        busy = conn.execute(
                            "SELECT EXISTS (SELECT 1 FROM appointments WHERE org_id = %s AND provider_id = %s"
                            " AND status IN ('booked','confirmed','checked_in','roomed','checked_out')"
                            " AND block_start < %s AND block_start > %s AND block_end > %s)",
                            (org, prov, end, start - timedelta(days=1), start)).fetchone()
                        if busy and busy[0]:
                            raise _Taken
                        conn.execute(
                            "INSERT INTO appointments (org_id, id, location_id, provider_id, patient_id,"
                            " visit_type_id, start_at, end_at, block_start, block_end, status, overbooked,"
                            " telehealth, source, reason_for_visit, created_at, updated_at, version) VALUES"
                            " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'booked',false,false,'api','',now(),now(),1)",
                            (org, appt, loc, prov, patient, fu, start, end, start, end))
                        conn.execute(
                            "INSERT INTO audit_records (org_id, id, created_at, actor_type, actor_name, role,"
                            " action, resource_type, resource_id, patient_id, location_id, break_glass, detail)"
                            " VALUES (%s,%s,now(),'api_client','bench','','appointment.book','appointment',"
                            "%s,%s,%s,false,%s)",
                            (org, new_id(), str(appt), patient, loc, Jsonb({"start_at": start.isoformat()})))
                        for topic in ("scheduling.appointment_booked", "scheduling.reminder_due",
                                      "scheduling.reminder_due"):
                            conn.execute(
                                "INSERT INTO outbox (id, org_id, topic, payload, status, attempts, available_at,"
                                " created_at) VALUES (%s,%s,%s,%s,'pending',0,now(),now())",
                                (new_id(), org, topic, Jsonb({"appointment_id": str(appt)})))
                        conn.execute(
                            "INSERT INTO patient_locations (org_id, id, patient_id, location_id, created_at)"
                            " VALUES (%s,%s,%s,%s,now()) ON CONFLICT DO NOTHING", (org, new_id(), patient, loc))
                    won = 1
                except (_Taken, psycopg.errors.ExclusionViolation):
                    won = 0
                except psycopg.errors.DeadlockDetected:  # two racers inside the constraint check
                    won = 0
                    with lock:
                        deadlocks[0] += 1
                with lock:
                    ok[0] += won
                    lat.append((time.perf_counter() - t) * 1000)

    t0 = time.perf_counter()
    _run_threads(worker, args.clients)
    wall = time.perf_counter() - t0
    return _throughput_row(name, len(lat) / wall, None, booked_per_s=round(ok[0] / wall, 1),
                           attempts=len(lat), won=ok[0], deadlocks=deadlocks[0], **_latency_summary(lat))


def _print(rows: list[dict[str, Any]], dialect: str) -> None:
    print(f"\nPraxis scheduling bench ({dialect})")
    print(f"{'operation':<84} {'figure':>9} {'unit':<6} {'reference':>9} {'ratio':>6} {'met':>4}")
    print("-" * 124)
    for r in rows:
        fig = "n/a" if r.get("figure") is None else f"{r['figure']}"
        ref = "" if r.get("reference") is None else f"{r['reference']}"
        ratio = "" if r.get("ratio") is None else f"{r['ratio']}"
        met = r.get("met") or ""
        print(f"{r['operation'][:84]:<84} {fig:>9} {r['unit']:<6} {ref:>9} {ratio:>6} {met:>4}")
        extra = {k: v for k, v in r.items()
                 if k not in ("operation", "figure", "unit", "reference", "ratio", "met")}
        if extra:
            print(f"{'':<4}{extra}")


if __name__ == "__main__":
    raise SystemExit(main())

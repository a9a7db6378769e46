"""HL7 v2 over MLLP end to end: `praxis hl7 listen` (one process) on PostgreSQL, K clients.

    python bench/bench_hl7_mllp.py [--db URL] [--clients 1,8] [--messages 2000] [--warmup 2000] [--keep]

- Creates its own database (PRAXIS_BENCH_DATABASE_URL or --db names the server; default
  postgresql+psycopg://postgres@127.0.0.1:5432/postgres), migrates it, creates an organisation
  with a location and the facility map, and starts `praxis hl7 listen` as a subprocess on a
  free 127.0.0.1 port.
- For each K in --clients: K clients in one asyncio loop, one MLLP connection each, in original
  mode (each waits for its ACK before sending the next; the messages are built beforehand).
  Each client sends a mix of ADT A04 (a new patient,
  its own identifier) and A08 (an address change for one of the patients it registered
  earlier), about 60/40, every message with a unique control id.
- Reports messages/s acknowledged AA, p50/p99 latency (send to ACK received), and CPU per
  message: the listener process's and its PostgreSQL backends' (utime+stime from /proc, over the
  run; the backends only when the server runs on this host), autovacuum workers on the bench
  database apart. On a shared, saturated host the
  throughput is set by the CPU share the scheduler gives, so the CPU per message is the figure to
  compare; `--src` runs another commit's listener against the same database for an A/B.
- Then checks that every message was applied exactly once: patients = A04s sent, links = A04s,
  stored messages = messages sent (all `processed`), A08s applied (each updated patient has the
  last address its client sent), one `patient.registered` outbox event and one `patient.create`
  audit row per A04; and resends a sample of messages, which must get the stored ACK back byte
  for byte and change nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGET = 1000.0  # ADT messages/s acknowledged end to end (issue 15)
FACILITY = "BenchFacility"
FAMILY = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Lopez", "Wilson"]
GIVEN = ["Ann", "Bob", "Cara", "Dan", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon", "Kim", "Lee"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _pg_backends_cpu() -> dict[tuple[int, bool], float]:
    """CPU seconds of each PostgreSQL backend connected to the bench database (when the server
    runs on this host: /proc shows its processes); the bench's own connections included, idle.
    Keyed by (pid, is a client backend): autovacuum workers on the database are counted apart, as
    their work comes in bursts (a table's dead rows cross the threshold) whichever run is going."""
    from sqlalchemy import text

    from praxis.platform.db import get_engine

    with get_engine().connect() as c:
        rows = c.execute(text("SELECT pid, backend_type = 'client backend' FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
    out = {}
    for pid, client in rows:
        with contextlib.suppress(OSError, IndexError):
            out[(pid, bool(client))] = _cpu_seconds(pid)
    return out


def _message(event: str, ext_id: str, control_id: str, family: str, given: str, dob: str, street: str) -> bytes:
    from praxis.formats.hl7v2 import build_message

    struct = "ADT_A01"
    return build_message([
        ("MSH", ["EHR", FACILITY, "PRAXIS", "CLINIC", "20261207090000", None, ["ADT", event, struct],
                 control_id, "P", "2.5"]),
        ("EVN", [event, "20261207090000"]),
        ("PID", ["1", None, [ext_id, None, None, "BENCHMPI", "MR"], None, [family, given], None, dob, "F",
                 None, None, [street, None, "Springfield", "IL", "62701"]]),
        ("PV1", ["1", "O"]),
    ]).encode()


class Client:
    """One MLLP connection in original mode: send, wait for the ACK, send the next. The messages
    are built before the run (their content never depends on an answer), and every client runs in
    one asyncio loop of this process: 32 client threads contending for one GIL delivered their
    next messages milliseconds apart, which split the listener's batches and measured the load
    generator rather than the listener."""

    def __init__(self, port: int, run: str, index: int, count: int, rng: random.Random) -> None:
        self.port, self.count, self.rng = port, count, rng
        self.prefix = f"{run}-{index}"
        self.latencies: list[float] = []
        self.codes: dict[str, int] = {}
        self.a04 = 0
        self.a08 = 0
        self.last_street: dict[str, str] = {}  # ext id -> last street sent (A04 or A08), AA only
        self.sent: list[tuple[bytes, bytes]] = []  # (message, ack) samples for the resend check
        self.error: BaseException | None = None
        self.plan = self._plan()

    def _plan(self) -> list[tuple[bytes, str, str]]:
        """(message, sender's patient id, street) for each message, in order."""
        rng = self.rng
        registered: list[tuple[str, str, str, str]] = []
        plan = []
        for seq in range(self.count):
            control_id = f"{self.prefix}-{seq}"
            street = f"{rng.randint(1, 9999)} Main St"
            if registered and rng.random() < 0.4:
                ext_id, family, given, dob = rng.choice(registered)
                plan.append((_message("A08", ext_id, control_id, family, given, dob, street), ext_id, street))
                self.a08 += 1
            else:
                ext_id = f"{self.prefix}-P{seq}"
                family, given = rng.choice(FAMILY), rng.choice(GIVEN)
                dob = f"19{rng.randint(30, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                plan.append((_message("A04", ext_id, control_id, family, given, dob, street), ext_id, street))
                registered.append((ext_id, family, given, dob))
                self.a04 += 1
        return plan

    async def run(self) -> None:
        try:
            await self._run()
        except BaseException as exc:  # reported by the bench
            self.error = exc

    async def _run(self) -> None:
        import asyncio

        from praxis.formats.hl7v2 import MllpDecoder, mllp_frame

        decoder = MllpDecoder()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for seq, (block, ext_id, street) in enumerate(self.plan):
                frame = mllp_frame(block)
                t0 = time.perf_counter()
                writer.write(frame)
                acks: list[bytes] = []
                while not acks:
                    chunk = await asyncio.wait_for(reader.read(65536), 60)
                    if not chunk:
                        raise ConnectionError("listener closed the connection")
                    acks = decoder.feed(chunk)
                self.latencies.append(time.perf_counter() - t0)
                ack = acks[0]
                code = ack.split(b"\rMSA|", 1)[1][:2].decode() if b"\rMSA|" in ack else "??"
                self.codes[code] = self.codes.get(code, 0) + 1
                if code == "AA":
                    self.last_street[ext_id] = street
                if seq % 50 == 7:
                    self.sent.append((block, ack))
        finally:
            writer.close()


def _drive(port: int, k: int, per_client: int, run: str, pid: int,
           analyzing: bool = False) -> tuple[dict[str, Any], list[Client]]:
    import asyncio

    clients = [Client(port, run, i, per_client, random.Random(f"{run}-{i}")) for i in range(k)]

    async def everyone() -> None:
        await asyncio.gather(*(c.run() for c in clients))

    analyze = _Autoanalyze() if analyzing else None
    pg0 = _pg_backends_cpu()
    own0 = time.process_time()
    cpu0, t0 = _cpu_seconds(pid), time.perf_counter()
    asyncio.run(everyone())
    wall, cpu = time.perf_counter() - t0, _cpu_seconds(pid) - cpu0
    own = time.process_time() - own0
    analyzer = analyze.finish() if analyze else None
    pg1 = _pg_backends_cpu()
    pg_cpu = sum(v - pg0.get(p, 0.0) for p, v in pg1.items() if p[1] and p[0] != analyzer)
    pg_other = sum(v - pg0.get(p, 0.0) for p, v in pg1.items() if not p[1] or p[0] == analyzer)
    if analyze:
        analyze.close()
    for c in clients:
        if c.error is not None:
            raise RuntimeError(f"client failed: {c.error!r}") from c.error
    lat = sorted(x for c in clients for x in c.latencies)
    codes: dict[str, int] = {}
    for c in clients:
        for code, n in c.codes.items():
            codes[code] = codes.get(code, 0) + n
    total = len(lat)
    row = {
        "operation": f"HL7 ADT over MLLP, {k} connection(s), one listener",
        "clients": k,
        "messages": total,
        "acks": codes,
        "figure": round(codes.get("AA", 0) / wall, 1),
        "unit": "msg/s",
        "reference": TARGET,
        "ratio": round(codes.get("AA", 0) / wall / TARGET, 2),
        "met": "yes" if codes.get("AA", 0) / wall >= TARGET else "no",
        "p50_ms": round(statistics.median(lat) * 1000, 2),
        "p99_ms": round(lat[min(total - 1, int(total * 0.99))] * 1000, 2),
        "listener_cpu_ms_per_msg": round(cpu / total * 1000, 3),
        "postgres_cpu_ms_per_msg": round(pg_cpu / total * 1000, 3) if pg1 else None,
        # Autovacuum workers and the bench's own ANALYZE every second (`_Autoanalyze`).
        "postgres_autovacuum_cpu_ms_per_msg": round(pg_other / total * 1000, 3) if pg1 else None,
        # The load generator's own CPU (this process: the K clients' loop), on the same cores.
        "clients_cpu_ms_per_msg": round(own / total * 1000, 3),
        "wall_s": round(wall, 2),
    }
    return row, clients


def _verify(org_id: uuid.UUID, clients: list[Client]) -> dict[str, Any]:
    """Exactly once: counts of what each message must have produced, and the A08s' addresses."""
    from sqlalchemy import func, select

    from praxis.interop.hl7.models import Hl7Message, Hl7PatientLink
    from praxis.patients.models import Patient
    from praxis.platform.audit import AuditRecord
    from praxis.platform.db import session_scope
    from praxis.platform.outbox import OutboxMessage

    a04 = sum(c.a04 for c in clients)
    sent = sum(len(c.latencies) for c in clients)
    expected_street = {ext: street for c in clients for ext, street in c.last_street.items()}
    with session_scope(org_id) as s:
        patients = s.scalar(select(func.count()).select_from(Patient).where(Patient.org_id == org_id))
        links = dict(s.execute(select(Hl7PatientLink.external_id, Hl7PatientLink.patient_id).where(
            Hl7PatientLink.org_id == org_id)).all())
        status = dict(s.execute(select(Hl7Message.status, func.count()).where(Hl7Message.org_id == org_id)
                                .group_by(Hl7Message.status)).all())
        attempts = s.scalar(select(func.max(Hl7Message.attempts)).where(Hl7Message.org_id == org_id))
        streets = dict(s.execute(select(Patient.id, Patient.address_line1).where(Patient.org_id == org_id)).all())
        events = s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.org_id == org_id, OutboxMessage.topic == "patient.registered"))
        audits = s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.org_id == org_id, AuditRecord.action == "patient.create"))
    wrong_street = sum(1 for ext, street in expected_street.items() if streets.get(links.get(ext)) != street)
    checks = {
        "patients == A04s": (patients, a04),
        "links == A04s": (len(links), a04),
        "stored processed == sent": (status.get("processed", 0), sent),
        "stored total == sent": (sum(status.values()), sent),
        "max attempts == 1": (attempts, 1),
        "patient.registered events == A04s": (events, a04),
        "patient.create audit rows == A04s": (audits, a04),
        "patients with a wrong last address": (wrong_street, 0),
    }
    failed = {k: v for k, v in checks.items() if v[0] != v[1]}
    return {"checks": {k: v[0] for k, v in checks.items()}, "failed": failed}


def _resend(port: int, clients: list[Client]) -> dict[str, int]:
    """Resend sampled messages: each must get its stored ACK back, byte for byte."""
    from praxis.formats.hl7v2 import MllpDecoder, mllp_frame

    same = differ = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        decoder = MllpDecoder()
        for c in clients:
            for block, ack in c.sent:
                conn.sendall(mllp_frame(block))
                acks: list[bytes] = []
                while not acks:
                    acks = decoder.feed(conn.recv(65536))
                if acks[0] == ack:
                    same += 1
                else:
                    differ += 1
    return {"resent": same + differ, "same ack": same, "different ack": differ}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=os.environ.get("PRAXIS_BENCH_DATABASE_URL")
                    or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--clients", default="1,8", help="comma-separated K values")
    ap.add_argument("--messages", type=int, default=2000, help="messages per K (split among the clients)")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    ap.add_argument("--warmup", type=int, default=2000,
                    help="messages sent (8 connections) before the measured runs, by each listener")
    ap.add_argument("--json", type=Path, default=None, help="write the rows here")
    ap.add_argument("--src", action="append", default=[],
                    help="A/B: run the listener from this source tree (a `src` directory of another "
                         "commit), PATH@N with N writer threads (PRAXIS_HL7_WRITERS); repeat to compare "
                         "several, each against the same database")
    ap.add_argument("--no-analyze", dest="analyze", action="store_false",
                    help="do not ANALYZE the database before each K and every second during it "
                         "(autovacuum's job on a normal server)")
    args = ap.parse_args(argv)
    if not args.db.startswith("postgresql"):
        print("bench_hl7_mllp: needs a PostgreSQL server URL", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO / "src"))
    tmp = Path(tempfile.mkdtemp(prefix="praxis-bench-hl7-"))
    os.environ["PRAXIS_VAR_DIR"] = str(tmp / "var")
    import scratch

    url, drop = scratch.create(args.db, "bench_hl7")
    os.environ["PRAXIS_DATABASE_URL"] = url
    env = {**os.environ}
    praxis = [sys.executable, "-m", "praxis"]
    subprocess.run([*praxis, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)

    from praxis import wiring
    from praxis.identity.service import seed_builtin_roles
    from praxis.platform import crypto
    from praxis.platform import db as pdb
    from praxis.platform.context import system_context
    from praxis.practice.schemas import LocationIn
    from praxis.practice.service import add_location, create_organisation

    (tmp / "var").mkdir(parents=True, exist_ok=True)
    crypto.keyring()  # the var dir's ring, which the listener process loads too
    pdb.configure(pdb.make_engine(url))
    wiring.wire()
    org = create_organisation("HL7 Bench Clinics", f"hl7-bench-{os.getpid()}")
    seed_builtin_roles(org.id)
    loc = add_location(system_context(org.id, "bench"), LocationIn(
        code="MAIN", name="Main", timezone="America/Chicago", npi="1234567893", place_of_service="11"))
    facilities = tmp / "facilities.json"
    facilities.write_text(json.dumps({FACILITY: {"org_id": str(org.id), "location_id": str(loc.id)}}))

    rows: list[dict[str, Any]] = []
    ok = True
    for n, src in enumerate(args.src or [None]):
        label = f" [{src}]" if src else ""
        listener_env = dict(env)
        if src:
            path, _, writers = src.partition("@")
            listener_env["PYTHONPATH"] = str(Path(path).resolve())
            if writers:
                listener_env["PRAXIS_HL7_WRITERS"] = writers
        run_rows, run_ok = _run_listener(praxis, listener_env, facilities, tmp, org.id, args, f"{n}{label and 's'}")
        for row in run_rows:
            row["operation"] += label
        rows += run_rows
        ok = ok and run_ok
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if not args.keep:
        drop()
    else:
        print(f"kept database: {url}", file=sys.stderr)
    return 0 if ok else 1


def _run_listener(praxis: list[str], env: dict[str, str], facilities: Path, tmp: Path, org_id: uuid.UUID,
                  args: Any, tag: str) -> tuple[list[dict[str, Any]], bool]:
    """One listener process, driven with each K; then the resend and exactly-once checks."""
    port = _free_port()
    log = (tmp / "listener.log").open("wb")
    proc = subprocess.Popen([*praxis, "hl7", "listen", "--port", str(port), "--facilities", str(facilities)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    rows: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("listener did not start: " + (tmp / "listener.log").read_text()) from None
                time.sleep(0.2)
        # Warm the listener (imports, pools, statement caches) and give the organisation a registry
        # and a message log to work against, outside the measured runs.
        if args.analyze:
            _analyze()
        _, clients = _drive(port, 8, max(1, args.warmup // 8), f"warm{tag}-{os.getpid()}", proc.pid,
                            analyzing=args.analyze)
        _RUN_CLIENTS.extend(clients)
        for k in [int(x) for x in args.clients.split(",") if x.strip()]:
            if args.analyze:
                _analyze()
            row, clients = _drive(port, k, max(1, args.messages // k), f"k{k}r{tag}-{os.getpid()}", proc.pid,
                                  analyzing=args.analyze)
            rows.append(row)
            _RUN_CLIENTS.extend(clients)
            src = f"{env.get('PYTHONPATH', 'worktree')}@{env.get('PRAXIS_HL7_WRITERS', '')}"
            print(json.dumps({**row, "src": src}), flush=True)
        resend = _resend(port, _RUN_CLIENTS)
        print(json.dumps({"resend": resend}), flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    verify = _verify(org_id, _RUN_CLIENTS)  # every client so far, warm-ups included: the whole organisation
    print(json.dumps({"verify": verify}), flush=True)
    ok = not verify["failed"] and resend["different ack"] == 0
    for row in rows:
        row["exactly_once"] = "yes" if ok else "NO"
    return rows, ok


_RUN_CLIENTS: list[Client] = []


class _Autoanalyze(threading.Thread):
    """ANALYZE the tables a run writes every second while it runs, on a connection of its own (its
    CPU is counted with autovacuum's, apart from the listener's backends): what autovacuum does on
    a server that runs it (a table is analysed again once a tenth of it has changed). Without it,
    on this host, the plans made when a table was small stay for the whole run while the table
    grows several times over, and a scan the planner chose for a thousand rows reads ten thousand."""

    def __init__(self) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        super().__init__(daemon=True)
        url = make_url(os.environ["PRAXIS_DATABASE_URL"]).set(drivername="postgresql")
        self.conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        self.pid = self.conn.info.backend_pid
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            self.conn.execute("ANALYZE patients, patient_locations, hl7_messages, hl7_patient_links, "
                              "audit_records, outbox")

    def finish(self) -> int:
        """Stop; the backend's pid (its CPU is read with the others', then counted apart)."""
        self.stopped.set()
        self.join()
        return self.pid

    def close(self) -> None:
        self.conn.close()


def _analyze() -> None:
    """ANALYZE the bench database, as autovacuum would on a server that runs it: without statistics
    the planner takes the tables for as small as when they were created, and its index scans on
    the organisation alone read more rows as every run adds thousands (a server with autovacuum
    off showed PostgreSQL CPU per message doubling from one listener run to the next)."""
    from sqlalchemy import text

    from praxis.platform.db import get_engine

    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE"))


def rows(db: str | None = None, clients: str = "1,8", messages: int = 2000) -> list[dict[str, Any]]:
    """For bench/run.py: the rows of one run (in a subprocess, as the listener is one)."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    argv = [sys.executable, str(Path(__file__)), "--clients", clients, "--messages", str(messages),
            "--json", str(out)]
    if db:
        argv += ["--db", db]
    subprocess.run(argv, check=False)
    try:
        return json.loads(out.read_text() or "[]")
    finally:
        out.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())

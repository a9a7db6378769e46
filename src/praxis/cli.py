"""`praxis …`: serve, worker, db, org, location, user, audit, keys, seed, import, claims, edi."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from praxis.platform.settings import get_settings

app = typer.Typer(help="Praxis practice management", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema")
org_app = typer.Typer(help="Organisations")
location_app = typer.Typer(help="Locations")
user_app = typer.Typer(help="Staff users")
audit_app = typer.Typer(help="Audit log")
keys_app = typer.Typer(help="Encryption keys")
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(location_app, name="location")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")

console = Console(stderr=True)


def _boot() -> None:
    from praxis import wiring
    from praxis.platform import crypto

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    crypto.keyring()
    wiring.wire()


def _org_id(slug: str) -> uuid.UUID:
    from praxis.practice.service import find_organisation_by_slug

    org = find_organisation_by_slug(slug)
    if org is None:
        console.print(f"[red]No organisation with slug {slug!r}[/red]")
        raise typer.Exit(2)
    return org.id


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, reload: bool = False,
          workers: int = 1) -> None:
    """Serve the web app and API."""
    import uvicorn

    from praxis.platform.logs import configure_logging

    _boot()
    configure_logging(get_settings().log_level, get_settings().log_format)
    uvicorn.run("praxis.asgi:app", host=host, port=port, reload=reload, workers=workers,
                log_config=None, **get_settings().uvicorn_proxy_options())  # type: ignore[arg-type]


@app.command()
def worker(once: bool = False, interval: float = 1.0) -> None:
    """Run background work: outbox events/jobs and audit sealing."""
    from praxis.platform.logs import configure_logging
    from praxis.worker import run

    _boot()
    configure_logging(get_settings().log_level, get_settings().log_format)
    run(once=once, interval=interval)


@db_app.command("upgrade")
def db_upgrade(target: str = "heads") -> None:
    """Apply migrations (all domains' heads by default)."""
    from praxis.migrations.runner import upgrade

    _boot()
    upgrade(target)
    console.print("[green]database is up to date[/green]")


@org_app.command("create")
def org_create(name: str, slug: str, mfa_required: bool = False) -> None:
    """Create an organisation (tenant) with the built-in roles."""
    from praxis.identity.service import seed_builtin_roles
    from praxis.practice.schemas import OrgSettings
    from praxis.practice.service import create_organisation

    _boot()
    org = create_organisation(name, slug, OrgSettings(mfa_required=mfa_required))
    seed_builtin_roles(org.id)
    typer.echo(str(org.id))


@location_app.command("add")
def location_add(
    org: Annotated[str, typer.Option(help="organisation slug")],
    code: str,
    name: str,
    timezone: str = "America/New_York",
    npi: str | None = None,
    tax_id: str | None = None,
    place_of_service: str = "11",
) -> None:
    """Add a location to an organisation."""
    from praxis.platform.context import system_context
    from praxis.practice.schemas import LocationIn
    from praxis.practice.service import add_location

    _boot()
    data = LocationIn(code=code, name=name, timezone=timezone, npi=npi, tax_id=tax_id,
                      place_of_service=place_of_service)
    loc = add_location(system_context(_org_id(org), "cli"), data)
    typer.echo(str(loc.id))


@user_app.command("create")
def user_create(
    org: Annotated[str, typer.Option(help="organisation slug")],
    email: str,
    name: str,
    role: Annotated[str, typer.Option(help="built-in role key, e.g. org_admin")] = "org_admin",
    location: Annotated[str | None, typer.Option(help="location code; omit for org-wide")] = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create a staff user with one role grant."""
    from praxis.identity.service import add_membership, create_user
    from praxis.platform.db import session_scope
    from praxis.practice.service import find_location_by_code

    _boot()
    org_id = _org_id(org)
    loc_id = None
    if location:
        with session_scope(org_id) as s:
            loc = find_location_by_code(s, location)
            if loc is None:
                console.print(f"[red]No location {location!r}[/red]")
                raise typer.Exit(2)
            loc_id = loc.id
    from praxis.platform.errors import ProblemError

    try:
        user = create_user(email, name, password)
        add_membership(org_id, user.id, [(role, loc_id)])
    except ProblemError as exc:
        _fail(f"{exc.detail} ({email})" if exc.field == "email" else exc.detail)
    typer.echo(str(user.id))


@audit_app.command("verify")
def audit_verify(org: Annotated[str | None, typer.Option(help="organisation slug")] = None,
                 seal: bool = True) -> None:
    """Recompute the keyed hash chains and compare them with the signed checkpoints outside the
    database; exit 1 naming every edited, deleted, reordered or back-dated record."""
    from praxis.platform import audit, audit_checkpoints

    _boot()
    org_id = _org_id(org) if org else None
    if seal:
        audit.seal_pending(org_id)
    report = audit.verify(org_id)
    for problem in report.problems:
        typer.echo(f"FAIL {problem}")
    if report.unsealed:
        typer.echo(f"WARN {report.unsealed} record(s) older than 5 minutes are not sealed (is a worker running?)")
    for unanchored in report.unanchored:
        typer.echo(f"WARN org {unanchored}: no checkpoint has seen this chain yet (run `praxis audit checkpoint`)")
    typer.echo(f"{'OK' if report.ok else 'FAILED'}: {report.checked} record(s) checked against "
               f"{report.checkpoints} checkpoint(s) in {audit_checkpoints.path()}, "
               f"{len(report.problems)} problem(s)")
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("checkpoint")
def audit_checkpoint(org: Annotated[str | None, typer.Option(help="organisation slug")] = None) -> None:
    """Seal, then append a signed checkpoint of every chain (or one) to the checkpoint file now."""
    from praxis.platform import audit, audit_checkpoints

    _boot()
    org_id = _org_id(org) if org else None
    audit.seal_pending(org_id)
    written = audit.checkpoint(org_id)
    typer.echo(f"{written} checkpoint(s) appended to {audit_checkpoints.path()}")


@keys_app.command("rotate")
def keys_rotate(batch: int = 500) -> None:
    """Add a new encryption key, make it active and re-encrypt every encrypted field."""
    from praxis.platform import keys

    _boot()
    counts = keys.rotate(get_settings().resolved_keyring_file(), batch=batch)
    for column, n in counts.items():
        typer.echo(f"{column}: {n} value(s) re-encrypted")
    typer.echo("rotation complete")


@app.command()
def seed(
    scale: Annotated[str, typer.Option(help="small | medium")] = "small",
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same data")] = 1,
    slug: Annotated[str | None, typer.Option(help="organisation slug (default demo-SCALE-SEED)")] = None,
) -> None:
    """Generate a clinic group's deterministic data set (bulk inserts, with progress)."""
    from praxis.identity.service import seed_builtin_roles
    from praxis.platform.db import get_engine
    from praxis.seed import SCALES, generate

    _boot()
    if scale not in SCALES:
        console.print(f"[red]--scale must be one of {', '.join(SCALES)}[/red]")
        raise typer.Exit(2)
    info = generate(get_engine(), scale, seed, lambda m: console.print(f"  {m}"), slug=slug)
    seed_builtin_roles(info["org_id"])
    typer.echo(f"organisation {info['slug']} ({info['org_id']}): {info['providers']} providers, "
               f"{info['patients']} patients, {info['appointments']} appointments")


@app.command()
def demo(password: Annotated[str | None, typer.Option(help="demo admin password")] = None) -> None:
    """Load the demo organisation (idempotent) and print the demo admin's login."""
    from praxis.demo import load_demo

    _boot()
    email, pw, created = load_demo(password)
    state = "created" if created else "already present"
    typer.echo(f"Demo organisation {state}. Sign in at http://127.0.0.1:8000/login as {email} / {pw}")
    from praxis.demo import DEMO_CARE_EMAIL

    typer.echo(f"Care coordinator (worklist, timer, billing preview at /care): {DEMO_CARE_EMAIL} / {pw}")


import_app = typer.Typer(help="Import spreadsheets (CSV or .xlsx)")
app.add_typer(import_app, name="import")


def _read_mapping(path: Path) -> dict[str, str]:
    """A mapping file: {"column": "field", ...}, or {"columns": {...}, "date_format": "MM/DD/YYYY"}."""
    import json

    from praxis.patients.import_rows import DATE_FORMAT_KEY

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read the mapping file {path}: {exc}")
    if not isinstance(data, dict):
        _fail(f"the mapping file {path} must hold a JSON object (column -> field)")
    if isinstance(data.get("columns"), dict):
        columns = dict(data["columns"])
        if data.get(DATE_FORMAT_KEY):
            columns[DATE_FORMAT_KEY] = data[DATE_FORMAT_KEY]
        data = columns
    return {str(k): str(v) for k, v in data.items() if v is not None}


def _fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: what a person at a terminal needs, not a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _run_import(kind: str, file: Path, org: str, location: str, source: str, apply: bool,
                mapping: Path | None, encoding: str, date_format: str | None = None) -> None:
    from rich.progress import Progress

    from praxis.care.importing import run_care_import
    from praxis.patients.importer import run_import
    from praxis.platform.context import system_context
    from praxis.platform.errors import ProblemError

    runner = run_care_import if kind.startswith("care_") else run_import
    _boot()
    ctx = system_context(_org_id(org), "cli import")
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        try:
            with file.open("rb") as fh:  # streamed: memory does not grow with the file
                report = runner(ctx, kind, fh, filename=file.name, location_code=location,
                                    source=source, dry_run=not apply, encoding=encoding, progress=progress,
                                    mapping=_read_mapping(mapping) if mapping else None, date_format=date_format)
        except ProblemError as exc:
            _fail(exc.detail)
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(0 if report.ok else 1)


@import_app.command("patients")
def import_patients(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    location: Annotated[str, typer.Option(help="location code the patients are registered at")],
    org: Annotated[str, typer.Option(help="organisation slug")],
    source: Annotated[str, typer.Option(help="name of the system the file comes from")] = "import",
    apply: Annotated[bool, typer.Option(help="write (default: dry run)")] = False,
    mapping: Annotated[Path | None, typer.Option(help="JSON file: column header -> field")] = None,
    encoding: str = "utf-8",
    date_format: Annotated[str | None, typer.Option(
        help="how the file writes dates like 04/05/1969: MM/DD/YYYY or DD/MM/YYYY")] = None,
) -> None:
    """Import patients: dry run by default; --apply writes all rows or none."""
    _run_import("patients", file, org, location, source, apply, mapping, encoding, date_format)


@import_app.command("coverages")
def import_coverages(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    location: Annotated[str, typer.Option(help="location code (for the permission check)")],
    org: Annotated[str, typer.Option(help="organisation slug")],
    source: Annotated[str, typer.Option(help="the source used when the patients were imported")] = "import",
    apply: bool = False,
    mapping: Annotated[Path | None, typer.Option(help="JSON file: column header -> field")] = None,
    encoding: str = "utf-8",
    date_format: Annotated[str | None, typer.Option(
        help="how the file writes dates like 04/05/1969: MM/DD/YYYY or DD/MM/YYYY")] = None,
) -> None:
    """Import insurance coverages (patients matched by external id of that source, or MRN)."""
    _run_import("coverages", file, org, location, source, apply, mapping, encoding, date_format)


@import_app.command("care")
def import_care(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    location: Annotated[str, typer.Option(help="location code of the enrolments")],
    org: Annotated[str, typer.Option(help="organisation slug")],
    kind: Annotated[str, typer.Option(help="enrolments (patients, programme, NPI, consent) or time (past logs)")
                    ] = "enrolments",
    source: Annotated[str, typer.Option(help="name of the system the file comes from")] = "import",
    apply: Annotated[bool, typer.Option(help="write (default: dry run)")] = False,
    mapping: Annotated[Path | None, typer.Option(help="JSON file: column header -> field")] = None,
    encoding: str = "utf-8",
    date_format: Annotated[str | None, typer.Option(
        help="how the file writes dates like 04/05/2024: MM/DD/YYYY or DD/MM/YYYY")] = None,
) -> None:
    """Import an existing care programme (docs/care.md): dry run by default; --apply writes all
    rows or none. Import the enrolments first, then the time logs."""
    if kind not in ("enrolments", "time"):
        _fail("--kind must be enrolments or time")
    _run_import(f"care_{kind}", file, org, location, source, apply, mapping, encoding, date_format)


# --- billing: claim files out, EDI files in ------------------------------------------------------

claims_app = typer.Typer(help="Claims (837P)")
edi_app = typer.Typer(help="Inbound EDI files (999, 277CA, TA1)")
app.add_typer(claims_app, name="claims")
app.add_typer(edi_app, name="edi")


@claims_app.command("submit")
def claims_submit(org: Annotated[str, typer.Option(help="organisation slug")],
                  payer: Annotated[str | None, typer.Option(help="only this payer's claims (payer code)")] = None
                  ) -> None:
    """Batch every ready claim per clearinghouse connection and hand the 837P files over."""
    from praxis.billing import submission
    from praxis.platform.context import system_context
    from praxis.platform.errors import ProblemError

    _boot()
    try:
        result = submission.submit_ready(system_context(_org_id(org), "cli"), payer_code=payer)
    except ProblemError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from None
    for b in result.batches:
        typer.echo(f"batch {b.interchange_control_number}: {b.claim_count} claim(s), "
                   f"{b.total_charge_cents / 100:.2f}, {b.status}, {b.file_name}")
    for number, why in result.refused:
        typer.echo(f"REFUSED claim {number}: {why}")
    for err in result.delivery_errors:
        typer.echo(f"NOT DELIVERED {err}")
    if not result.batches and not result.refused:
        typer.echo("No ready claims.")
    raise typer.Exit(1 if result.delivery_errors else 0)


@edi_app.command("ingest")
def edi_ingest(file: Path, org: Annotated[str, typer.Option(help="organisation slug")]) -> None:
    """Store an inbound X12 file and process it once (a file seen before changes nothing)."""
    from praxis.billing import edi
    from praxis.platform.context import system_context
    from praxis.platform.errors import ProblemError

    _boot()
    try:
        f, duplicate = edi.ingest(system_context(_org_id(org), "cli"), file.read_bytes(), file.name)
    except ProblemError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from None
    except OSError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if duplicate:
        typer.echo(f"already received ({f.status}); nothing changed")
        raise typer.Exit(0)
    summary = f.summary or {}
    typer.echo(f"{f.kind or '?'} {f.status}: {len(summary.get('matched', []))} claim(s) updated, "
               f"unmatched: {', '.join(summary.get('unmatched', [])) or 'none'}")
    if f.error:
        typer.echo(f"FAILED {f.error}")
    raise typer.Exit(1 if f.status == "failed" else 0)


def main() -> None:
    from praxis.platform.errors import ProblemError

    try:
        app()
    except ProblemError as exc:  # any command: a refusal is one line, not a traceback
        typer.echo(f"error: {exc.detail}", err=True)
        raise SystemExit(2) from None




# -- X12 (formats.x12): pure codec, no database ------------------------------------------------
x12_app = typer.Typer(help="X12 5010 files (837P, 835, 999, 277CA, TA1, ...)")
app.add_typer(x12_app, name="x12")


@x12_app.command("validate")
def x12_validate(
    file: Annotated[Path, typer.Argument(help="an X12 file", exists=True, dir_okay=False, readable=True)],
    show_all: Annotated[bool, typer.Option("--all", help="list every defect, not only the first")] = False,
) -> None:
    """Read FILE with our X12 reader; exit 1 naming the first defect (segment number and reason)."""
    from praxis.formats.x12 import read_interchange

    result = read_interchange(file.read_bytes())
    if result.defects:
        first = result.defects[0]
        typer.echo(f"{file}: {len(result.defects)} defect(s); first: {first}", err=True)
        if show_all:
            for defect in result.defects[1:]:
                typer.echo(f"  {defect}", err=True)
        raise typer.Exit(1)
    kinds = sorted({tx.id for tx in result.transactions()})
    count = sum(1 for _ in result.transactions())
    typer.echo(f"{file}: OK ({len(result.segments)} segments, {count} transaction set(s): {', '.join(kinds)})")


# -- HL7 v2 over MLLP (interop.hl7) ------------------------------------------------------------
hl7_app = typer.Typer(help="HL7 v2 over MLLP: inbound ADT and SIU, outbound SIU and ADT")
app.add_typer(hl7_app, name="hl7")


def _hl7_routes(facilities: Path | None):
    from praxis.interop.hl7.inbound import load_routes

    path = facilities or get_settings().hl7_facilities_file
    if path is None:
        console.print("[red]No facility map: pass --facilities FILE or set PRAXIS_HL7_FACILITIES_FILE[/red]")
        raise typer.Exit(2)
    return load_routes(path)


@hl7_app.command("listen")
def hl7_listen(
    port: Annotated[int, typer.Option(help="TCP port")] = 2575,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    facilities: Annotated[Path | None, typer.Option(help="facility map JSON (default: settings)")] = None,
) -> None:
    """Listen for HL7 v2 over MLLP: store, process once, answer one ACK per message."""
    import asyncio

    from praxis.interop.hl7.listener import serve_forever

    _boot()
    routes = _hl7_routes(facilities)
    console.print(f"HL7 MLLP listening on {host}:{port} ({len(routes)} facilities)")
    asyncio.run(serve_forever(host, port, routes))


@hl7_app.command("replay")
def hl7_replay(
    message_id: Annotated[str, typer.Argument(help="stored message id")],
    org: Annotated[str, typer.Option(help="organisation slug")],
    facilities: Annotated[Path | None, typer.Option(help="facility map JSON (default: settings)")] = None,
) -> None:
    """Process a stored (failed or rejected) message again after a fix; prints the new ACK."""
    from praxis.interop.hl7.inbound import replay

    _boot()
    ack = replay(_org_id(org), uuid.UUID(message_id), _hl7_routes(facilities))
    typer.echo(ack.replace("\r", "\n"))



@hl7_app.command("outbound")
def hl7_outbound(
    org: Annotated[str, typer.Option(help="organisation slug")],
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead")] = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 50,
) -> None:
    """List outbound HL7 messages (newest first): event, peer, status, attempts, last ACK or error."""
    from sqlalchemy import select

    from praxis.interop.hl7.models import Hl7Outbound
    from praxis.platform.db import session_scope

    _boot()
    org_id = _org_id(org)
    with session_scope(org_id) as s:
        q = select(Hl7Outbound).where(Hl7Outbound.org_id == org_id)
        if status:
            q = q.where(Hl7Outbound.status == status)
        for row in s.scalars(q.order_by(Hl7Outbound.created_at.desc()).limit(limit)):
            typer.echo(f"{row.id}  {row.event:8} {row.peer[:20]:20} {row.status:9} {row.attempts:2}  "
                       f"{row.last_ack_code or '-':2} {row.last_error[:60]}")


@hl7_app.command("resend")
def hl7_resend(
    message_id: Annotated[str, typer.Argument(help="outbound message id")],
    org: Annotated[str, typer.Option(help="organisation slug")],
) -> None:
    """Queue an outbound message (a dead one, after the peer is fixed) again from attempt 0."""
    from praxis.interop.hl7.outbound import requeue
    from praxis.platform.errors import ProblemError

    _boot()
    try:
        requeue(_org_id(org), uuid.UUID(message_id))
    except ProblemError as exc:  # not found, or pending already (queued: a second job would send it twice)
        _fail(exc.detail)
    typer.echo("queued")

if __name__ == "__main__":
    main()

"""`praxis …`: serve, worker, db, org, location, user, audit, keys, seed, import."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

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
    configure_logging(get_settings().log_level)
    uvicorn.run("praxis.asgi:app", host=host, port=port, reload=reload, workers=workers,
                log_config=None, proxy_headers=True)


@app.command()
def worker(once: bool = False, interval: float = 1.0) -> None:
    """Run background work: outbox events/jobs and audit sealing."""
    from praxis.platform.logs import configure_logging
    from praxis.worker import run

    _boot()
    configure_logging(get_settings().log_level)
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
    user = create_user(email, name, password)
    add_membership(org_id, user.id, [(role, loc_id)])
    typer.echo(str(user.id))


@audit_app.command("verify")
def audit_verify(org: Annotated[str | None, typer.Option(help="organisation slug")] = None,
                 seal: bool = True) -> None:
    """Recompute the hash chains; exit 1 naming every edited, deleted or reordered record."""
    from praxis.platform import audit

    _boot()
    org_id = _org_id(org) if org else None
    if seal:
        audit.seal_pending(org_id)
    report = audit.verify(org_id)
    for problem in report.problems:
        typer.echo(f"FAIL {problem}")
    if report.unsealed:
        typer.echo(f"WARN {report.unsealed} record(s) older than 5 minutes are not sealed (is a worker running?)")
    typer.echo(f"{'OK' if report.ok else 'FAILED'}: {report.checked} record(s) checked, "
               f"{len(report.problems)} problem(s)")
    raise typer.Exit(0 if report.ok else 1)


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


import_app = typer.Typer(help="Import spreadsheets (CSV or .xlsx)")
app.add_typer(import_app, name="import")


def _run_import(kind: str, file: Path, org: str, location: str, source: str, apply: bool,
                mapping: Path | None, encoding: str) -> None:
    import json

    from rich.progress import Progress

    from praxis.patients.importer import run_import
    from praxis.platform.context import system_context
    from praxis.platform.errors import ProblemError

    _boot()
    ctx = system_context(_org_id(org), "cli import")
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        try:
            with file.open("rb") as fh:  # streamed: memory does not grow with the file
                report = run_import(ctx, kind, fh, filename=file.name, location_code=location,
                                    source=source, dry_run=not apply, encoding=encoding, progress=progress,
                                    mapping=json.loads(mapping.read_text()) if mapping else None)
        except ProblemError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(2) from None
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
) -> None:
    """Import patients: dry run by default; --apply writes all rows or none."""
    _run_import("patients", file, org, location, source, apply, mapping, encoding)


@import_app.command("coverages")
def import_coverages(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    location: Annotated[str, typer.Option(help="location code (for the permission check)")],
    org: Annotated[str, typer.Option(help="organisation slug")],
    source: Annotated[str, typer.Option(help="the source used when the patients were imported")] = "import",
    apply: bool = False,
    mapping: Annotated[Path | None, typer.Option(help="JSON file: column header -> field")] = None,
    encoding: str = "utf-8",
) -> None:
    """Import insurance coverages (patients matched by external id of that source, or MRN)."""
    _run_import("coverages", file, org, location, source, apply, mapping, encoding)


def main() -> None:
    app()


if __name__ == "__main__":
    main()



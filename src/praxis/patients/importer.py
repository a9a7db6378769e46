"""Spreadsheet import of patients and coverages: dry run, then all-or-nothing apply.

Called by the CLI (`praxis import patients FILE --location CODE`), the import screen and the
worker. The hot path is SQLAlchemy Core bulk inserts in batches with ids computed up front, so
100,000 rows import in seconds. Re-running a file creates nothing new: a row whose external id
(for this source) or MRN already exists is reported as already imported.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, Literal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from praxis.patients import normalise as n
from praxis.patients.import_rows import (
    DATE_FORMAT_KEY,
    DATE_FORMATS,
    FIELDS,
    ImportFileError,
    RowError,
    RowWarning,
    Table,
    check_coverage_rows,
    check_mapping,
    check_patient_rows,
    guess_mapping,
    read_table,
    split_mapping,
)
from praxis.patients.import_uploads import discard_upload, load_upload, open_upload, stash_upload
from praxis.patients.models import (
    Coverage,
    ImportMapping,
    Patient,
    PatientAlias,
    PatientLocation,
    Payer,
)
from praxis.patients.permissions import PATIENTS_IMPORT
from praxis.patients.service import advance_mrn_counter, allocate_mrn_block, mrn_format
from praxis.platform import audit
from praxis.platform.audit import AuditRecord
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.crypto import keyring
from praxis.platform.errors import Forbidden, NotFound, ValidationProblem
from praxis.platform.ids import new_id
from praxis.platform.settings import upload_limit
from praxis.platform.uow import unit_of_work
from praxis.practice.models import Location

Progress = Callable[[str, int, int], None]  # (stage, done, total); total 0 = not known yet
Kind = Literal["patients", "coverages"]
BATCH = 5000
# A report lists this many problems at most (error_count has them all): a file where every one of
# 500,000 rows is wrong must not turn into a half-gigabyte answer.
MAX_LISTED_ERRORS = 10_000


def _size(n: int) -> str:
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """An upload form's `mapping` field (a JSON object of column name to field name), or None."""
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        raise ValidationProblem("mapping must be a JSON object", field="mapping") from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise ValidationProblem("mapping must map column names to field names", field="mapping")
    return parsed


def file_size(data: bytes | BinaryIO) -> int:
    """The size of an upload held as bytes or as a seekable file."""
    if isinstance(data, bytes):
        return len(data)
    here = data.tell()
    data.seek(0, io.SEEK_END)
    size = data.tell()
    data.seek(here)
    return size


def check_text_inputs(*, location_code: str, source: str | None, encoding: str, filename: str,
                      mapping: dict[str, str] | None) -> None:
    """Form fields of an upload arrive as multipart parts, which the NUL guard does not read:
    PostgreSQL cannot store or compare a NUL character, so one is refused here, naming the field."""
    values = {"location_code": location_code, "source": source or "", "encoding": encoding, "filename": filename}
    values.update({"mapping": "".join(f"{k}{v}" for k, v in (mapping or {}).items())})
    for name, value in values.items():
        if "\x00" in value:
            raise ValidationProblem(f"{name} contains a NUL character", field=name)


def check_size(data: bytes | BinaryIO, filename: str = "") -> None:
    """Refuse a file over the upload limit (settings.max_upload_bytes, the one cap every upload
    path shares). Uploads are read whole into a spooled file, never cut short, so an oversize file
    is refused here, never silently truncated."""
    limit = upload_limit()
    if file_size(data) > limit:
        name = f"'{filename}'" if filename else "The file"
        raise ImportFileError(f"{name} is larger than the {_size(limit)} import limit; split it into smaller files")


@dataclass
class ImportReport:
    kind: str
    source: str
    dry_run: bool
    total_rows: int = 0
    valid_rows: int = 0
    created: int = 0
    already_imported: int = 0
    applied: bool = False
    mapping: dict[str, str] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    duplicates: list[RowWarning] = field(default_factory=list)
    date_format: str | None = None  # as stated (argument or mapping); None: ambiguous dates refused
    error_count: int = 0  # every problem found; `errors` lists the first MAX_LISTED_ERRORS

    @property
    def ok(self) -> bool:
        return not self.error_count

    def add_errors(self, errors: list[RowError]) -> None:
        self.error_count += len(errors)
        room = MAX_LISTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """A plain-text report for the CLI and logs: summary, then every error and duplicate."""
        state = "applied" if self.applied else ("dry run" if self.dry_run else "NOT applied (errors)")
        out = [
            f"{self.kind} import from '{self.source}': {state}",
            f"rows {self.total_rows}, valid {self.valid_rows}, errors {self.error_count}, "
            f"duplicates {len(self.duplicates)}, already imported {self.already_imported}, "
            f"{'created' if self.applied else 'would create'} {self.created}",
        ]
        out += [f"row {e.row}, column '{e.column}': {e.reason}" for e in self.errors]
        if self.error_count > len(self.errors):
            out.append(f"... and {self.error_count - len(self.errors)} more problems")
        out += [f"row {d.row}: {d.reason}" + (f" (MRN {d.mrn})" if d.mrn else "") for d in self.duplicates]
        return out


def _noop(_stage: str, _done: int, _total: int) -> None:
    return None


def run_import(
    ctx: Context,
    kind: Kind,
    data: bytes | BinaryIO,
    *,
    filename: str = "",
    location_code: str,
    source: str | None = None,
    mapping: dict[str, str] | None = None,
    dry_run: bool = True,
    encoding: str = "utf-8",
    progress: Progress | None = None,
    date_format: str | None = None,
) -> ImportReport:
    """Validate a file and, unless `dry_run`, apply it all or nothing.

    `data` is the file's bytes or a seekable binary file (an upload spooled to disk): the file is
    streamed, once to check every row and once more to write, so memory does not grow with its
    size. Every bad row is reported with its row number, column and reason; with any error nothing
    is written. Duplicates of existing patients are reported and skipped. `source` names the
    system the file came from (external ids are unique per source); the column mapping used is
    remembered for that source. Raises ImportFileError when the file itself cannot be read.

    Dates such as 04/05/1969 follow `date_format` (or the mapping's "date_format" key):
    "MM/DD/YYYY" or "DD/MM/YYYY"; when neither states it, each such date is a row error naming
    both readings, so nothing is written on a guess.
    """
    if date_format is not None and date_format not in DATE_FORMATS:
        raise ValidationProblem(f"date format must be one of {', '.join(DATE_FORMATS)}", field="date_format")
    if kind not in FIELDS:
        raise ValidationProblem("kind must be patients or coverages", field="kind")
    check_text_inputs(location_code=location_code, source=source, encoding=encoding, filename=filename,
                      mapping=mapping)
    check_size(data, filename)
    progress = progress or _noop
    source = (source or "import").strip()[:60] or "import"
    with unit_of_work(ctx) as session:
        location = session.scalars(select(Location).where(Location.code == location_code)).first()
        if location is None:
            raise NotFound(f"No location with code {location_code!r}", field="location")
        ctx.require(PATIENTS_IMPORT, location.id, what="location")
        progress("read", 0, 0)
        table = read_table(data, filename, encoding)
        if mapping is None:
            saved = session.scalars(
                select(ImportMapping).where(ImportMapping.source_name == source, ImportMapping.kind == kind)
            ).first()
            mapping = dict(saved.mapping) if saved else guess_mapping(table.headers, kind)
        mapping, stated = split_mapping(mapping)
        date_format = date_format or stated
        mapping = check_mapping(table.headers, mapping, kind)
        report = ImportReport(
            kind=kind,
            source=source,
            dry_run=dry_run,
            mapping=mapping,
            unmapped_columns=[h for h in table.headers if h and h not in mapping],
            date_format=date_format,
        )
        progress("validate", 0, 0)
        if kind == "patients":
            _import_patients(session, ctx, table, mapping, report, location.id, dry_run, progress)
        else:
            _import_coverages(session, ctx, table, mapping, report, dry_run, progress)
        report.errors.sort(key=lambda e: e.row)
        if report.applied:
            _save_mapping(session, ctx, source, kind,
                          {**mapping, DATE_FORMAT_KEY: date_format} if date_format else mapping)
        else:
            # A dry run or a rejected file must leave no trace but the report.
            session.rollback()
        progress("done", report.created, report.total_rows)
        return report


def _save_mapping(session: Session, ctx: Context, source: str, kind: str, mapping: dict[str, str]) -> None:
    saved = session.scalars(
        select(ImportMapping).where(ImportMapping.source_name == source, ImportMapping.kind == kind)
    ).first()
    if saved is None:
        session.add(ImportMapping(org_id=ctx.org_id, source_name=source, kind=kind, mapping=mapping))
    elif saved.mapping != mapping:
        saved.mapping = mapping


def get_saved_mapping(ctx: Context, source: str, kind: Kind) -> dict[str, str] | None:
    """The column mapping last used for `source`, if any."""
    if not ctx.has(PATIENTS_IMPORT):
        raise Forbidden(f"Permission {PATIENTS_IMPORT} required")
    with unit_of_work(ctx) as session:
        saved = session.scalars(
            select(ImportMapping).where(ImportMapping.source_name == source, ImportMapping.kind == kind)
        ).first()
        return dict(saved.mapping) if saved else None


def _audit_rows(
    ctx: Context,
    action: str,
    resource_type: str,
    ids: list[tuple[uuid.UUID, uuid.UUID]],
    location_id: uuid.UUID | None,
    detail: dict[str, Any],
) -> list[dict[str, Any]]:
    """Audit rows for a bulk write, built like every other audit row (platform.audit.row)."""
    return [audit.row(ctx, action, resource_type, rid, patient_id=pid, location_id=location_id, detail=detail)
            for rid, pid in ids]


def _bulk(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(table), rows)


class _Marks:
    """Row numbers chosen in the checking pass, one byte per row (a set of ints costs ~60x more)."""

    def __init__(self) -> None:
        self._bits = bytearray()

    def add(self, rownum: int) -> None:
        if rownum >= len(self._bits):
            self._bits.extend(bytes(rownum + 1 - len(self._bits) + 4096))
        self._bits[rownum] = 1

    def __contains__(self, rownum: int) -> bool:
        return rownum < len(self._bits) and self._bits[rownum] == 1


def _person_key(dob: Any, first: str, last: str) -> bytes:
    """A compact key for "same person in this file" (name and DOB), 16 bytes instead of a tuple."""
    return hashlib.blake2b(f"{dob}|{first}|{last}".encode(), digest_size=16).digest()


# --- patients -------------------------------------------------------------------------------------


def _import_patients(
    session: Session,
    ctx: Context,
    table: Table,
    mapping: dict[str, str],
    report: ImportReport,
    location_id: uuid.UUID,
    dry_run: bool,
    progress: Progress,
) -> None:
    # What exists already, loaded once (a handful of narrow columns even for a big registry).
    by_external: dict[str, uuid.UUID] = {}
    mrns: dict[str, uuid.UUID] = {}
    people: dict[tuple[Any, str, str], tuple[uuid.UUID, str]] = {}
    ssn_seen: dict[str, tuple[uuid.UUID, str]] = {}
    q = select(
        Patient.id,
        Patient.mrn,
        Patient.external_source,
        Patient.external_id,
        Patient.dob,
        Patient.first_name_norm,
        Patient.last_name_norm,
        Patient.ssn_index,
        Patient.status,
    )
    for pid, mrn, src, ext, dob, fn, ln, ssn_ix, status in session.execute(q):
        mrns[mrn] = pid
        if src == report.source and ext:
            by_external[ext] = pid
        if status == "active":
            people[(dob, fn, ln)] = (pid, mrn)
            if ssn_ix:
                ssn_seen[ssn_ix] = (pid, mrn)
    for value, pid in session.execute(select(PatientAlias.value, PatientAlias.patient_id)):
        mrns.setdefault(value, pid)

    # Pass 1: check every row as the file streams by; remember only which rows to create.
    ring = keyring()
    create = _Marks()
    to_create = 0
    in_file: dict[bytes, int] = {}
    for rownum, row, errors in check_patient_rows(table, mapping, report.date_format):
        report.total_rows += 1
        if report.total_rows % BATCH == 0:
            progress("validate", report.total_rows, 0)
        if row is None:
            report.add_errors(errors)
            continue
        report.valid_rows += 1
        if row["external_id"] and row["external_id"] in by_external:
            report.already_imported += 1
            continue
        if row["mrn"] and row["mrn"] in mrns:
            report.already_imported += 1
            continue
        fn, ln = n.normalise_name(row["first_name"]), n.normalise_name(row["last_name"])
        # An import is stricter than the desk: twins and family members sharing a phone must not
        # be dropped, so a duplicate is the same DOB with the same (or swapped) first and last name.
        match = people.get((row["dob"], fn, ln)) or people.get((row["dob"], ln, fn))
        if row["ssn"]:
            match = match or ssn_seen.get(ring.blind_index(row["ssn"], "ssn"))
        if match:
            report.duplicates.append(
                RowWarning(rownum, "matches an existing patient; not created", str(match[0]), match[1])
            )
            continue
        key = _person_key(row["dob"], fn, ln)
        if key in in_file:
            report.duplicates.append(
                RowWarning(rownum, f"same name and date of birth as row {in_file[key]}; not created")
            )
            continue
        in_file[key] = rownum
        create.add(rownum)
        to_create += 1
    del in_file
    progress("validate", report.total_rows, report.total_rows)
    if dry_run or report.error_count:
        report.created = to_create if dry_run and not report.error_count else 0
        return

    # Pass 2: stream the file again and write the chosen rows in batches, all in this transaction.
    fmt = mrn_format(session, ctx.org_id)
    first = allocate_mrn_block(session, ctx.org_id, to_create) if to_create else 0
    seq = first
    stamp = now()
    patients: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    aliases: list[dict[str, Any]] = []

    def flush() -> None:
        _bulk(session, Patient.__table__, patients)
        _bulk(session, PatientLocation.__table__, links)
        _bulk(session, PatientAlias.__table__, aliases)
        _bulk(session, AuditRecord.__table__, _audit_rows(
            ctx, "patient.import", "patient", [(p["id"], p["id"]) for p in patients], location_id,
            {"source": report.source}))
        report.created += len(patients)
        progress(report.kind, report.created, to_create)
        patients.clear()
        links.clear()
        aliases.clear()

    for rownum, row, _errors in check_patient_rows(table, mapping, report.date_format):
        if row is None or rownum not in create:
            continue
        mrn = fmt.format(seq)
        while mrn in mrns:  # a legacy MRN may already occupy a value of our sequence
            seq += 1
            mrn = fmt.format(seq)
        seq += 1  # our own values only grow, so the new MRNs need not be remembered to stay unique
        pid = new_id()
        fn, ln = n.normalise_name(row["first_name"]), n.normalise_name(row["last_name"])
        ssn = row["ssn"]
        patients.append(
            {
                "org_id": ctx.org_id,
                "id": pid,
                "mrn": mrn,
                "status": "active",
                "merged_into_id": None,
                "first_name": row["first_name"],
                "middle_name": row["middle_name"],
                "last_name": row["last_name"],
                "suffix": row["suffix"],
                "preferred_name": row["preferred_name"],
                "first_name_norm": fn,
                "last_name_norm": ln,
                "preferred_name_norm": n.normalise_name(row["preferred_name"]),
                "dob": row["dob"],
                "sex": row["sex"],
                "gender_identity": row["gender_identity"],
                "phone_mobile": row["phone_mobile"],
                "phone_home": row["phone_home"],
                "phone_work": row["phone_work"],
                "email": row["email"],
                "address_line1": row["address_line1"],
                "address_line2": row["address_line2"],
                "city": row["city"],
                "state": row["state"],
                "postal_code": row["postal_code"],
                "country": "US",
                "language": row["language"],
                "preferred_location_id": location_id,
                "guarantor": None,
                "emergency_name": row["emergency_name"],
                "emergency_relationship": row["emergency_relationship"],
                "emergency_phone": row["emergency_phone"],
                "preferred_channel": "sms",
                "consent_sms": row["consent_sms"],
                "consent_email": row["consent_email"],
                "consent_voice": row["consent_voice"],
                "sms_opted_out": False,
                "email_opted_out": False,
                "voice_opted_out": False,
                "ssn_encrypted": ssn,
                "ssn_index": ring.blind_index(ssn, "ssn") if ssn else None,
                "ssn_last4": ssn[-4:] if ssn else None,
                "external_source": report.source,
                "external_id": row["external_id"],
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        links.append(
            {
                "org_id": ctx.org_id,
                "id": new_id(),
                "patient_id": pid,
                "location_id": location_id,
                "created_at": stamp,
            }
        )
        if row["mrn"]:
            aliases.append(
                {
                    "org_id": ctx.org_id,
                    "id": new_id(),
                    "patient_id": pid,
                    "kind": "legacy_mrn",
                    "value": row["mrn"],
                    "source": report.source,
                    "created_at": stamp,
                }
            )
        if len(patients) >= BATCH:
            flush()
    flush()
    if to_create and seq - 1 > first + to_create - 1:
        # Skipping taken values ran past the reserved block: the counter must not hand those out.
        advance_mrn_counter(session, ctx.org_id, seq - 1)
    report.applied = True


# --- coverages ------------------------------------------------------------------------------------


def _import_coverages(
    session: Session,
    ctx: Context,
    table: Table,
    mapping: dict[str, str],
    report: ImportReport,
    dry_run: bool,
    progress: Progress,
) -> None:
    payers = {
        code: (pid, active) for pid, code, active in session.execute(select(Payer.id, Payer.payer_code, Payer.active))
    }
    by_external: dict[str, uuid.UUID] = {}
    mrns: dict[str, uuid.UUID] = {}
    for pid, mrn, src, ext in session.execute(
        select(Patient.id, Patient.mrn, Patient.external_source, Patient.external_id).where(Patient.status == "active")
    ):
        mrns[mrn] = pid
        if src == report.source and ext:
            by_external[ext] = pid
    for value, pid in session.execute(select(PatientAlias.value, PatientAlias.patient_id)):
        mrns.setdefault(value, pid)
    existing: set[tuple[uuid.UUID, uuid.UUID, str]] = set()
    taken: set[tuple[uuid.UUID, int]] = set()
    for pid, payer_id, member, prio, active in session.execute(
        select(
            Coverage.patient_id,
            Coverage.payer_id,
            Coverage.member_id_norm,
            Coverage.priority,
            Coverage.active,
        )
    ):
        existing.add((pid, payer_id, member))
        if active:
            taken.add((pid, prio))

    where = {f: h for h, f in mapping.items()}

    def patient_of(row: dict[str, Any]) -> uuid.UUID | None:
        pid = by_external.get(row["patient_external_id"]) if row["patient_external_id"] else None
        if pid is None and row["patient_mrn"]:
            pid = mrns.get(row["patient_mrn"])
        return pid

    # Pass 1: check every row; remember only which rows to create.
    create = _Marks()
    to_create = 0
    for rownum, row, row_errors in check_coverage_rows(table, mapping, report.date_format):
        report.total_rows += 1
        if report.total_rows % BATCH == 0:
            progress("validate", report.total_rows, 0)
        if row is None:
            report.add_errors(row_errors)
            continue
        report.valid_rows += 1
        errs: list[RowError] = []
        payer = payers.get(row["payer_code"])
        if payer is None:
            errs.append(
                RowError(
                    rownum,
                    where.get("payer_code", "payer_code"),
                    f"unknown payer '{row['payer_code']}' (add it to the payer directory first)",
                )
            )
        elif not payer[1]:
            errs.append(
                RowError(rownum, where.get("payer_code", "payer_code"), f"payer '{row['payer_code']}' is inactive")
            )
        pid = patient_of(row)
        if pid is None:
            col = "patient_external_id" if row["patient_external_id"] else "patient_mrn"
            errs.append(RowError(rownum, where.get(col, col), "no such patient (import the patients first)"))
        if errs:
            report.add_errors(errs)
            continue
        assert payer is not None and pid is not None
        member_norm = n.normalise_member_id(row["member_id"])
        if (pid, payer[0], member_norm) in existing:
            report.already_imported += 1
            continue
        if (pid, row["priority"]) in taken:
            report.add_errors([RowError(rownum, where.get("priority", "priority"),
                                        "the patient already has an active coverage of this order")])
            continue
        taken.add((pid, row["priority"]))
        existing.add((pid, payer[0], member_norm))
        create.add(rownum)
        to_create += 1
    progress("validate", report.total_rows, report.total_rows)
    if dry_run or report.error_count:
        report.created = to_create if dry_run and not report.error_count else 0
        return

    # Pass 2: stream again, write the chosen rows in batches within this transaction.
    stamp = now()
    creates: list[dict[str, Any]] = []

    def flush() -> None:
        _bulk(session, Coverage.__table__, creates)
        _bulk(session, AuditRecord.__table__, _audit_rows(
            ctx, "coverage.import", "coverage", [(c["id"], c["patient_id"]) for c in creates], None,
            {"source": report.source}))
        report.created += len(creates)
        progress(report.kind, report.created, to_create)
        creates.clear()

    for rownum, row, _errors in check_coverage_rows(table, mapping, report.date_format):
        if row is None or rownum not in create:
            continue
        creates.append(
            {
                "org_id": ctx.org_id,
                "id": new_id(),
                "patient_id": patient_of(row),
                "payer_id": payers[row["payer_code"]][0],
                "plan_name": row["plan_name"],
                "member_id": row["member_id"],
                "member_id_norm": n.normalise_member_id(row["member_id"]),
                "group_number": row["group_number"],
                "relationship": row["relationship"],
                "subscriber_first_name": row["subscriber_first_name"],
                "subscriber_last_name": row["subscriber_last_name"],
                "subscriber_dob": row["subscriber_dob"],
                "priority": row["priority"],
                "effective_from": row["effective_from"],
                "effective_to": row["effective_to"],
                "active": True,
                "external_source": report.source,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        if len(creates) >= BATCH:
            flush()
    flush()
    report.applied = True


__all__ = [
    "ImportFileError",
    "ImportReport",
    "RowError",
    "RowWarning",
    "check_size",
    "check_text_inputs",
    "discard_upload",
    "file_size",
    "get_saved_mapping",
    "load_upload",
    "open_upload",
    "run_import",
    "stash_upload",
]

"""Spreadsheet import of an existing care programme (issue 16 item 9): enrolled patients with
their programme, billing practitioner, complexity and consent (`care_enrolments`), and their past
time logs (`care_time`), from CSV or XLSX.

The patient import's machinery, reused: the file is read and streamed by `patients.import_rows`
(twice: once to check every row, once to write), the size cap, the dry run, the report with every
bad row's row number and column, the upload store and the worker's jobs (`import_jobs`, where
wiring registers these two kinds). Like the patient import it is all or nothing: with any row
error nothing is written (docs/decisions.md section 45). A row already imported (the same
enrolment, or the same time entry) is counted as such and skipped, so re-running a file creates
nothing new.

Patients are matched by MRN (or a legacy MRN), else by first name, last name and date of birth;
an unknown or ambiguous patient is a row error. The billing practitioner is named by NPI and must
work at the import's location. A workbook may hold both tables: the enrolments are read from its
first sheet, the time logs from the first sheet whose name contains "time" (else the first).
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from praxis.care import months, timing
from praxis.care.models import CareConsent, CareEnrolment, CareMonth, CareProblem, CareTimeEntry
from praxis.care.permissions import CARE_ENROL
from praxis.care.service import CCM_MIN_MONTHS, INITIATING_VISIT_WINDOW, eligibility_of
from praxis.patients import normalise as n
from praxis.patients.import_rows import (
    DATE_FORMAT_KEY,
    DATE_FORMATS,
    ImportFileError,
    RowWarning,
    Table,
    extract_cells,
    guess_mapping,
    parse_bool,
    read_date,
    read_table,
    row_reporter,
    split_mapping,
)
from praxis.patients.importer import ImportReport, check_size, check_text_inputs
from praxis.patients.models import Patient, PatientAlias
from praxis.platform import audit
from praxis.platform.audit import AuditRecord
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import NotFound, ValidationProblem
from praxis.platform.ids import new_id
from praxis.platform.uow import unit_of_work, write_lock
from praxis.practice.models import Location
from praxis.scheduling import reference
from praxis.scheduling.models import Provider

KINDS = ("care_enrolments", "care_time")
BATCH = 5000
_PATIENT = {
    "patient_mrn": ("mrn", "patientmrn", "medicalrecordnumber", "legacymrn"),
    "first_name": ("firstname", "first", "givenname", "patientfirstname"),
    "last_name": ("lastname", "last", "surname", "familyname", "patientlastname"),
    "dob": ("dob", "dateofbirth", "birthdate", "patientdob"),
}
ENROLMENT_FIELDS: dict[str, tuple[str, ...]] = {
    **_PATIENT,
    "program": ("program", "programme", "service", "careprogram"),
    "npi": ("npi", "practitionernpi", "billingnpi", "providernpi", "billingpractitionernpi", "billingpractitioner"),
    "complexity": ("complexity", "mdm", "medicaldecisionmaking"),
    "start_date": ("startdate", "enrolledon", "enrolmentdate", "enrollmentdate", "enrolled", "start"),
    "initiating_visit_date": ("initiatingvisitdate", "initiatingvisit", "initiatingvisiton", "initialvisit"),
    "initiating_visit_kind": ("initiatingvisitkind", "initiatingvisittype", "visitkind", "visittype"),
    "consent_type": ("consenttype", "consent", "consentmethod"),
    "consent_date": ("consentdate", "consentedon", "consentobtainedon", "dateofconsent"),
    "consent_by": ("consentby", "consentobtainedby", "obtainedby"),
    "problems": ("problems", "diagnoses", "icd10", "icd10codes", "conditions"),
}
TIME_FIELDS: dict[str, tuple[str, ...]] = {
    **_PATIENT,
    "program": ("program", "programme", "service"),
    "date": ("date", "servicedate", "entrydate", "day", "dateofservice"),
    "time": ("time", "starttime", "startedat"),
    "minutes": ("minutes", "mins", "duration", "durationminutes"),
    "lane": ("lane", "role", "who", "stafftype"),
    "activity": ("activity", "activitytype", "task"),
    "interactive": ("interactive", "interactivecommunication", "livecontact"),
    "author": ("author", "staff", "loggedby", "by", "staffname", "performedby"),
    "note": ("note", "notes", "comment", "comments"),
}
FIELDS = {"care_enrolments": ENROLMENT_FIELDS, "care_time": TIME_FIELDS}
REQUIRED = {"care_enrolments": ("program", "npi", "consent_type", "consent_date", "consent_by",
                                "initiating_visit_date"),
            "care_time": ("date", "minutes", "lane", "activity", "author")}
SHEETS = {"care_enrolments": None, "care_time": "time"}
PROGRAMMES = {"ccm": ("ccm", False), "chroniccaremanagement": ("ccm", False), "complexccm": ("ccm", True),
              "complexchroniccaremanagement": ("ccm", True), "pcm": ("pcm", False),
              "principalcaremanagement": ("pcm", False), "rpm": ("rpm", False),
              "remotepatientmonitoring": ("rpm", False)}
COMPLEXITY = {"": None, "low": False, "straightforward": False, "moderate": True, "high": True}
LANES = {"staff": "staff", "clinicalstaff": "staff", "practitioner": "practitioner",
         "billingpractitioner": "practitioner"}
VISIT_KINDS = {"": "em", "em": "em", "e/m": "em", "awv": "awv", "ippe": "ippe"}
_NPI = re.compile(r"^\d{10}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
IMPORTED_PROBLEM_MONTHS = CCM_MIN_MONTHS  # a chronic condition of an existing programme: 12+ months


def _key(value: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value or "").lower())


def check_mapping(headers: list[str], mapping: dict[str, str], kind: str) -> dict[str, str]:
    """A header -> field mapping checked against the file and the kind's fields."""
    fields = FIELDS[kind]
    clean = {h: f for h, f in mapping.items() if f}
    for header, target in clean.items():
        if header not in headers:
            raise ImportFileError(f"The mapping names column '{header}', which the file does not have")
        if target not in fields:
            raise ImportFileError(f"Column '{header}' is mapped to unknown field '{target}'")
    targets = list(clean.values())
    if len(set(targets)) != len(targets):
        raise ImportFileError("A field is mapped from more than one column")
    missing = [f for f in REQUIRED[kind] if f not in targets]
    if "patient_mrn" not in targets and not {"first_name", "last_name", "dob"} <= set(targets):
        missing.append("patient_mrn (or first_name, last_name and dob)")
    if missing:
        found = ", ".join(f"'{h}'" for h in headers if h) or "none"
        raise ImportFileError(f"No column is mapped to the required field(s): {', '.join(missing)}. "
                              f"The file's columns are: {found}")
    return clean


class _Registry:
    """The organisation's patients, loaded once (narrow columns): MRN and legacy MRN -> id, and
    (date of birth, first, last) normalised -> ids."""

    def __init__(self, session: Session) -> None:
        self.mrns: dict[str, uuid.UUID] = {}
        self.people: dict[tuple[Any, str, str], list[uuid.UUID]] = defaultdict(list)
        for pid, mrn, dob, fn, ln in session.execute(select(
                Patient.id, Patient.mrn, Patient.dob, Patient.first_name_norm, Patient.last_name_norm)
                .where(Patient.status == "active")):
            self.mrns[mrn] = pid
            self.people[(dob, fn, ln)].append(pid)
        for value, pid in session.execute(select(PatientAlias.value, PatientAlias.patient_id)):
            self.mrns.setdefault(value, pid)

    def find(self, v: dict[str, Any], bad: Any, date_format: str | None) -> uuid.UUID | None:
        mrn = str(v.get("patient_mrn") or "").strip()
        if mrn:
            pid = self.mrns.get(mrn)
            if pid is None:
                bad("patient_mrn", f"no patient with MRN '{mrn}' (import the patients first)")
            return pid
        try:
            dob = n.parse_date(read_date(v.get("dob"), date_format))
        except n.ParseError as exc:
            bad("dob", str(exc))
            return None
        first, last = n.normalise_name(str(v.get("first_name") or "")), n.normalise_name(str(v.get("last_name") or ""))
        if not (dob and first and last):
            bad("patient_mrn", "the patient needs an MRN, or a first name, last name and date of birth")
            return None
        found = self.people.get((dob, first, last), [])
        if not found:
            bad("last_name", "no patient with this name and date of birth (import the patients first)")
            return None
        if len(found) > 1:
            bad("last_name", "more than one patient has this name and date of birth: give the MRN")
            return None
        return found[0]


def _date(v: dict[str, Any], name: str, bad: Any, date_format: str | None, *, required: bool = False
          ) -> date | None:
    try:
        value = n.parse_date(read_date(v.get(name), date_format))
    except n.ParseError as exc:
        bad(name, str(exc))
        return None
    if value is None and required:
        bad(name, "required")
    return value


def _text(v: dict[str, Any], name: str, bad: Any, limit: int, *, required: bool = False) -> str:
    value = str(v.get(name) or "").strip()
    if required and not value:
        bad(name, "required")
    if len(value) > limit:
        bad(name, f"longer than {limit} characters")
    return value


def _noop(_stage: str, _done: int, _total: int) -> None:
    return None


def run_care_import(ctx: Context, kind: str, data: bytes | BinaryIO, *, filename: str = "", location_code: str,
                    source: str | None = None, mapping: dict[str, str] | None = None, dry_run: bool = True,
                    encoding: str = "utf-8", progress: Any = None, date_format: str | None = None) -> ImportReport:
    """Check a care programme file and, unless `dry_run`, apply it all or nothing.

    `kind` is `care_enrolments` (patients, programme, practitioner, complexity, consent, problems)
    or `care_time` (past time logs). The enrolments are made at the location `location_code`
    (care:enrol there is required); time logs go to the patient's enrolment at that location
    active on the entry's date. Every bad row is reported by row number and column; with any,
    nothing is written. Raises ImportFileError when the file itself cannot be read."""
    if kind not in KINDS:
        raise ValidationProblem(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if date_format is not None and date_format not in DATE_FORMATS:
        raise ValidationProblem(f"date format must be one of {', '.join(DATE_FORMATS)}", field="date_format")
    check_text_inputs(location_code=location_code, source=source, encoding=encoding, filename=filename,
                      mapping=mapping)
    check_size(data, filename)
    progress = progress or _noop
    source = (source or "import").strip()[:60] or "import"
    with unit_of_work(ctx) as session:
        write_lock(session)
        location = session.scalars(select(Location).where(Location.code == location_code)).first()
        if location is None:
            raise NotFound(f"No location with code {location_code!r}", field="location")
        ctx.require(CARE_ENROL, location.id, what="location")
        progress("read", 0, 0)
        table = read_table(data, filename, encoding, sheet=SHEETS[kind])
        columns, stated = split_mapping(mapping or {})
        columns = columns or guess_mapping(table.headers, kind, FIELDS[kind])
        date_format = date_format or stated
        columns = check_mapping(table.headers, columns, kind)
        report = ImportReport(kind=kind, source=source, dry_run=dry_run, mapping=columns,
                              unmapped_columns=[h for h in table.headers if h and h not in columns],
                              date_format=date_format)
        progress("validate", 0, 0)
        zone = reference.current(session.connection(), ctx.org_id).zones.get(location.id, location.timezone)
        if kind == "care_enrolments":
            _Enrolments(session, ctx, location.id, zone, report).run(table, columns, dry_run, progress)
        else:
            _TimeLogs(session, ctx, location.id, zone, report).run(table, columns, dry_run, progress)
        report.errors.sort(key=lambda e: e.row)
        if not report.applied:
            session.rollback()  # a dry run or a refused file leaves no trace but the report
        progress("done", report.created, report.total_rows)
        return report


class _Import:
    """Two passes over the file: check every row (remembering which to create), then write."""

    def __init__(self, session: Session, ctx: Context, location_id: uuid.UUID, zone: str,
                 report: ImportReport) -> None:
        self.session, self.ctx, self.location_id, self.zone, self.report = session, ctx, location_id, zone, report
        self.patients = _Registry(session)
        self.today = months.local_date(now(), zone)

    def check(self, table: Table, columns: dict[str, str]) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """(row number, the row's resolved values or None) for every row; problems are reported."""
        for rownum, values, where, errors in extract_cells(table, columns):
            bad = row_reporter(rownum, where, errors)
            clean = self.resolve(values, bad)
            if errors:
                yield rownum, None
                if not getattr(self, "_second_pass", False):
                    self.report.add_errors(errors)
                continue
            yield rownum, clean

    def resolve(self, v: dict[str, Any], bad: Any) -> dict[str, Any] | None:
        raise NotImplementedError

    def run(self, table: Table, columns: dict[str, str], dry_run: bool, progress: Any) -> None:
        chosen: set[int] = set()
        for rownum, clean in self.check(table, columns):
            self.report.total_rows += 1
            if self.report.total_rows % BATCH == 0:
                progress("validate", self.report.total_rows, 0)
            if clean is None:
                continue
            self.report.valid_rows += 1
            if self.plan(rownum, clean):
                chosen.add(rownum)
        progress("validate", self.report.total_rows, self.report.total_rows)
        if dry_run or self.report.error_count:
            self.report.created = len(chosen) if dry_run and not self.report.error_count else 0
            return
        self._second_pass = True
        self.reset()
        for rownum, clean in self.check(table, columns):
            if clean is not None and rownum in chosen:
                self.write(clean)
                if self.pending() >= BATCH:
                    self.flush()
                    progress(self.report.kind, self.report.created, len(chosen))
        self.flush()
        self.report.applied = True

    def plan(self, rownum: int, clean: dict[str, Any]) -> bool:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what the checking pass planned, before the writing pass plans it again."""

    def write(self, clean: dict[str, Any]) -> None:
        raise NotImplementedError

    def pending(self) -> int:
        return 0

    def flush(self) -> None:
        raise NotImplementedError

    def _bulk(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(table), rows)
            rows.clear()


# --- enrolments -----------------------------------------------------------------------------------


class _Enrolments(_Import):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        s = self.session
        self.npis = {npi: pid for pid, npi in s.execute(select(Provider.id, Provider.npi)) if npi}
        self.pairs = reference.current(s.connection(), self.ctx.org_id).pairs
        self.problems: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for p in s.execute(select(CareProblem.patient_id, CareProblem.icd10, CareProblem.expected_months,
                                  CareProblem.high_risk, CareProblem.resolved_on)):
            self.problems[p.patient_id].append(p)
        self.consents = {(pid, prov): cid for cid, pid, prov in s.execute(
            select(CareConsent.id, CareConsent.patient_id, CareConsent.provider_id)
            .order_by(CareConsent.obtained_at))}
        self.open: dict[tuple[uuid.UUID, str], list[tuple[uuid.UUID, date]]] = defaultdict(list)
        for pid, program, prov, start in s.execute(
                select(CareEnrolment.patient_id, CareEnrolment.program, CareEnrolment.provider_id,
                       CareEnrolment.start_date).where(or_(CareEnrolment.end_date.is_(None),
                                                           CareEnrolment.end_date >= self.today))):
            self.open[(pid, program)].append((prov, start))
        self.reset()

    def reset(self) -> None:
        self.file_codes: dict[uuid.UUID, set[str]] = defaultdict(set)
        self.in_file: dict[tuple[uuid.UUID, str, uuid.UUID], int] = {}
        self.new_consents: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {"problems": [], "consents": [], "enrolments": [], "audit": []}

    def resolve(self, v: dict[str, Any], bad: Any) -> dict[str, Any] | None:
        fmt = self.report.date_format
        pid = self.patients.find(v, bad, fmt)
        program_cell = _key(v.get("program"))
        program, complex_ = PROGRAMMES.get(program_cell, (None, False))
        if program is None:
            bad("program", f"'{v.get('program')}' is not a programme (CCM, complex CCM, PCM or RPM)")
        complexity = _key(v.get("complexity"))
        if complexity not in COMPLEXITY:
            bad("complexity", f"'{v.get('complexity')}' is not a complexity (low, moderate or high)")
        elif complex_ and COMPLEXITY[complexity] is False:
            bad("complexity", "complex CCM needs moderate or high complexity")
        complex_ = bool(complex_ or COMPLEXITY.get(complexity))
        if complex_ and program not in (None, "ccm"):
            bad("complexity", "only CCM has a complex form")
        npi = str(v.get("npi") or "").strip()
        provider = self.npis.get(npi)
        if not _NPI.match(npi):
            bad("npi", "an NPI is 10 digits")
        elif provider is None:
            bad("npi", f"no practitioner with NPI {npi}")
        elif (provider, self.location_id) not in self.pairs:
            bad("npi", f"the practitioner with NPI {npi} does not work at this location")
        method = _key(v.get("consent_type"))
        if method not in ("verbal", "written"):
            bad("consent_type", "consent type must be verbal or written")
        consent_on = _date(v, "consent_date", bad, fmt, required=True)
        if consent_on and consent_on > self.today:
            bad("consent_date", "is in the future")
        consent_by = _text(v, "consent_by", bad, 200, required=True)
        start = _date(v, "start_date", bad, fmt) or consent_on
        if start and consent_on and start < consent_on:
            bad("start_date", "the enrolment starts before the consent")
        visit_on = _date(v, "initiating_visit_date", bad, fmt, required=True)
        if visit_on and start:
            if visit_on > start:
                bad("initiating_visit_date", "after the start of the service")
            elif start - visit_on > INITIATING_VISIT_WINDOW:
                bad("initiating_visit_date", "must be within the 12 months before the service starts")
        visit_kind = VISIT_KINDS.get(str(v.get("initiating_visit_kind") or "").strip().lower())
        if visit_kind is None:
            bad("initiating_visit_kind", "initiating visit kind must be E/M, AWV or IPPE")
        codes = [c.strip().upper() for c in re.split(r"[;,\s]+", str(v.get("problems") or "")) if c.strip()]
        for c in codes:
            if not _ICD10.match(c):
                bad("problems", f"'{c}' is not an ICD-10-CM code")
                break
        if pid is None or program is None or provider is None or start is None or consent_on is None:
            return None
        # Problems count from the list as it stands, plus those earlier rows of the file add (a
        # patient's RPM row may rely on the codes given on their CCM row).
        have = {p.icd10 for p in self.problems[pid]}
        added = [c for c in dict.fromkeys(codes) if c not in have]
        self.file_codes[pid].update(added)
        fake = [_Problem(IMPORTED_PROBLEM_MONTHS, False, None) for c in self.file_codes[pid] if c not in have]
        if not eligibility_of([*self.problems[pid], *fake], start).allows(program):
            need = {"ccm": "two or more chronic conditions", "pcm": "one high-risk chronic condition on the problem "
                    "list (mark it there first)", "rpm": "an active condition"}[program]
            bad("problems", f"not eligible for {program.upper()}: the problem list needs {need}")
        for other_provider, _start in self.open.get((pid, program), []):
            if other_provider != provider and program == "ccm":
                bad("npi", "the patient is enrolled in CCM with another practitioner (only one may bill CCM)")
        return {"patient_id": pid, "program": program, "complex": complex_, "provider_id": provider,
                "method": method, "consent_on": consent_on, "consent_by": consent_by, "start": start,
                "visit_on": visit_on, "visit_kind": visit_kind, "problems": added}

    def plan(self, rownum: int, c: dict[str, Any]) -> bool:
        key = (c["patient_id"], c["program"], c["provider_id"])
        if any(prov == c["provider_id"] for prov, _ in self.open.get((c["patient_id"], c["program"]), [])):
            self.report.already_imported += 1
            return False
        if key in self.in_file:
            self.report.duplicates.append(RowWarning(rownum, f"the same enrolment as row {self.in_file[key]}; "
                                                             "not created", str(c["patient_id"])))
            return False
        self.in_file[key] = rownum
        return True

    def write(self, c: dict[str, Any]) -> None:
        stamp, org = now(), self.ctx.org_id
        pid, provider = c["patient_id"], c["provider_id"]
        for code in c["problems"]:
            if code in {p.icd10 for p in self.problems[pid]}:
                continue
            row = {"org_id": org, "id": new_id(), "patient_id": pid, "icd10": code, "description": "",
                   "onset_date": None, "expected_months": IMPORTED_PROBLEM_MONTHS, "high_risk": False,
                   "resolved_on": None, "created_at": stamp}
            self.rows["problems"].append(row)
            self.problems[pid].append(_Problem(IMPORTED_PROBLEM_MONTHS, False, None, code))
        consent_id = self.consents.get((pid, provider)) or self.new_consents.get((pid, provider))
        if consent_id is None:
            consent_id = new_id()
            self.new_consents[(pid, provider)] = consent_id
            obtained = datetime.combine(c["consent_on"], time(12), ZoneInfo(self.zone))
            # The file attests a consent given as CMS requires; the note says where it came from.
            self.rows["consents"].append({
                "org_id": org, "id": consent_id, "patient_id": pid, "provider_id": provider, "method": c["method"],
                "obtained_by_id": None, "obtained_by_name": c["consent_by"], "obtained_at": obtained,
                "told_availability": True, "told_cost_sharing": True, "told_stop_month_end": True,
                "told_one_practitioner": True, "note": f"imported from {self.report.source}", "created_at": stamp})
            self.rows["audit"].append(audit.row(self.ctx, "care.consent.import", "care_consent", consent_id,
                                                patient_id=pid, location_id=self.location_id,
                                                detail={"source": self.report.source}))
        eid = new_id()
        self.rows["enrolments"].append({
            "org_id": org, "id": eid, "patient_id": pid, "provider_id": provider, "location_id": self.location_id,
            "program": c["program"], "complex": c["complex"], "consent_id": consent_id,
            "initiating_visit_on": c["visit_on"], "initiating_visit_kind": c["visit_kind"], "start_date": c["start"],
            "end_date": None, "end_reason": "", "rpm_setup_billed": False, "created_at": stamp})
        self.rows["audit"].append(audit.row(self.ctx, "care.enrol.import", "care_enrolment", eid, patient_id=pid,
                                            location_id=self.location_id,
                                            detail={"program": c["program"], "source": self.report.source}))

    def pending(self) -> int:
        return len(self.rows["enrolments"])

    def flush(self) -> None:
        self.report.created += len(self.rows["enrolments"])
        self._bulk(CareProblem.__table__, self.rows["problems"])
        self._bulk(CareConsent.__table__, self.rows["consents"])
        self._bulk(CareEnrolment.__table__, self.rows["enrolments"])
        self._bulk(AuditRecord.__table__, self.rows["audit"])


class _Problem:
    """The three facts eligibility reads, for a problem the file adds."""

    def __init__(self, expected_months: int, high_risk: bool, resolved_on: date | None, icd10: str = "") -> None:
        self.expected_months, self.high_risk, self.resolved_on, self.icd10 = (expected_months, high_risk,
                                                                              resolved_on, icd10)


# --- time logs ------------------------------------------------------------------------------------


class _TimeLogs(_Import):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        s = self.session
        self.enrolments: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for e in s.execute(select(CareEnrolment.id, CareEnrolment.patient_id, CareEnrolment.provider_id,
                                  CareEnrolment.program, CareEnrolment.start_date, CareEnrolment.end_date)
                           .where(CareEnrolment.location_id == self.location_id)):
            self.enrolments[e.patient_id].append(e)
        self.approved = {(eid, m) for eid, m in s.execute(select(CareMonth.enrolment_id, CareMonth.month))}
        # Entries an earlier import made: the same one again is "already imported".
        self.existing = {(eid, _utc(at), m, a, act) for eid, at, m, a, act in s.execute(
            select(CareTimeEntry.enrolment_id, CareTimeEntry.started_at, CareTimeEntry.minutes,
                   CareTimeEntry.author_name, CareTimeEntry.activity).where(CareTimeEntry.source == "import"))}
        self.reset()

    def reset(self) -> None:
        self.in_file: dict[tuple[Any, ...], int] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {"entries": [], "audit": []}

    def resolve(self, v: dict[str, Any], bad: Any) -> dict[str, Any] | None:
        fmt = self.report.date_format
        pid = self.patients.find(v, bad, fmt)
        day = _date(v, "date", bad, fmt, required=True)
        at = time(12)
        raw_time = v.get("time")
        if isinstance(raw_time, time):
            at = raw_time
        elif isinstance(raw_time, datetime):
            at = raw_time.time()
        elif raw_time not in (None, ""):
            m = _TIME.match(str(raw_time).strip())
            if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59:
                bad("time", "time must be HH:MM (24-hour)")
            else:
                at = time(int(m.group(1)), int(m.group(2)))
        try:
            minutes = int(str(v.get("minutes") or "").strip())
        except ValueError:
            minutes = 0
        if not 1 <= minutes <= timing.MAX_ENTRY_MINUTES:
            bad("minutes", f"minutes must be a whole number from 1 to {timing.MAX_ENTRY_MINUTES}")
        lane = LANES.get(_key(v.get("lane")))
        if lane is None:
            bad("lane", "lane must be staff (clinical staff) or practitioner (the billing practitioner personally)")
        activity = str(v.get("activity") or "").strip().lower().replace(" ", "_").replace("-", "_")
        if activity not in timing.ACTIVITIES:
            bad("activity", f"activity must be one of {', '.join(timing.ACTIVITIES)}")
        try:
            interactive = parse_bool(str(v.get("interactive") or ""))
        except n.ParseError as exc:
            bad("interactive", str(exc))
            interactive = False
        author = _text(v, "author", bad, 200, required=True)
        note = _text(v, "note", bad, 4000)
        program_cell = _key(v.get("program"))
        program = PROGRAMMES.get(program_cell, (None, False))[0] if program_cell else None
        if program_cell and program is None:
            bad("program", f"'{v.get('program')}' is not a programme (CCM, PCM or RPM)")
        if pid is None or day is None:
            return None
        started = datetime.combine(day, at, ZoneInfo(self.zone))
        if started + timedelta(minutes=max(minutes, 0)) > now():
            bad("date", "the entry ends in the future")
        options = [e for e in self.enrolments.get(pid, []) if e.start_date <= day
                   and (e.end_date is None or day <= e.end_date) and (program is None or e.program == program)]
        if not options:
            bad("program" if program else "date", "the patient has no enrolment at this location on that date"
                + (f" in {program.upper()}" if program else "") + " (import the enrolments first)")
            return None
        if len(options) > 1:
            bad("program", "the patient is in more than one programme on that date: name the programme")
            return None
        e = options[0]
        month = months.month_of(day)
        if (e.id, month) in self.approved:
            bad("date", f"{month} is already approved for billing: add late minutes on the screen, with a reason")
        return {"enrolment": e, "started_at": _utc(started), "minutes": minutes, "lane": lane, "activity": activity,
                "interactive": interactive, "author": author, "note": note, "month": month}

    def plan(self, rownum: int, c: dict[str, Any]) -> bool:
        key = (c["enrolment"].id, c["started_at"], c["minutes"], c["author"], c["activity"])
        if key in self.existing:
            self.report.already_imported += 1
            return False
        if key in self.in_file:
            self.report.duplicates.append(RowWarning(rownum, f"the same entry as row {self.in_file[key]}; not created"))
            return False
        self.in_file[key] = rownum
        return True

    def write(self, c: dict[str, Any]) -> None:
        e, stamp, eid = c["enrolment"], now(), new_id()
        self.rows["entries"].append({
            "org_id": self.ctx.org_id, "id": eid, "enrolment_id": e.id, "patient_id": e.patient_id,
            "provider_id": e.provider_id, "program": e.program, "author_id": None, "author_name": c["author"],
            "role": c["lane"], "activity": c["activity"], "started_at": c["started_at"], "minutes": c["minutes"],
            "service_month": c["month"], "note": c["note"], "interactive": c["interactive"], "source": "import",
            "voided": False, "edited_after_billing": False, "edit_reason": "", "created_at": stamp})
        self.rows["audit"].append(audit.row(self.ctx, "care.entry.import", "care_time_entry", eid,
                                            patient_id=e.patient_id, location_id=self.location_id,
                                            detail={"minutes": c["minutes"], "source": self.report.source}))

    def pending(self) -> int:
        return len(self.rows["entries"])

    def flush(self) -> None:
        self.report.created += len(self.rows["entries"])
        self._bulk(CareTimeEntry.__table__, self.rows["entries"])
        self._bulk(AuditRecord.__table__, self.rows["audit"])


def _utc(at: datetime) -> datetime:
    from datetime import UTC

    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


__all__ = ["DATE_FORMAT_KEY", "KINDS", "run_care_import"]

"""Pure part of the spreadsheet import: read CSV/XLSX, map columns, validate rows (no I/O).

Row numbers are the spreadsheet's own (the header is row 1), and every problem names the
file's column header, so a practice manager can fix the file in Excel and run it again.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

from praxis.patients import normalise as n
from praxis.platform.errors import ValidationProblem


class ImportFileError(ValidationProblem):
    """The file as a whole cannot be read (encoding, format, header, mapping)."""

    type = "import-file-invalid"
    title = "The file cannot be imported"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="file")


@dataclass
class RowError:
    row: int
    column: str
    reason: str


@dataclass
class RowWarning:
    row: int
    reason: str
    patient_id: str | None = None
    mrn: str | None = None


class Rows:
    """The data rows of a file, read afresh from the file each time they are iterated (the first
    is spreadsheet row 2; blank rows are skipped). Nothing is held in memory between rows, so a
    large file costs a pass over it, not its size in Python objects."""

    def __init__(self, open_rows: Callable[[], Iterator[list[Any]]]) -> None:
        self._open = open_rows

    def __iter__(self) -> Iterator[list[Any]]:
        return self._open()


@dataclass
class Table:
    headers: list[str]
    rows: Rows


# --- canonical fields -----------------------------------------------------------------------------

PATIENT_FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": ("externalid", "id", "patientid", "accountnumber", "account", "chartnumber", "chart"),
    "mrn": ("mrn", "medicalrecordnumber", "legacymrn"),
    "first_name": ("firstname", "first", "givenname", "fname"),
    "middle_name": ("middlename", "middle", "mi"),
    "last_name": ("lastname", "last", "surname", "familyname", "lname"),
    "suffix": ("suffix",),
    "preferred_name": ("preferredname", "nickname"),
    "dob": ("dob", "dateofbirth", "birthdate", "birthday"),
    "sex": ("sex", "gender", "sexatbirth"),
    "gender_identity": ("genderidentity",),
    "phone_mobile": ("phonemobile", "mobile", "cell", "cellphone", "mobilephone", "phone"),
    "phone_home": ("phonehome", "homephone", "home"),
    "phone_work": ("phonework", "workphone", "work"),
    "email": ("email", "emailaddress"),
    "address_line1": ("addressline1", "address", "address1", "street"),
    "address_line2": ("addressline2", "address2"),
    "city": ("city",),
    "state": ("state", "st"),
    "postal_code": ("postalcode", "zip", "zipcode", "postcode"),
    "language": ("language", "preferredlanguage"),
    "ssn": ("ssn", "socialsecuritynumber"),
    "emergency_name": ("emergencyname", "emergencycontact"),
    "emergency_phone": ("emergencyphone",),
    "emergency_relationship": ("emergencyrelationship",),
    "consent_sms": ("consentsms", "smsconsent"),
    "consent_email": ("consentemail", "emailconsent"),
    "consent_voice": ("consentvoice", "voiceconsent"),
}
PATIENT_REQUIRED = ("first_name", "last_name", "dob")

COVERAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "patient_external_id": ("patientexternalid", "externalid", "patientid", "accountnumber", "account"),
    "patient_mrn": ("patientmrn", "mrn"),
    "payer_code": ("payercode", "payerid", "payer"),
    "plan_name": ("planname", "plan"),
    "member_id": ("memberid", "member", "subscriberid", "policynumber", "policy"),
    "group_number": ("groupnumber", "group", "groupid"),
    "relationship": ("relationship", "relationshipcode", "subscriberrelationship"),
    "subscriber_first_name": ("subscriberfirstname",),
    "subscriber_last_name": ("subscriberlastname",),
    "subscriber_dob": ("subscriberdob",),
    "priority": ("priority", "order", "coverageorder"),
    "effective_from": ("effectivefrom", "effectivedate", "startdate"),
    "effective_to": ("effectiveto", "termdate", "enddate"),
}
COVERAGE_REQUIRED = ("payer_code", "member_id")

FIELDS = {"patients": PATIENT_FIELDS, "coverages": COVERAGE_FIELDS}
REQUIRED = {"patients": PATIENT_REQUIRED, "coverages": COVERAGE_REQUIRED}


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def guess_mapping(headers: list[str], kind: str, fields: dict[str, tuple[str, ...]] | None = None
                  ) -> dict[str, str]:
    """header -> field for headers we recognise; exact field names win over aliases. `fields`
    (field -> aliases) serves another domain's import; by default the kind's own."""
    fields = fields if fields is not None else FIELDS[kind]
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for exact in (True, False):
        for h in headers:
            if h in mapping:
                continue
            k = _key(h)
            for name, aliases in fields.items():
                if name in taken:
                    continue
                if (exact and k == _key(name)) or (not exact and k in aliases):
                    mapping[h] = name
                    taken.add(name)
                    break
    return mapping


# How the file writes dates like 04/05/1969. The mapping states it under the reserved key
# "date_format" (a value no field has); unstated, such a date is reported, never guessed.
DATE_FORMATS = {"MM/DD/YYYY": "month first (US)", "DD/MM/YYYY": "day first", "YYYY-MM-DD": "ISO"}
DATE_FORMAT_KEY = "date_format"
_SLASHED = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def split_mapping(mapping: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """(header -> field, stated date format or None) from a mapping that may state its dates."""
    columns = dict(mapping)
    stated = columns.get(DATE_FORMAT_KEY)
    if stated in DATE_FORMATS:
        del columns[DATE_FORMAT_KEY]
        return columns, stated
    return columns, None


def field_label(name: str) -> str:
    """A field name as words for people ("dob" -> "date of birth")."""
    return FIELD_LABELS.get(name, name.replace("_", " "))


FIELD_LABELS = {
    "dob": "date of birth", "mrn": "MRN", "external_id": "id in the old system", "ssn": "SSN",
    "phone_mobile": "mobile phone", "phone_home": "home phone", "phone_work": "work phone", "email": "e-mail",
    "postal_code": "ZIP code", "address_line1": "address", "address_line2": "address line 2",
    "consent_sms": "consents to texts", "consent_email": "consents to e-mail", "consent_voice": "consents to calls",
    "patient_external_id": "patient's id in the old system", "patient_mrn": "patient's MRN",
    "payer_code": "payer id", "subscriber_dob": "subscriber's date of birth",
    "priority": "order (primary, secondary, tertiary)", "effective_from": "effective from",
    "effective_to": "effective to",
}


def read_date(value: Any, date_format: str | None) -> Any:
    """A date cell by the stated format. ISO dates and spreadsheet dates are read as they are; a
    day and month that could be either way round (04/05/1969) follow `date_format`, and without
    one they are refused with both readings named. Anything else goes to `normalise.parse_date`."""
    if value in ("", None) or not isinstance(value, str):
        return value
    m = _SLASHED.match(value.strip())
    if m is None or date_format == "YYYY-MM-DD":
        return value
    first, second, year = (int(g) for g in m.groups())
    if date_format is None:
        if first <= 12 and second <= 12 and first != second:
            raise n.ParseError(
                f"'{value.strip()}' could be {_MONTHS[first - 1]} {second} or {first} {_MONTHS[second - 1]}: "
                f"state the file's date format (MM/DD/YYYY or DD/MM/YYYY) in the mapping")
        month, day = (first, second) if first <= 12 else (second, first)
    elif date_format == "DD/MM/YYYY":
        day, month = first, second
    else:
        month, day = first, second
    try:
        return date(year, month, day)
    except ValueError:
        raise n.ParseError(f"'{value.strip()}' is not a real date"
                           + (f" in the stated format {date_format}" if date_format else "")) from None


def check_mapping(headers: list[str], mapping: dict[str, str], kind: str) -> dict[str, str]:
    """Validate a header -> field mapping against the file and the field list."""
    fields = FIELDS[kind]
    clean = {h: f for h, f in mapping.items() if f}
    for header, target in clean.items():
        if header not in headers:
            raise ImportFileError(f"The mapping names column '{header}', which the file does not have")
        if target not in fields:
            raise ImportFileError(f"Column '{header}' is mapped to unknown field '{target}'")
    targets = list(clean.values())
    for t in set(targets):
        if targets.count(t) > 1:
            raise ImportFileError(f"Field '{t}' is mapped from more than one column")
    missing = [f for f in REQUIRED[kind] if f not in targets]
    if kind == "coverages" and not ({"patient_external_id", "patient_mrn"} & set(targets)):
        missing.append("patient_external_id or patient_mrn")
    if missing:
        found = ", ".join(f"'{h}'" for h in headers if h) or "none"
        raise ImportFileError(
            f"No column is mapped to the required field(s): {', '.join(field_label(m) for m in missing)} "
            f"({', '.join(missing)}). The file's columns are: {found}. Map them with a mapping file "
            f"(JSON: column -> field) or on the import screen")
    return clean


# --- reading ----------------------------------------------------------------------------------------


def read_table(data: bytes | BinaryIO, filename: str = "", encoding: str = "utf-8", sheet: str | None = None
               ) -> Table:
    """Open a CSV or XLSX file (bytes or a seekable binary file) as headers and re-iterable rows.
    A workbook's first sheet is read, or the first whose name contains `sheet` (letters and digits
    compared, case ignored) when one does: one workbook can carry two tables.

    The header and the format are checked here; each pass over `rows` streams the file again and
    raises ImportFileError at the first unreadable line (encoding, NUL byte, broken CSV quoting)."""
    source: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data
    source.seek(0)
    head = source.read(8)
    source.seek(0)
    if head.startswith(b"PK\x03\x04"):
        return _read_xlsx(source, sheet)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("Old Excel .xls files are not supported: save the sheet as .xlsx or CSV")
    if filename.lower().endswith(".xlsx"):
        raise ImportFileError("The file is named .xlsx but is not an Excel workbook")
    return _read_csv(source, encoding)


def _text_lines(source: BinaryIO, encoding: str) -> Iterator[str]:
    """The file's lines decoded one at a time, naming the line of the first undecodable byte."""
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        decoder = codecs.getincrementaldecoder(codec)()
    except LookupError:
        raise ImportFileError(f"Unknown text encoding '{encoding}'") from None
    source.seek(0)
    for number, raw in enumerate(source, start=1):
        try:
            line = decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"The file is not valid {encoding} text: byte 0x{raw[exc.start]:02x} on line {number} cannot be "
                f"decoded. Save the file as 'CSV UTF-8' or name its encoding (for example cp1252)"
            ) from None
        if "\x00" in line:
            raise ImportFileError("The file contains NUL bytes: it is not a text CSV file")
        yield line
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _read_csv(source: BinaryIO, encoding: str) -> Table:
    sample = "".join(itertools.islice(_sniff_lines(source, encoding), 200))[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel

    def records() -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(_text_lines(source, encoding), dialect)
        try:
            for record in reader:
                yield reader.line_num, record
        except csv.Error as exc:
            raise ImportFileError(f"The CSV file is malformed near line {reader.line_num}: {exc}") from None

    first = next(records(), None)
    if first is None:
        raise ImportFileError("The file is empty")
    headers = [h.strip() for h in first[1]]
    _check_headers(headers)

    def data_rows() -> Iterator[list[Any]]:
        it = records()
        next(it, None)  # the header
        for _line, r in it:
            if any(c.strip() for c in r):
                yield r

    return Table(headers, Rows(data_rows))


def _sniff_lines(source: BinaryIO, encoding: str) -> Iterator[str]:
    """The first lines for the dialect sniffer; decoding problems surface later, with their line."""
    try:
        yield from _text_lines(source, encoding)
    except ImportFileError as exc:
        if "Unknown text encoding" in exc.detail:
            raise
        return


def _pick_sheet(book: Any, sheet: str | None) -> Any:
    if sheet:
        for ws in book.worksheets:
            if _key(sheet) in _key(ws.title):
                return ws
    return book.worksheets[0]


def _read_xlsx(source: BinaryIO, sheet: str | None = None) -> Table:
    import openpyxl  # imported lazily: only spreadsheet imports need it

    def open_sheet() -> Any:
        source.seek(0)
        try:
            return openpyxl.load_workbook(source, read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many types for a broken archive
            raise ImportFileError(f"The Excel file cannot be opened: {exc}") from None

    wb = open_sheet()
    try:
        it: Iterator[tuple[Any, ...]] = _pick_sheet(wb, sheet).iter_rows(values_only=True)
        try:
            headers = ["" if h is None else str(h).strip() for h in next(it)]
        except StopIteration:
            raise ImportFileError("The first sheet is empty") from None
    finally:
        wb.close()
    _check_headers(headers)

    def data_rows() -> Iterator[list[Any]]:
        book = open_sheet()
        try:
            rows = _pick_sheet(book, sheet).iter_rows(values_only=True)
            next(rows, None)
            for r in rows:
                if any(c not in (None, "") for c in r):
                    yield list(r)
        finally:
            book.close()

    return Table(headers, Rows(data_rows))


def _check_headers(headers: list[str]) -> None:
    if not any(headers):
        raise ImportFileError("The first row must hold column names")
    seen = set()
    for h in headers:
        if h and h in seen:
            raise ImportFileError(f"Column name '{h}' appears twice in the header")
        seen.add(h)


# --- cell checks --------------------------------------------------------------------------------

# A cell a spreadsheet would execute: =, @, tab/CR lead-ins, and + or - followed by anything
# other than a plain number or phone ("+1 (555) 010-2000" and "-5" are data, "+cmd|..." is not).
_SAFE_SIGNED = re.compile(r"^[+-][\d\s().-]*$")


def is_formula(value: str) -> bool:
    if not value:
        return False
    first = value[0]
    if first in "=@\t\r":
        return True
    return first in "+-" and not _SAFE_SIGNED.match(value)


_TRUE = {"y", "yes", "true", "1", "x", "t"}
_FALSE = {"n", "no", "false", "0", "", "f"}


def parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise n.ParseError(f"'{value}' is not yes/no")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 12345 as 12345.0
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value  # dates and datetimes from XLSX


@dataclass
class ParsedRows:
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (row number, values)
    errors: list[RowError] = field(default_factory=list)


def _extract(
    table: Table, mapping: dict[str, str]
) -> Iterator[tuple[int, dict[str, Any], dict[str, str], list[RowError]]]:
    index = {h: i for i, h in enumerate(table.headers)}
    cols = [(index[h], h, f) for h, f in mapping.items()]
    for offset, raw in enumerate(table.rows):
        rownum = offset + 2
        values: dict[str, Any] = {}
        where: dict[str, str] = {}
        errors: list[RowError] = []
        for i, header, fname in cols:
            value = _cell(raw[i]) if i < len(raw) else ""
            if isinstance(value, str) and is_formula(value):
                errors.append(
                    RowError(rownum, header, "cell starts with a formula character (= + - @); formulas are refused")
                )
                value = ""
            values[fname] = value
            where[fname] = header
        yield rownum, values, where, errors


Reporter = Callable[[str, str], None]


def _reporter(rownum: int, where: dict[str, str], errors: list[RowError]) -> Reporter:
    """`bad(field, reason)` for one row: records the problem at the file's column, once per cell."""

    def bad(fname: str, reason: str) -> None:
        column = where.get(fname, fname)
        if not any(e.column == column for e in errors):
            errors.append(RowError(rownum, column, reason))

    return bad


def _bounded_text(v: dict[str, Any], clean: dict[str, Any], bad: Reporter,
                  limits: tuple[tuple[str, int], ...]) -> None:
    """Copy free-text cells into `clean`, reporting each one longer than its column allows."""
    for fname, limit in limits:
        text = str(v.get(fname) or "")
        if len(text) > limit:
            bad(fname, f"longer than {limit} characters")
        clean[fname] = text


# For other domains' imports (care): the same cell reading, formula guard and error reporting.
extract_cells = _extract
row_reporter = _reporter

Checked = tuple[int, dict[str, Any] | None, list[RowError]]
"""(row number, clean values or None when the row has problems, every problem of the row)"""


def _collect(checked: Iterator[Checked]) -> ParsedRows:
    out = ParsedRows()
    for rownum, clean, errors in checked:
        if clean is None:
            out.errors.extend(errors)
        else:
            out.rows.append((rownum, clean))
    return out


def validate_patient_rows(table: Table, mapping: dict[str, str], date_format: str | None = None) -> ParsedRows:
    """Check every row; returns clean values per row and every problem found (not just the first)."""
    return _collect(check_patient_rows(table, mapping, date_format))


def check_patient_rows(table: Table, mapping: dict[str, str], date_format: str | None = None) -> Iterator[Checked]:
    """Check the rows one at a time as the file streams by (bounded memory for any file size)."""
    seen_external: dict[str, int] = {}
    for rownum, v, where, errors in _extract(table, mapping):
        clean: dict[str, Any] = {}

        bad = _reporter(rownum, where, errors)

        for fname in PATIENT_REQUIRED:
            if v.get(fname) in ("", None):
                bad(fname, f"{fname.replace('_', ' ')} is required")
        for fname in ("first_name", "last_name", "middle_name", "preferred_name"):
            s = str(v.get(fname) or "")
            if len(s) > 100:
                bad(fname, "longer than 100 characters")
            clean[fname] = s
        try:
            dob = read_date(v.get("dob"), date_format)
            clean["dob"] = n.parse_dob(dob) if dob not in ("", None) else None
        except n.ParseError as exc:
            bad("dob", str(exc))
        try:
            clean["sex"] = n.parse_sex(str(v.get("sex") or ""))
        except n.ParseError as exc:
            bad("sex", str(exc))
        for fname in ("phone_mobile", "phone_home", "phone_work", "emergency_phone"):
            try:
                clean[fname] = n.parse_phone(str(v.get(fname) or ""))
            except n.ParseError as exc:
                bad(fname, str(exc))
        try:
            clean["email"] = n.parse_email(str(v.get("email") or ""))
        except n.ParseError as exc:
            bad("email", str(exc))
        try:
            clean["ssn"] = n.parse_ssn(str(v.get("ssn") or ""))
        except n.ParseError as exc:
            bad("ssn", str(exc))
        state = str(v.get("state") or "").upper()
        if state and not re.fullmatch(r"[A-Z]{2}", state):
            bad("state", f"'{state}' is not a two-letter state code")
        clean["state"] = state
        postal = str(v.get("postal_code") or "")
        if postal and not re.fullmatch(r"\d{5}(-?\d{4})?", postal):
            bad("postal_code", f"'{postal}' is not a ZIP code")
        clean["postal_code"] = postal
        _bounded_text(v, clean, bad, (("suffix", 20), ("gender_identity", 60), ("address_line1", 200),
                                      ("address_line2", 200), ("city", 100), ("language", 35),
                                      ("emergency_name", 200), ("emergency_relationship", 60)))
        clean["language"] = clean["language"] or "en"
        for fname in ("consent_sms", "consent_email", "consent_voice"):
            try:
                clean[fname] = parse_bool(str(v.get(fname) or ""))
            except n.ParseError as exc:
                bad(fname, str(exc))
        ext = str(v.get("external_id") or "")
        if len(ext) > 80:
            bad("external_id", "longer than 80 characters")
        if ext:
            if ext in seen_external:
                bad("external_id", f"the same id appears on row {seen_external[ext]}")
            else:
                seen_external[ext] = rownum
        clean["external_id"] = ext or None
        mrn = str(v.get("mrn") or "")
        if len(mrn) > 80:
            bad("mrn", "longer than 80 characters")
        clean["mrn"] = mrn or None
        yield rownum, (None if errors else clean), errors


RELATIONSHIPS = {
    "18": "18",
    "SELF": "18",
    "01": "01",
    "1": "01",
    "SPOUSE": "01",
    "19": "19",
    "CHILD": "19",
    "G8": "G8",
    "OTHER": "G8",
}
PRIORITIES = {"1": 1, "PRIMARY": 1, "P": 1, "2": 2, "SECONDARY": 2, "S": 2, "3": 3, "TERTIARY": 3, "T": 3}


def validate_coverage_rows(table: Table, mapping: dict[str, str], date_format: str | None = None) -> ParsedRows:
    """Check coverage rows (payer existence and patient matching happen against the database)."""
    return _collect(check_coverage_rows(table, mapping, date_format))


def check_coverage_rows(table: Table, mapping: dict[str, str], date_format: str | None = None) -> Iterator[Checked]:
    """Check coverage rows one at a time as the file streams by."""
    for rownum, v, where, errors in _extract(table, mapping):
        clean: dict[str, Any] = {}

        bad = _reporter(rownum, where, errors)

        clean["patient_external_id"] = str(v.get("patient_external_id") or "") or None
        clean["patient_mrn"] = str(v.get("patient_mrn") or "") or None
        if not clean["patient_external_id"] and not clean["patient_mrn"]:
            bad(
                "patient_external_id" if "patient_external_id" in where else "patient_mrn",
                "the row names no patient",
            )
        for fname in ("payer_code", "member_id"):
            if not v.get(fname):
                bad(fname, f"{fname.replace('_', ' ')} is required")
        clean["payer_code"] = str(v.get("payer_code") or "").upper()
        _bounded_text(v, clean, bad, (("member_id", 80), ("plan_name", 200), ("group_number", 80),
                                      ("subscriber_first_name", 100), ("subscriber_last_name", 100)))
        rel = str(v.get("relationship") or "18").upper()
        if rel not in RELATIONSHIPS:
            bad("relationship", f"'{rel}' is not a relationship code (18 self, 01 spouse, 19 child, G8 other)")
        clean["relationship"] = RELATIONSHIPS.get(rel, "18")
        prio = str(v.get("priority") or "1").upper()
        if prio not in PRIORITIES:
            bad("priority", f"'{prio}' is not primary/secondary/tertiary (1, 2 or 3)")
        clean["priority"] = PRIORITIES.get(prio, 1)
        for fname in ("subscriber_dob", "effective_from", "effective_to"):
            try:
                value = read_date(v.get(fname), date_format)
                clean[fname] = n.parse_date(value) if value not in ("", None) else None
            except n.ParseError as exc:
                bad(fname, str(exc))
        if (
            clean.get("effective_from")
            and clean.get("effective_to")
            and clean["effective_to"] < clean["effective_from"]
        ):
            bad("effective_to", "the end date is before the start date")
        yield rownum, (None if errors else clean), errors

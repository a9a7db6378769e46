"""Pure parsing and normalisation of patient data (no I/O): names, phones, e-mail, dates, ids.

Shared by the registry, search, duplicate detection, intake and the importer so a value typed
at the desk, filled on a patient's phone or read from a spreadsheet is compared the same way.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from praxis.platform.clock import now

DEFAULT_REGION = "US"

# Letters NFKD does not decompose into a base letter plus a combining mark.
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
    }
)
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")
_APOSTROPHES = re.compile(r"['’`´ʼ]")
_SPACES = re.compile(r"\s+")


class ParseError(ValueError):
    """A value that cannot be understood; the message is shown to the person who typed it."""


def normalise_name(value: str | None) -> str:
    """Unaccented, case-folded, punctuation-free form used for search and duplicate checks.

    "Ó'Brien-Núñez" -> "obrien nunez": apostrophes vanish (O'Brien = OBrien), hyphens become
    spaces so a prefix search for either half of a double-barrelled name can match.
    """
    if not value:
        return ""
    text = unicodedata.normalize("NFKD", value.translate(_FOLD))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _APOSTROPHES.sub("", text)
    text = _NOT_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


_NANP = re.compile(r"^\s*(?:\+?1[\s.-]?)?\(?([2-9]\d{2})\)?[\s.-]?([2-9]\d{2})[\s.-]?(\d{4})\s*$")


@lru_cache(maxsize=8192)
def _nanp_exchange_valid(npa_nxx: str) -> bool:
    # libphonenumber's NANP patterns are decided by area code and exchange; the line digits are
    # free. Checking one number per exchange keeps bulk imports fast without weakening the check.
    return phonenumbers.is_valid_number(phonenumbers.parse("+1" + npa_nxx + "0100", None))


def parse_phone(value: str | None, region: str = DEFAULT_REGION) -> str | None:
    """E.164 form of a phone number, or None when empty; raises ParseError when impossible."""
    if value is None or not str(value).strip():
        return None
    raw = str(value).strip()
    if region == "US":
        m = _NANP.match(raw)
        if m:
            if not _nanp_exchange_valid(m.group(1) + m.group(2)):
                raise ParseError(f"'{raw}' is not a valid phone number")
            return "+1" + m.group(1) + m.group(2) + m.group(3)
    try:
        num = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ParseError(f"'{raw}' is not a phone number") from None
    if not phonenumbers.is_valid_number(num):
        raise ParseError(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None) -> str:
    """Display form: national for US numbers, international otherwise."""
    if not e164:
        return ""
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if num.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(num, fmt)


def parse_email(value: str | None) -> str | None:
    """Normalised e-mail address (syntax only: no DNS lookup at the desk)."""
    if value is None or not str(value).strip():
        return None
    fast = _simple_email(str(value).strip())
    if fast:
        return fast
    try:
        result = validate_email(str(value).strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ParseError(f"'{value}' is not a valid e-mail address: {exc}") from None
    return result.normalized


_SIMPLE_EMAIL = re.compile(
    r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)


def _simple_email(value: str) -> str | None:
    """Plain ASCII addresses (nearly all of them) without email-validator's slower full check.

    Anything unusual (quoted local parts, IDN domains) returns None and gets the full check.
    """
    m = _SIMPLE_EMAIL.match(value)
    if not m or len(m.group(1)) > 64 or len(value) > 254:
        return None
    return f"{m.group(1)}@{m.group(2).lower()}"


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%m-%d-%Y", "%Y/%m/%d")
EARLIEST_DOB = date(1880, 1, 1)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: object) -> date | None:
    """A calendar date from ISO, US (MM/DD/YYYY) or compact form; two-digit years are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = str(value).strip()
    if not raw:
        return None
    if _ISO_DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ParseError(f"'{raw}' is not a real date") from None
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
        # strptime accepts 1- to 4-digit years; "1/2/85" must not silently become year 85.
        if parsed.year < 1000:
            break
        return parsed
    raise ParseError(f"'{raw}' is not a date (use YYYY-MM-DD or MM/DD/YYYY with a four-digit year)")


def parse_dob(value: object, today: date | None = None) -> date | None:
    """A date of birth: a real date, not in the future, not before 1880."""
    parsed = parse_date(value)
    if parsed is None:
        return None
    # The app's clock (UTC), not the server's local date: a DOB of 'today' in UTC is accepted.
    today = today or now().date()
    if parsed > today:
        raise ParseError(f"date of birth {parsed.isoformat()} is in the future")
    if parsed < EARLIEST_DOB:
        raise ParseError(f"date of birth {parsed.isoformat()} is before 1880")
    return parsed


def normalise_member_id(value: str | None) -> str:
    """Member ids are compared without case, spaces or dashes (cards print them variously)."""
    if not value:
        return ""
    return re.sub(r"[\s-]+", "", str(value)).upper()


def parse_ssn(value: str | None) -> str | None:
    """Nine digits (dashes and spaces allowed); returns the bare digits."""
    if value is None or not str(value).strip():
        return None
    digits = re.sub(r"[\s-]", "", str(value))
    if not re.fullmatch(r"\d{9}", digits):
        raise ParseError("SSN must be nine digits")
    if digits[:3] in ("000", "666") or digits[0] == "9" or digits[3:5] == "00" or digits[5:] == "0000":
        raise ParseError("SSN is not a valid number")
    return digits


SEX_CODES = {
    "M": "M",
    "MALE": "M",
    "F": "F",
    "FEMALE": "F",
    "U": "U",
    "UNKNOWN": "U",
    "X": "X",
    "O": "X",
    "OTHER": "X",
}


def parse_sex(value: str | None) -> str:
    """Administrative sex as used on claims: M, F, U (unknown) or X (non-binary/other)."""
    if value is None or not str(value).strip():
        return "U"
    code = SEX_CODES.get(str(value).strip().upper())
    if code is None:
        raise ParseError(f"'{value}' is not a sex code (M, F, X or U)")
    return code


DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}/\d{1,2}/\d{4}$")

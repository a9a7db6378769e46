"""Element values: amounts to integer cents, dates, quantities. Pure and forgiving (None when
the text is not what it should be), so readers can turn a bad value into a defect."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation


def cents(text: str) -> int | None:
    """An X12 decimal amount ("125", "125.5", "-3.25") as integer cents; None if not an amount
    or finer than a cent."""
    if not text:
        return None
    try:
        value = Decimal(text) * 100
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)


def quantity(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def d8(text: str) -> date | None:
    """CCYYMMDD as a date; None when it is not a real date."""
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def date_time(day: str, time: str) -> datetime | None:
    """CCYYMMDD + HHMM[SS[D..]] as a naive datetime (X12 carries no time zone)."""
    parsed = d8(day)
    if parsed is None or len(time) < 4 or not time[:4].isdigit():
        return None
    seconds = int(time[4:6]) if len(time) >= 6 and time[4:6].isdigit() else 0
    try:
        return datetime(parsed.year, parsed.month, parsed.day, int(time[:2]), int(time[2:4]), seconds)
    except ValueError:
        return None

"""Calendar months and 30-day periods in a location's zone (pure: no I/O)."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from praxis.platform.errors import ValidationProblem

# Years 1900-2099: a calendar month a care programme could have billed (and year 0 is no date).
MONTH_PATTERN = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)
RPM_PERIOD_DAYS = 30


def parse_month(value: str, field: str = "month") -> str:
    """Validate `YYYY-MM`; a bad value is a 422 naming the field."""
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ValidationProblem(f"{field} must be YYYY-MM", field=field)
    return value


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(month: str) -> date:
    y, m = int(month[:4]), int(month[5:7])
    return date(y, m, 1)


def last_day(month: str) -> date:
    y, m = int(month[:4]), int(month[5:7])
    return date(y, m, calendar.monthrange(y, m)[1])


def month_end(day: date) -> date:
    """The last day of the calendar month of `day` (disenrolment takes effect then)."""
    return last_day(month_of(day))


def local_date(at: datetime, zone: str) -> date:
    return at.astimezone(ZoneInfo(zone)).date()


def month_bounds_utc(month: str, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of the month in the zone, as UTC instants."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first_day(month), datetime.min.time(), tz)
    end = datetime.combine(last_day(month) + timedelta(days=1), datetime.min.time(), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def days_left(month: str, today: date) -> int:
    """Days remaining in the month counting today (0 once the month is over)."""
    if today > last_day(month):
        return 0
    if today < first_day(month):
        return (last_day(month) - first_day(month)).days + 1
    return (last_day(month) - today).days + 1


def rpm_period(episode_start: date, day: date) -> tuple[date, date]:
    """The 30-day period of an RPM episode that contains `day`: [start, end] inclusive."""
    n = (day - episode_start).days // RPM_PERIOD_DAYS
    start = episode_start + timedelta(days=n * RPM_PERIOD_DAYS)
    return start, start + timedelta(days=RPM_PERIOD_DAYS - 1)


def rpm_periods_ending_in(episode_start: date, month: str) -> list[tuple[date, date]]:
    """The episode's 30-day periods whose last day falls in the month (a period is billed in the
    month it ends, on its last day: 99454/99445 need the whole period's data days)."""
    out: list[tuple[date, date]] = []
    first, last = first_day(month), last_day(month)
    start = episode_start
    while start <= last:
        end = start + timedelta(days=RPM_PERIOD_DAYS - 1)
        if first <= end <= last:
            out.append((start, end))
        start = end + timedelta(days=1)
    return out

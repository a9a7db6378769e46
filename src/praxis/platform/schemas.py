"""Base shapes for input at the edge, shared by every domain's schemas."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from praxis.platform.errors import ValidationProblem


class StrictModel(BaseModel):
    """Input: unknown fields are refused (no mass assignment), strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PatchModel(StrictModel):
    """A PATCH body: a field left out keeps its value; an explicit null is refused unless the field
    is listed in `nullable` (where null means "clear it")."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("cannot be null; leave the field out to keep its current value")
        return value


# --- bounded values -------------------------------------------------------------------------------
# Python's date and datetime end at years 1 and 9999, so "a day later", "the local time in Tokyo" or
# "the week containing" a value near either end raises OverflowError deep inside a service: a 500
# for what is bad input. Every date or instant a client sends is held to a range Praxis can compute
# with (a year of margin either way), and every offset to what a page through a list can reach.

EARLIEST_DAY = date(1800, 1, 1)
LATEST_DAY = date(2199, 12, 31)
MAX_OFFSET = 1_000_000


def check_day(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}")
    return value


def check_instant(value: datetime) -> datetime:
    check_day(value.astimezone(UTC).date() if value.tzinfo else value.date())
    return value


Day = Annotated[date, AfterValidator(check_day)]
"""A calendar date between EARLIEST_DAY and LATEST_DAY (query parameters and bodies)."""
Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]
"""A timezone-aware moment whose UTC date is a Day."""
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
"""How many results to skip when paging."""


def day_in_range(value: date | None, field: str) -> None:
    """The service-side guard for callers that do not come through a schema (screens, the CLI)."""
    if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValidationProblem(
            f"{field} must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}", field=field)

"""The organisation's MRN format: a small declared grammar, not a template language.

An MRN is `prefix` + the sequence number zero-padded to `width` digits + an optional check digit.
Nothing is evaluated: the three parts are validated when the setting is saved, and the longest MRN
the grammar can produce fits the patients.mrn column (see MAX_LENGTH). Pure logic, no I/O.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from praxis.platform.schemas import StrictModel

PREFIX_MAX = 10
WIDTH_MAX = 12
SEQ_DIGITS_MAX = 19  # the counter is at most a signed 64-bit integer
MAX_LENGTH = PREFIX_MAX + max(WIDTH_MAX, SEQ_DIGITS_MAX) + 1
"""The longest MRN any valid format produces (patients.mrn holds 40 characters)."""

CheckDigit = Literal["none", "luhn"]


def luhn_check_digit(digits: str) -> int:
    """The Luhn (mod-10) check digit for a string of digits: catches every single-digit error and
    most transpositions of neighbours, the mistakes people make when reading an MRN aloud."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


class MrnFormat(StrictModel):
    """`{"prefix": "RB-", "width": 8, "check_digit": "luhn"}` numbers patients RB-000000427, ..."""

    prefix: str = Field(default="", max_length=PREFIX_MAX, pattern=r"^[A-Za-z0-9-]*$",
                        description="letters, digits and '-' put before the number")
    width: int = Field(default=8, ge=1, le=WIDTH_MAX, description="the number is zero-padded to this many digits")
    check_digit: CheckDigit = Field(default="none", description="'luhn' appends a mod-10 check digit")

    def format(self, seq: int) -> str:
        if seq < 0:
            raise ValueError("an MRN sequence number cannot be negative")
        number = f"{seq:0{self.width}d}"
        if self.check_digit == "luhn":
            number += str(luhn_check_digit(number))
        return self.prefix + number

    def parse(self, mrn: str) -> int | None:
        """The sequence number of an MRN this format produced, or None for any other value."""
        if not mrn.startswith(self.prefix):
            return None
        number = mrn[len(self.prefix):]
        if self.check_digit == "luhn":
            digits = number.isascii() and number.isdigit()
            if len(number) < 2 or not digits or luhn_check_digit(number[:-1]) != int(number[-1]):
                return None
            number = number[:-1]
        if len(number) < self.width or not (number.isascii() and number.isdigit()):
            return None
        if len(number) > self.width and number[0] == "0":
            return None  # not how this format writes the number
        return int(number)

"""Keyset paging for every list of the API (issue 15 item 4; decision 40).

A page is the rows strictly after the last row of the previous page in the list's total order
(its sort key, then the row id). The cursor carries that position, never an offset: a row inserted
while a client walks the list lands where its key puts it, so it cannot shift earlier rows onto
the next page (an offset would repeat or skip one).

A cursor is opaque to clients: base64url JSON of the position, the list it belongs to and the
organisation, followed by an HMAC of all three under the key ring's secret. A client can neither
forge a position nor carry a cursor to another list or another organisation; anything that does not
verify is `422` naming `cursor`, and changes nothing.

`keyset_page` pages a list already in memory (the bounded lists: an organisation's set-up, one
patient's coverages, a day's appointments); the large lists page in SQL with `after_key`
(patients, the audit log) and use the same cursor.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from praxis.platform import crypto
from praxis.platform.errors import ValidationProblem

T = TypeVar("T")
Key = tuple[Any, ...]

_BAD = "cursor: not a cursor of this list (use the Link rel=\"next\" URL of the previous page as given)"


def _pack(value: Any) -> Any:
    """A key value as JSON, typed so that it decodes to the same Python value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return {"t": value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, float):
        return {"f": repr(value)}
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def _unpack(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    (tag, text), = value.items()
    return {"t": datetime.fromisoformat, "d": date.fromisoformat, "u": uuid.UUID, "n": Decimal,
            "f": float}[tag](text)


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(scope: str, org_id: uuid.UUID | None, key: Key) -> str:
    """The opaque cursor of the position `key` in the list `scope` of organisation `org_id`."""
    payload = json.dumps([_pack(v) for v in key], separators=(",", ":"))
    body = _b64e(payload.encode())
    return body + "." + crypto.keyring().sign(f"cursor\x00{scope}\x00{org_id or ''}\x00{body}")


def decode_cursor(cursor: str, scope: str, org_id: uuid.UUID | None) -> Key:
    """The position a cursor names; `422` (field `cursor`) unless it was issued for this list and
    this organisation and is unaltered."""
    body, dot, signature = cursor.partition(".")
    message = f"cursor\x00{scope}\x00{org_id or ''}\x00{body}"
    if not dot or not cursor.isascii() or not crypto.keyring().verify_signature(message, signature):
        raise ValidationProblem(_BAD, field="cursor")
    try:
        values = json.loads(_b64d(body))
        return tuple(_unpack(v) for v in values)
    except (ValueError, TypeError, KeyError) as exc:  # signed by us yet unreadable: still the client's 422
        raise ValidationProblem(_BAD, field="cursor") from exc


def _aware(value: Any) -> Any:
    # SQLite hands back naive UTC datetimes, PostgreSQL aware ones; compare them as aware UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def sortable(key: Key) -> Key:
    """A key that sorts whatever its values: None first in its column, datetimes as aware UTC."""
    return tuple((v is not None, _aware(v) if v is not None else 0) for v in key)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a client asked for: how many rows, after which position, changed since when."""

    limit: int
    after: Key | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    next_key: Key | None  # the last row's key when more rows follow; None on the last page


def keyset_page(rows: Iterable[T], request: PageRequest, key: Callable[[T], Key],
                updated: Callable[[T], datetime | None] | None = None) -> Page[T]:
    """One page of `rows` in the order of `key` (which must end with a unique value, the id).

    `updated` gives a row's last change; with `request.updated_since` only rows changed at or after
    it are kept (a row with no time is kept: we cannot tell that it did not change)."""
    since = _aware(request.updated_since) if request.updated_since else None
    keyed: list[tuple[Key, T]] = []
    after = sortable(request.after) if request.after is not None else None
    for row in rows:
        if since is not None and updated is not None:
            changed = updated(row)
            if changed is not None and _aware(changed) < since:
                continue
        k = key(row)
        if after is not None and sortable(k) <= after:
            continue
        keyed.append((k, row))
    keyed.sort(key=lambda kr: sortable(kr[0]))
    page = keyed[: request.limit]
    more = len(keyed) > request.limit
    return Page([r for _, r in page], page[-1][0] if more and page else None)


def keyset_after(columns: Sequence[tuple[Any, bool]], after: Key) -> Any:
    """The SQL condition "after this position" for an ORDER BY of `columns` ((column, descending)
    pairs, the id last): `(a > x) OR (a = x AND b > y) OR ...`, each comparison in its column's
    direction. Sort columns must be NOT NULL (NULL compares as unknown)."""
    from sqlalchemy import and_, or_

    if len(after) != len(columns):
        raise ValidationProblem(_BAD, field="cursor")
    ors = []
    for i, (column, desc) in enumerate(columns):
        equal = [c == v for (c, _), v in zip(columns[:i], after[:i], strict=True)]
        ors.append(and_(*equal, column < after[i] if desc else column > after[i]))
    return or_(*ors)


def sql_page(rows: Sequence[T], request: PageRequest, key: Callable[[T], Key]) -> Page[T]:
    """A page from rows a query fetched in key order with `LIMIT limit + 1` after the position."""
    more = len(rows) > request.limit
    page = list(rows[: request.limit])
    return Page(page, key(page[-1]) if more and page else None)

"""Paging for every list route of /api/v1 (decision 40): `limit`, `cursor`, `updated_since` in, a
`Link: <…>; rel="next"` header out. The body stays the JSON array it always was.

Applying it to a list route is one parameter and one call:

    @router.get("/things", response_model=list[ThingOut])
    def list_things(ctx: Context = Depends(permission(...)), page: Pager = PAGED) -> list[ThingOut]:
        return page.of(service.list_things(ctx))             # key (created_at, id), updated_at

`page.of(rows, key=lambda r: (r.name, r.id), updated=lambda r: r.updated_at)` when the defaults
do not fit (a row without `created_at`, a list with its own order); a list paged in SQL reads
`page.request` and hands back `page.sql(rows, key)`. tests/architecture/test_paging.py fails for a
list route of /api/v1 that does not declare `paged()`, and for one whose rows carry no `updated_at`
unless it is named there as computed (`updated=None`: `updated_since` is 422) or write-once
(`updated=created`), decision 48.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import AwareDatetime

from praxis.platform.errors import ValidationProblem
from praxis.platform.paging import Key, Page, PageRequest, decode_cursor, encode_cursor, keyset_page, sql_page
from praxis.web.deps import current_context

T = TypeVar("T")

LINK_DESCRIPTION = ('`<absolute URL>; rel="next"` while more rows follow (the same query with `cursor` '
                    'set); absent on the last page')


def default_key(row: Any) -> Key:
    """(created_at, id) when the row has them: new rows come last, so a walk sees them once."""
    created = getattr(row, "created_at", None)
    ident = getattr(row, "id", None)
    if ident is None:
        raise TypeError(f"{type(row).__name__} has no id: pass key= to page.of")
    return (created, ident) if hasattr(row, "created_at") else (ident,)


def by(*names: str) -> Callable[[Any], Key]:
    """The key of a list in the order of these attributes, then the id (`by("name")`)."""

    def key(row: Any) -> Key:
        return (*(getattr(row, n) for n in names), row.id)

    return key


def default_updated(row: Any) -> datetime | None:
    """A row's last change: `updated_at`. Every stored row a list returns has one (decision 48); a
    route whose rows have none says so: `created` for rows never changed, `None` for computed lists."""
    try:
        value: datetime | None = row.updated_at
    except AttributeError:
        # A programming error, not the client's: answering 422 only when the list happens to be
        # non-empty would make the same request valid or not depending on the data.
        raise TypeError(f"{type(row).__name__} has no updated_at: pass updated= to page.of") from None
    return value


def created(row: Any) -> datetime | None:
    """For rows written once and never changed (audit records, received files): created is updated."""
    value: datetime | None = row.created_at
    return value


@dataclass(slots=True)
class Pager:
    """The page a request asked for, and where the answer's Link header goes."""

    request: PageRequest
    http: Request
    response: Response
    scope: str
    org: Any

    def of(self, rows: Iterable[T], key: Callable[[T], Key] = default_key,
           updated: Callable[[T], datetime | None] | None = default_updated) -> list[T]:
        """One page of a list held in memory (the service's whole answer), Link header set.
        `updated=None`: a computed list, whose rows have no change time (`updated_since` is 422)."""
        if updated is None:
            self.no_time_filter()
        return self._link(keyset_page(rows, self.request, key, updated))

    @property
    def after(self) -> Key | None:
        return self.request.after

    @property
    def limit(self) -> int:
        return self.request.limit

    @property
    def updated_since(self) -> datetime | None:
        return self.request.updated_since

    def sql(self, rows: Sequence[T], key: Callable[[T], Key]) -> list[T]:
        """A page fetched in SQL: key order, after `request.after`, `LIMIT request.limit + 1`."""
        return self._link(sql_page(rows, self.request, key))

    def no_time_filter(self) -> None:
        """For a list whose rows have no change time: refuse `updated_since` rather than ignore it."""
        if self.request.updated_since is not None:
            raise ValidationProblem("updated_since: this list is computed when asked for, its rows have no "
                                    "change time; page through it whole", field="updated_since")

    def keyed(self, rows: list[T], next_key: Key | None) -> list[T]:
        """A page a service cut itself, with the position of its last row when more follow."""
        return self._link(Page(rows, next_key))

    def _link(self, page: Page[T]) -> list[T]:
        if page.next_key is not None:
            token = encode_cursor(self.scope, self.org, page.next_key)
            url = self.http.url.include_query_params(cursor=token)
            self.response.headers["Link"] = f'<{url}>; rel="next"'
        return page.rows


@cache
def paged(default: int = 100, maximum: int = 500) -> Callable[..., Pager]:
    """The paging dependency of a list route (`default` and `maximum` rows a page)."""

    def paging(
        http: Request,
        response: Response,
        # Defaults rather than Annotated: the bound comes from this closure, which a string
        # annotation (this module uses postponed annotations) could not see.
        limit: int = Query(default, ge=1, le=maximum, description="rows a page"),
        cursor: str | None = Query(None, max_length=2000, description=(
            'opaque: the next page, as given in the previous answer\'s `Link: <…>; rel="next"`')),
        updated_since: AwareDatetime | None = Query(None, description=(
            "only rows created or changed at or after this instant (with a UTC offset)")),
    ) -> Pager:
        # The cursor belongs to this list (path, so one patient's list is not another's) and to the
        # caller's organisation: a cursor taken elsewhere is refused, never read.
        ctx = current_context(http)
        org = ctx.org_id if ctx is not None else None
        scope = http.url.path
        after = decode_cursor(cursor, scope, org) if cursor else None
        return Pager(PageRequest(limit, after, updated_since), http, response, scope, org)

    paging.paged = True  # type: ignore[attr-defined]
    return paging


def is_paged(dependant: Any) -> bool:
    """Whether a route's dependency tree includes `paged()` (the architecture test and OpenAPI)."""
    return any(getattr(dep.call, "paged", False) or is_paged(dep) for dep in dependant.dependencies)


# The usual declaration: `page: Pager = PAGED` (100 rows a page by default, at most 500).
PAGED: Any = Depends(paged())

"""Count the SQL statements a block of code runs on the app's engine (N+1 and round-trip tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from praxis.platform.db import get_engine


@contextmanager
def statements() -> Iterator[list[str]]:
    """Yield a list that fills with every statement executed inside the `with` block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)

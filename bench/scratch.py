"""A scratch PostgreSQL database for one benchmark run: created on the server the URL names,
dropped afterwards (with FORCE, after the app's engine lets go of it)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def create(server_url: str, prefix: str = "praxis_bench") -> tuple[str, Callable[[], None]]:
    """A new, empty database beside `server_url`'s; returns its URL and the function that drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(2)}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from praxis.platform.db import get_engine

        get_engine().dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@contextmanager
def database(server_url: str, prefix: str = "praxis_bench") -> Iterator[str]:
    """`create` as a context: the URL inside, the database dropped on the way out."""
    url, drop = create(server_url, prefix)
    try:
        yield url
    finally:
        drop()

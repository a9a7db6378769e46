"""The connection pool pings a connection only after it sat idle, and replaces one the database
dropped meanwhile (a restart or failover) without the caller seeing an error."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from praxis.platform import db


def test_an_idle_connection_killed_by_the_server_is_replaced(database_url: str, is_postgres: bool,
                                                             monkeypatch: Any) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no server to drop connections")
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.2)
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            victim = conn.scalar(text("SELECT pg_backend_pid()"))
        with engine.connect() as conn:  # back within the idle window: same connection, no ping
            assert conn.scalar(text("SELECT pg_backend_pid()")) == victim
        killer = db.make_engine(database_url, pool_size=1, max_overflow=0)
        with killer.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": victim})
        killer.dispose()
        time.sleep(0.3)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != victim
    finally:
        engine.dispose()


def test_only_a_connection_idle_past_the_window_is_pinged(database_url: str, is_postgres: bool,
                                                          monkeypatch: Any) -> None:
    if not is_postgres:
        pytest.skip("the SQLite engine has no pool pings")
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.2)
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    pings: list[int] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real(c))
    try:
        for _ in range(3):  # reused at once: no round trip spent on pinging
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        assert pings == []
        time.sleep(0.3)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert pings == [1]
    finally:
        engine.dispose()

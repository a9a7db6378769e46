"""Alembic environment: uses the app's engine and the metadata of every domain."""

from __future__ import annotations

from alembic import context

from praxis.platform.db import Base, get_engine
from praxis.wiring import import_all

import_all()
target_metadata = Base.metadata


def run() -> None:
    with get_engine().connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
